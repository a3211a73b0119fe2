"""`python -m bench dashboard` (issue #13): what the live stream costs the server per connected dashboard, and how
long a change takes from the wire to a row of the dashboard in a real browser, with 1,000 chargers heartbeating
and 100 charging. Printed and recorded (bench/report.py append_section)."""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx

from bench.csms_control import lean_csms
from bench.fleet_scenarios import identities, settle
from bench.gateway_api import GatewayApi, GatewayLog, expect, gateway
from bench.procs import Child, raise_fd_limit, wait_for
from bench.report import append_section, load_average, machine, print_run, source_stamp, table
from bench.results import Figure, ratio_of
from tests.support import token

FLEET = int(os.environ.get("BENCH_DASH_FLEET", "1000"))
CHARGING = int(os.environ.get("BENCH_DASH_CHARGING", "100"))
CLIENTS = int(os.environ.get("BENCH_DASH_CLIENTS", "5"))
WINDOW_SECONDS = float(os.environ.get("BENCH_DASH_SECONDS", "30"))
SAMPLES = int(os.environ.get("BENCH_DASH_SAMPLES", "30"))
HEARTBEAT = 10  # s: 100 heartbeats/s on the wire at 1,000 chargers
CHANGES_PER_SECOND = 2.0  # plug/unplug during both CPU windows: the streams have something to send
CHROMIUM = "/usr/bin/chromium"
METHOD = (
    "Method: one lean CSMS (`bench/lean_csms.py`, HeartbeatInterval 10 s) and one `ocpplab-gateway serve` on a "
    "temp data dir with {fleet:,} Wallbox Pulsar Plus chargers (OCPP 1.6) in one location, {charging} of them "
    "charging (`start-session` fan-out). CPU (utime + stime from /proc) of the gateway over three windows of "
    "{window:g} s with the same load, plug/unplug on chargers 100-199 at {rate:g} changes/s (each a "
    "StatusNotification, a ConnectorStatusChanged event and a chargers update on every stream): with no "
    "stream open, with {clients} `GET /stream` clients (httpx, reading every message) that have received their "
    "snapshot, and with none again; the baseline is the mean of the two windows without. Figure: "
    "(CPU with - CPU without) / {clients}, in ms of CPU per second. Then Debian's "
    "chromium (playwright) opens `/ui/` on the fleet (page 1 shows chargers 0-99); a MutationObserver records when "
    "each row shows a new `data-status`; {samples} times, plug then unplug a charger of page 1 over REST, and take "
    "the time from the StatusNotification frame's timestamp in the gateway's log (when it crossed the wire) to the "
    "row's update (same machine clock): p50 and p95 of the {samples2} samples. Also: a stream's snapshot, open to "
    "`ready`, of the whole fleet."
)


@dataclass
class Reader:
    """One `GET /stream` client in a thread: when it got `ready`, how many messages and bytes came."""

    base_url: str
    opened: float = 0.0
    ready_after: float | None = None
    messages: int = 0
    bytes: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {token('bench')}"}
        self.opened = time.monotonic()
        with (
            httpx.Client(base_url=self.base_url, headers=headers, timeout=None, trust_env=False) as http,
            http.stream("GET", "/stream") as response,
        ):
            for line in response.iter_lines():
                self.bytes += len(line) + 1
                if line.startswith("event: "):
                    self.messages += 1
                    if line == "event: ready" and self.ready_after is None:
                        self.ready_after = time.monotonic() - self.opened
                if self.stop.is_set():
                    return


@dataclass
class Result:
    cpu_without: float  # ms of CPU per second
    cpu_with: float
    snapshot_seconds: float
    latencies_ms: list[float]
    messages: int


def changes(api: GatewayApi, names: list[str], stop: threading.Event) -> None:
    """Plug / unplug in turn over `names`, CHANGES_PER_SECOND, until `stop`."""
    index = 0
    while not stop.wait(1 / CHANGES_PER_SECOND):
        name = names[(index // 2) % len(names)]
        action = "plug-connector" if index % 2 == 0 else "unplug-connector"
        api.client.post(f"/chargers/{name}/{action}", json={"connector_id": 1})
        index += 1


def cpu_window(process: Child, seconds: float) -> float:
    before, started = process.cpu_seconds(), time.monotonic()
    time.sleep(seconds)
    return (process.cpu_seconds() - before) * 1000 / (time.monotonic() - started)


def last_status_frame_at(api: GatewayApi, name: str) -> float:
    """When the charger's last StatusNotification crossed the wire (epoch seconds)."""
    params = {"action": "StatusNotification", "limit": 1}
    total = expect(api.client.get(f"/chargers/{name}/logs", params=params), 200)["total"]
    entry = expect(api.client.get(f"/chargers/{name}/logs", params={**params, "offset": total - 1}), 200)["data"][0]
    return datetime.fromisoformat(entry["timestamp"].replace("Z", "+00:00")).timestamp()


OBSERVER = """() => {
  window.rowUpdates = [];
  const record = (row) => window.rowUpdates.push([row.dataset.identity, row.dataset.status, Date.now()]);
  new MutationObserver((mutations) => {
    for (const m of mutations) {
      if (m.type === "attributes") record(m.target);
      for (const node of m.addedNodes) if (node.dataset && node.dataset.identity) record(node);
    }
  }).observe(document.getElementById("charger-rows"),
             {subtree: true, childList: true, attributes: true, attributeFilter: ["data-status"]});
}"""


def browser_latencies(base_url: str, api: GatewayApi, names: list[str]) -> list[float]:
    from playwright.sync_api import sync_playwright

    latencies: list[float] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.goto(f"{base_url}/ui/#token={token('bench')}")
            page.wait_for_selector(f'[data-testid="charger-row"][data-identity="{names[0]}"]', timeout=60_000)
            page.evaluate(OBSERVER)
            for name in names:
                for action, status in (("plug-connector", "Preparing"), ("unplug-connector", "Available")):
                    expect(api.client.post(f"/chargers/{name}/{action}", json={"connector_id": 1}), 200)
                    selector = f'[data-testid="charger-row"][data-identity="{name}"][data-status="{status}"]'
                    page.wait_for_selector(selector, timeout=30_000)
                    shown = page.evaluate(
                        "([n, s]) => window.rowUpdates.filter(u => u[0] === n && u[1] === s).map(u => u[2])",
                        [name, status],
                    )
                    sent = wait_for(lambda n=name: last_status_frame_at(api, n), 10, "the status frame's log entry")
                    latencies.append(max(shown) - sent * 1000)
        finally:
            browser.close()
    return latencies


def run(csms_url: str, process: Child, base_url: str, watch: list[Child]) -> Result:
    names = identities("DB", 0, FLEET)
    with GatewayApi(base_url) as api:
        location = api.create_location("Dashboard bench")
        api.create_chargers(location, names, csms_url)
        wait_for(lambda: api.runtime_statuses().get("booted") == FLEET, 120, "every charger booted", watch=watch)
        api.start_sessions(location, "BENCH-DASH", names[-CHARGING:])
        settle(process, watch)
        stop_changes = threading.Event()
        changer = threading.Thread(target=changes, args=(api, names[100:200], stop_changes), daemon=True)
        changer.start()
        try:
            time.sleep(2)
            without = cpu_window(process, WINDOW_SECONDS)
            readers = [Reader(base_url) for _ in range(CLIENTS)]
            threads = [threading.Thread(target=r.run, daemon=True) for r in readers]
            for thread in threads:
                thread.start()
            wait_for(lambda: all(r.ready_after is not None for r in readers), 60, "every stream's snapshot")
            time.sleep(2)
            counted = sum(r.messages for r in readers)
            with_clients = cpu_window(process, WINDOW_SECONDS)
            messages = sum(r.messages for r in readers) - counted
            for reader in readers:
                reader.stop.set()
            for thread in threads:
                thread.join(10)
            time.sleep(2)
            without = (without + cpu_window(process, WINDOW_SECONDS)) / 2  # before and after: drift cancels out
        finally:
            stop_changes.set()
            changer.join()
        snapshot = statistics.median(r.ready_after or 0.0 for r in readers)
        latencies = browser_latencies(base_url, api, names[:SAMPLES])
    return Result(without, with_clients, snapshot, latencies, messages)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> int:
    started = time.monotonic()
    raise_fd_limit()
    load_at_start, code_at_start = load_average(), source_stamp()
    print(f"Dashboard benchmark: {machine()}; load {load_at_start}", file=sys.stderr, flush=True)
    with (
        lean_csms(HEARTBEAT) as csms,
        tempfile.TemporaryDirectory(prefix="bench-dashboard-") as tmp,
        gateway(Path(tmp) / "data", log=GatewayLog()) as (process, base_url),
    ):
        result = run(csms.ws_url, process, base_url, [process, csms.process])
    per_client = (result.cpu_with - result.cpu_without) / CLIENTS
    p50, p95 = percentile(result.latencies_ms, 0.5), percentile(result.latencies_ms, 0.95)
    rows = [
        ["gateway CPU, no stream open", f"{result.cpu_without:.1f} ms/s", "", ""],
        [f"gateway CPU, {CLIENTS} streams open", f"{result.cpu_with:.1f} ms/s", "", ""],
        ["CPU added per connected dashboard", f"{per_client:.2f} ms/s", f"{result.messages:,} messages", ""],
        ["stream snapshot of the fleet: open to ready (median)", f"{result.snapshot_seconds * 1000:.0f} ms", "", ""],
        ["wire to row (browser): p50", f"{p50:.0f} ms", f"{len(result.latencies_ms)} samples", ""],
        ["wire to row (browser): p95", f"{p95:.0f} ms", "", ""],
    ]
    text = table(["figure", "value", "", ""], rows)
    remarks = print_run([text], [f"load average at start {load_at_start}, at end {load_average()}"], code_at_start)
    method = METHOD.format(
        fleet=FLEET,
        charging=CHARGING,
        window=WINDOW_SECONDS,
        rate=CHANGES_PER_SECOND,
        clients=CLIENTS,
        samples=SAMPLES,
        samples2=2 * SAMPLES,
    )
    figures = [
        Figure(
            f"CPU added per connected dashboard ({FLEET:,} chargers, {CHARGING} charging)",
            round(per_client, 2),
            "ms/s",
            baseline=round(result.cpu_without, 1),
            ratio=ratio_of(per_client, result.cpu_without),
        ),
        Figure("stream snapshot of the fleet: open to ready", round(result.snapshot_seconds * 1000), "ms"),
        Figure("wire to dashboard row: p50", round(p50), "ms"),
        Figure("wire to dashboard row: p95", round(p95), "ms"),
    ]
    append_section(
        "Dashboard",
        [f"Machine: {machine()}.", "", method, "", text, "", "Notes:", "", *(f"- {line}" for line in remarks)],
        "dashboard",
        figures,
    )
    print(f"dashboard benchmark done in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return 0
