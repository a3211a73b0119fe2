"""`python -m bench commands`: command latency, REST request to the charge point's first frame at the CSMS, against
the two budgets of the design document, each beside baselines measured in the same run; printed as tables and
recorded (bench/report.py append_section).

1. single-charger commands: FLEET chargers (OCPP 1.6) connected and booted in one `serve` process; SINGLE commands
   on distinct chargers, each timed from the moment its request is written to the socket to the arrival of that
   charger's first resulting CALL at the CSMS (StatusNotification for plug-connector, Authorize for
   authorize-id-tag). Two phases: one request at a time, paced (a new one every PACE seconds, or as soon as the
   previous answer came back if that took longer), then CONCURRENCY workers sending back to back.
2. location fan-out: POST /locations/{id}/chargers/authorize-id-tag on a location of FANOUT chargers, timed to the
   last of their Authorize frames at the CSMS; ROUNDS rounds, then one plug-connector round (diagnostic).

The CSMS is bench/timing_csms.py (the lean CSMS noting every CALL's arrival time per identity). Baselines, same run,
same client and pacing: GET / of a trivial Quart app (bench/trivial_app.py, its own process), GET /health on the
gateway with the fleet connected, and a plain websockets client's frame (write to arrival at the same CSMS).
A breakdown of each single-charger command comes from its events in the store (Requested and Sent timestamps).

Environment: BENCH_COMMAND_FLEET (1000), BENCH_COMMAND_FANOUT (500), BENCH_COMMAND_SINGLE (300),
BENCH_CPROFILE=FILE runs `serve` under cProfile (its event loop thread), written to FILE when it stops,
BENCH_SERVE_PROBE=1 runs it under bench/serve_probe.py (slow garbage collections and event-loop stalls with the
stack seen, listed in the notes; =freeze also has it run gc.freeze() once the fleet is up, an experiment),
BENCH_NO_REPORT=1 prints only.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from bench import budgets
from bench.csms_control import Csms, lean_csms
from bench.fleet_scenarios import settle
from bench.gateway_api import GatewayApi, GatewayLog, expect, gateway_env
from bench.procs import Child, child, machine_busy, raise_fd_limit, wait_for
from bench.report import append_section, load_average, machine, ratio, source_note, source_stamp, table, verdict
from bench.rest import Connection
from bench.results import Figure, ratio_of
from tests.support import free_port, token

HOST = "127.0.0.1"
FLEET = int(os.environ.get("BENCH_COMMAND_FLEET", "1000"))
FANOUT = int(os.environ.get("BENCH_COMMAND_FANOUT", "500"))
SINGLE = int(os.environ.get("BENCH_COMMAND_SINGLE", "300"))
PROFILE = os.environ.get("BENCH_CPROFILE")
PROBE = os.environ.get("BENCH_SERVE_PROBE", "")  # "1": observe; "freeze": also gc.freeze() once the fleet is up
CONCURRENCY = 4
ROUNDS = 3
PACE = 0.05  # seconds between paced requests
INTERVAL = 60  # heartbeat interval the CSMS gives at boot
P50_BUDGET_MS, P99_BUDGET_MS = budgets.COMMAND_P50.limit, budgets.COMMAND_P99.limit
FANOUT_BUDGET_S = budgets.FANOUT.limit
FANOUT_WAIT = 30.0  # seconds a fan-out round waits for its frames
ARRIVAL_WAIT = 15.0
BOOT_TIMEOUT = 180.0
ID_TAG = "BENCHTAG01"
SINGLE_GROUP, FANOUT_GROUP, BARE_GROUP = "CS", "CF", "CB"  # identity prefixes = CSMS groups
METHOD = (
    "Method: `ocpplab-gateway serve` on a temp SQLite data dir runs {fleet:,} OCPP 1.6 chargers (Wallbox Pulsar "
    "Plus, one connector, created through `POST /locations/{{id}}/chargers/create-chargers`; {single_n:,} in one "
    "location, {fanout:,} in another) against `bench/timing_csms.py` (the lean CSMS, which also notes the arrival "
    "time of every CALL per identity, taken as `websockets` hands the frame over; heartbeat interval {interval} s). "
    "Once every charger is booted and has reported its statuses and the gateway is quiet, commands go out over a raw "
    "asyncio HTTP/1.1 client on one keep-alive connection per worker (`bench.rest.Connection`). A single-charger "
    "command's latency runs from writing its request to the socket to the arrival at the CSMS of that charger's "
    "first CALL after it (StatusNotification Preparing for plug-connector, Authorize for authorize-id-tag); each "
    "command addresses a different charger. Paced: one request at a time, a new one every {pace:g} ms (or as soon "
    "as the previous answer arrived when it took longer). Concurrent: {concurrency} workers back to back. Fan-out: "
    "`POST /locations/{{id}}/chargers/authorize-id-tag` on the {fanout:,}-charger location, from writing the "
    "request to the last of the {fanout:,} Authorize frames at the CSMS, {rounds} rounds, then one plug-connector "
    "round. Baselines, same run, same client and pacing: `GET /` of a trivial Quart app served by hypercorn in its "
    "own process (bench/trivial_app.py), `GET /health` of the gateway with the fleet connected, and a plain "
    "`websockets` client in the benchmark process (one connection per identity, like the chargers) writing a "
    "StatusNotification CALL, timed to its arrival at the same CSMS. Clocks: `time.time()` in every process on one "
    "machine."
)


@dataclass
class Sample:
    """One timed request (seconds, time.time())."""

    identity: str
    sent: float
    answered: float = 0.0
    status: int = 0
    command_id: str | None = None
    arrived: float | None = None  # its charger's first CALL at the CSMS (commands, bare frames)
    action: str | None = None

    @property
    def http_ms(self) -> float:
        return (self.answered - self.sent) * 1000

    @property
    def frame_ms(self) -> float | None:
        return None if self.arrived is None else (self.arrived - self.sent) * 1000


@dataclass
class Phase:
    name: str
    server: str  # whose CPU server_cpu is
    samples: list[Sample] = field(default_factory=list)
    seconds: float = 0.0
    server_cpu: float = 0.0
    machine_busy: float = 0.0
    errors: list[str] = field(default_factory=list)

    def http(self) -> list[float]:
        return [s.http_ms for s in self.samples if 200 <= s.status < 300]

    def frames(self) -> list[float]:
        return [ms for s in self.samples if (ms := s.frame_ms) is not None]

    @property
    def missing_frames(self) -> int:
        return sum(1 for s in self.samples if s.arrived is None)


@dataclass
class Round:
    name: str
    targeted: int
    queued: int
    http_s: float
    arrivals: list[float]  # seconds from the request to each charger's first frame, sorted
    server_cpu: float = 0.0

    @property
    def last_s(self) -> float | None:
        return self.arrivals[-1] if len(self.arrivals) == self.targeted and self.arrivals else None


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(p / 100 * len(ordered))))
    return ordered[rank - 1]


def fmt_ms(value: float) -> str:
    return "-" if value != value else f"{value:.1f}"  # NaN


# -- processes ----------------------------------------------------------------------------------------


def timing_csms() -> AbstractContextManager[Csms]:
    return lean_csms(INTERVAL, "bench.timing_csms", "timing CSMS")


def arrivals(csms: Csms, group: str, since: float) -> dict[str, tuple[float, str]]:
    answer = csms.http.get("/_arrivals", params={"group": group, "since": repr(since)})
    answer.raise_for_status()
    return {identity: (float(found[0]), str(found[1])) for identity, found in answer.json().items()}


@contextmanager
def serve(data_dir: Path, log: GatewayLog, probe: list[str]) -> Iterator[tuple[Child, str, int]]:
    """`ocpplab-gateway serve` (under cProfile with BENCH_CPROFILE, under bench/serve_probe.py with
    BENCH_SERVE_PROBE=1: its reports go to `probe`); yields it once /health answers."""
    port = free_port()
    cli = ["-m", "bench.serve_probe" if PROBE else "adapters.cli", "serve", "--host", HOST, "--port", str(port)]
    prefix = ["-m", "cProfile", "-o", str(Path(PROFILE).resolve())] if PROFILE else []
    base_url = f"http://{HOST}:{port}"

    def on_exit(text: str) -> None:
        log.read(text)
        probe.extend(line.removeprefix("PROBE ") for line in text.splitlines() if line.startswith("PROBE "))

    with child("gateway serve", [sys.executable, *prefix, *cli], gateway_env(data_dir), on_exit=on_exit) as process:

        def healthy() -> bool:
            try:
                return httpx.get(f"{base_url}/health", timeout=0.5, trust_env=False).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(healthy, 60, "the gateway's /health", interval=0.05, watch=[process])
        yield process, base_url, port


@contextmanager
def trivial_app() -> Iterator[tuple[Child, int]]:
    port = free_port()
    with child("trivial Quart app", [sys.executable, "-m", "bench.trivial_app", str(port)]) as process:

        def up() -> bool:
            try:
                return httpx.get(f"http://{HOST}:{port}/", timeout=0.5, trust_env=False).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, 20, "the trivial Quart app", interval=0.05, watch=[process])
        yield process, port


# -- the HTTP client ----------------------------------------------------------------------------------


def request_bytes(port: int, method: str, path: str, body: dict[str, Any] | None, auth: bool = True) -> bytes:
    payload = json.dumps(body, separators=(",", ":")).encode() if body is not None else b""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{port}"]
    if auth:
        lines.append(f"Authorization: Bearer {token('bench')}")
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
    return "\r\n".join([*lines, "", ""]).encode("latin-1") + payload


async def timed(connection: Connection, request: bytes, sample: Sample) -> bytes:
    sample.sent = time.time()
    status, body = await asyncio.wait_for(connection.exchange(request), 30)
    sample.answered, sample.status = time.time(), status
    return body


async def run_requests(
    port: int, jobs: list[tuple[str, bytes]], pace: float | None, workers: int = 1
) -> tuple[list[Sample], list[str]]:
    """Sends each (identity, request): paced one at a time, or `workers` back to back; returns the samples."""
    samples: list[Sample] = []
    errors: list[str] = []
    queue = list(reversed(jobs))
    connections = [Connection(port) for _ in range(workers)]
    for connection in connections:  # connect outside the measured requests
        connection.reader, connection.writer = await asyncio.open_connection(HOST, port)
    started = time.perf_counter()

    async def worker(connection: Connection) -> None:
        index = 0
        while queue:
            identity, request = queue.pop()
            if pace is not None:
                await asyncio.sleep(max(0.0, started + index * pace - time.perf_counter()))
                index += 1
            sample = Sample(identity, 0.0)
            try:
                body = await timed(connection, request, sample)
            except (OSError, EOFError, ValueError, TimeoutError) as error:
                errors.append(f"{identity}: {type(error).__name__} {error}")
                await connection.close()
                continue
            if 200 <= sample.status < 300:
                with_id = json.loads(body) if body else {}
                sample.command_id = with_id.get("id") if isinstance(with_id, dict) else None
            else:
                errors.append(f"{identity}: HTTP {sample.status} {body[:200].decode(errors='replace')}")
            samples.append(sample)

    try:
        await asyncio.gather(*(worker(connection) for connection in connections))
    finally:
        await asyncio.gather(*(connection.close() for connection in connections))
    return samples, errors


def measured(name: str, server: Child, work: Any) -> Phase:
    """Runs the coroutine `work` (returning samples and errors), with the server's and the machine's CPU."""
    cpu = server.cpu_seconds()
    busy, total = machine_busy()
    started = time.monotonic()
    samples, errors = asyncio.run(work)
    phase = Phase(name, server.name, samples, time.monotonic() - started, errors=errors)
    phase.server_cpu = server.cpu_seconds() - cpu
    busy_now, total_now = machine_busy()
    phase.machine_busy = (busy_now - busy) / max(1e-9, total_now - total)
    return phase


def attach_arrivals(csms: Csms, group: str, phase: Phase) -> None:
    """Each sample's charger's first noted CALL after its request (waits until all arrived, boundedly)."""
    since = min((s.sent for s in phase.samples), default=0.0)
    wanted = {s.identity for s in phase.samples if 200 <= s.status < 300}
    found: dict[str, tuple[float, str]] = {}
    deadline = time.monotonic() + ARRIVAL_WAIT
    while time.monotonic() < deadline:
        found = arrivals(csms, group, since)
        if wanted <= found.keys():
            break
        time.sleep(0.2)
    for sample in phase.samples:
        hit = found.get(sample.identity)
        if hit is not None and hit[0] >= sample.sent:
            sample.arrived, sample.action = hit
    missing = phase.missing_frames
    if missing:
        phase.errors.append(f"{missing} command(s) without a frame at the CSMS within {ARRIVAL_WAIT:g} s")


# -- baselines ----------------------------------------------------------------------------------------


async def bare_frames(url: str, n: int, pace: float) -> tuple[list[Sample], list[str]]:
    """n plain websockets connections (identities CB-...), each booted, then one StatusNotification CALL each,
    paced: the sample runs from the write to the arrival at the CSMS."""
    identities = [f"{BARE_GROUP}-{index:06d}" for index in range(n)]
    sockets = []
    boot = {"chargePointVendor": "Bench", "chargePointModel": "Bare"}
    status = {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
    try:
        for identity in identities:
            websocket = await connect(
                f"{url}/{identity}",
                subprotocols=[Subprotocol("ocpp1.6")],
                compression=None,
                ping_interval=None,
                close_timeout=2,
                proxy=None,
            )
            sockets.append(websocket)
            await websocket.send(json.dumps([2, "b", "BootNotification", boot]))
            await asyncio.wait_for(websocket.recv(), 10)
        samples = []
        started = time.perf_counter()
        for index, (identity, websocket) in enumerate(zip(identities, sockets, strict=True)):
            await asyncio.sleep(max(0.0, started + index * pace - time.perf_counter()))
            frame = json.dumps([2, "s", "StatusNotification", status])
            sample = Sample(identity, time.time())
            await websocket.send(frame)
            await asyncio.wait_for(websocket.recv(), 10)
            sample.answered, sample.status = time.time(), 200
            samples.append(sample)
        return samples, []
    finally:
        await asyncio.gather(*(websocket.close() for websocket in sockets), return_exceptions=True)


# -- the fleet ----------------------------------------------------------------------------------------


def charger_ids(api: GatewayApi, location_id: str) -> dict[str, str]:
    """identity -> charger id for the location's chargers."""
    found: dict[str, str] = {}
    page = 1
    while True:
        params = {"location_id": location_id, "limit": 100, "page": page}
        answer = expect(api.client.get("/chargers", params=params), 200)
        found.update({row["identity"]: row["id"] for row in answer["data"]})
        if not answer["data"] or len(found) >= answer["total"]:
            return found
        page += 1


def wait_fleet(csms: Csms, process: Child, groups: dict[str, int]) -> None:
    """Every charger booted and its two statuses (connectors 0 and 1) reported at the CSMS."""
    for group, n in groups.items():
        csms.wait(group, "booted", n, BOOT_TIMEOUT, [process])
        csms.wait(group, "statuses", 2 * n, BOOT_TIMEOUT, [process])


def fanout_round(
    csms: Csms, process: Child, api: GatewayApi, location_id: str, name: str, path: str, body: dict[str, Any], n: int
) -> Round:
    """One location command; waits for each targeted charger's first frame after it at the CSMS."""
    cpu = process.cpu_seconds()
    sent = time.time()
    answer = expect(api.client.post(f"/locations/{location_id}/chargers/{path}", json=body), 200)
    http_s = time.time() - sent
    found: dict[str, tuple[float, str]] = {}
    deadline = time.monotonic() + FANOUT_WAIT
    while time.monotonic() < deadline:
        found = arrivals(csms, FANOUT_GROUP, sent)
        if len(found) >= n:
            break
        time.sleep(0.1)
    times = sorted(arrived - sent for arrived, _ in found.values())
    return Round(name, answer["targeted_count"], answer["queued_count"], http_s, times, process.cpu_seconds() - cpu)


# -- the store: where a command's time went ---------------------------------------------------------


def event_times(data_dir: Path, topic_suffix: str) -> dict[str, float]:
    """originator id (hex, no dashes) -> the event's timestamp (time.time() seconds), for Command.<suffix>."""
    connection = sqlite3.connect(f"file:{data_dir / 'events.sqlite'}?mode=ro", uri=True)
    try:
        query = "SELECT originator_id, state FROM stored_events WHERE topic = ?"
        rows = connection.execute(query, (f"domain.command:Command.{topic_suffix}",)).fetchall()
    finally:
        connection.close()
    found: dict[str, float] = {}
    for originator, state in rows:
        stamp = json.loads(state).get("timestamp")
        if isinstance(stamp, dict):
            stamp = stamp.get("_data_")
        if isinstance(stamp, str):
            key = originator.hex() if isinstance(originator, bytes) else str(originator).replace("-", "")
            found[key] = datetime.fromisoformat(stamp).timestamp()
    return found


@dataclass
class Breakdown:
    to_requested: list[float]  # request written -> Command.Requested created in the handler
    to_sent: list[float]  # Requested -> the charge point starts the command (Command.Sent)
    to_frame: list[float]  # Sent -> the frame at the CSMS
    to_answer: list[float]  # request written -> HTTP answer read
    frame_after_answer: int  # commands whose frame arrived after the HTTP answer


def breakdown(data_dir: Path, phase: Phase) -> Breakdown | None:
    try:
        requested, sent = event_times(data_dir, "Requested"), event_times(data_dir, "Sent")
    except (sqlite3.Error, ValueError) as error:
        print(f"no breakdown: {error}", file=sys.stderr)
        return None
    result = Breakdown([], [], [], [], 0)
    for sample in phase.samples:
        key = (sample.command_id or "").replace("-", "")
        if sample.arrived is None or key not in requested or key not in sent:
            continue
        result.to_requested.append((requested[key] - sample.sent) * 1000)
        result.to_sent.append((sent[key] - requested[key]) * 1000)
        result.to_frame.append((sample.arrived - sent[key]) * 1000)
        result.to_answer.append(sample.http_ms)
        result.frame_after_answer += sample.arrived > sample.answered
    return result if result.to_sent else None


# -- report ---------------------------------------------------------------------------------------------


def latency_row(what: str, values: list[float], baseline_p50: float, budget: str, ok: bool | None) -> list[str]:
    p50 = percentile(values, 50)
    return [
        what,
        f"{len(values):,}",
        fmt_ms(p50),
        fmt_ms(percentile(values, 95)),
        fmt_ms(percentile(values, 99)),
        fmt_ms(max(values) if values else float("nan")),
        ratio(p50, baseline_p50) if values and baseline_p50 == baseline_p50 else "-",
        budget,
        verdict(ok),
    ]


def within(values: list[float], missing: int) -> bool | None:
    if not values:
        return None
    return missing == 0 and percentile(values, 50) <= P50_BUDGET_MS and percentile(values, 99) <= P99_BUDGET_MS


def single_table(trivial: Phase, health: Phase, bare: Phase, paced: Phase, burst: Phase) -> str:
    base = percentile(trivial.http(), 50)
    budget = f"p50 <= {P50_BUDGET_MS:g}, p99 <= {P99_BUDGET_MS:g}"
    rows = [
        latency_row("baseline: GET / trivial Quart route, HTTP round trip (paced)", trivial.http(), base, "-", None),
        latency_row(
            f"baseline: GET /health on the gateway, {FLEET:,} chargers connected, HTTP round trip (paced)",
            health.http(),
            base,
            "-",
            None,
        ),
        latency_row(
            "baseline: bare websockets client, CALL written -> at the CSMS (paced)", bare.frames(), base, "-", None
        ),
        latency_row(
            "POST /chargers/{id}/plug-connector (paced): request -> StatusNotification at the CSMS",
            paced.frames(),
            base,
            budget,
            within(paced.frames(), paced.missing_frames),
        ),
        latency_row("  same, HTTP answer (request -> 2xx read)", paced.http(), base, "-", None),
        latency_row(
            f"POST /chargers/{{id}}/authorize-id-tag ({CONCURRENCY} concurrent): request -> Authorize at the CSMS",
            burst.frames(),
            base,
            budget,
            within(burst.frames(), burst.missing_frames),
        ),
        latency_row("  same, HTTP answer (request -> 2xx read)", burst.http(), base, "-", None),
    ]
    return table(["scenario (ms)", "n", "p50", "p95", "p99", "max", "p50 vs trivial route", "budget", "result"], rows)


def fanout_table(rounds: list[Round]) -> str:
    rows = []
    for item in rounds:
        last = item.last_s
        ok = last is not None and last <= FANOUT_BUDGET_S
        rows.append(
            [
                item.name,
                f"{item.targeted:,}",
                f"{item.queued:,}",
                f"{len(item.arrivals):,}",
                f"{item.http_s:.3f}",
                f"{item.arrivals[0]:.3f}" if item.arrivals else "-",
                f"{statistics.median(item.arrivals):.3f}" if item.arrivals else "-",
                f"{last:.3f}" if last is not None else f"> {FANOUT_WAIT:g} (missing)",
                f"{item.server_cpu:.2f}",
                f"<= {FANOUT_BUDGET_S:g}",
                verdict(ok),
            ]
        )
    measured_rounds = [r for r in rounds if r.name.startswith("authorize")]
    lasts = [r.last_s if r.last_s is not None else float("inf") for r in measured_rounds]
    if lasts:
        median_last = statistics.median(lasts)
        rows.append(
            [
                f"median of the {len(measured_rounds)} authorize-id-tag rounds",
                "",
                "",
                "",
                f"{statistics.median(r.http_s for r in measured_rounds):.3f}",
                "",
                "",
                f"{median_last:.3f}",
                "",
                f"<= {FANOUT_BUDGET_S:g}",
                verdict(median_last <= FANOUT_BUDGET_S and all(last <= FANOUT_BUDGET_S for last in lasts)),
            ]
        )
    header = [
        "round",
        "targeted",
        "queued",
        "frames",
        "HTTP answer s",
        "first frame s",
        "median frame s",
        "last frame s",
        "gateway CPU s",
        "budget",
        "result",
    ]
    return table(header, rows)


def figures(trivial: Phase, paced: Phase, burst: Phase, rounds: list[Round]) -> list[Figure]:
    """The budgeted figures as records: p50 and p99 of each single-charger phase beside the trivial route's, and
    the median last frame of the fan-out rounds."""
    found = []
    for what, phase in (
        ("plug-connector (paced), request -> StatusNotification at the CSMS", paced),
        (f"authorize-id-tag ({CONCURRENCY} concurrent), request -> Authorize at the CSMS", burst),
    ):
        for p in (50, 99):
            value, reference = percentile(phase.frames(), p), percentile(trivial.http(), p)
            found.append(
                Figure(f"{what}: p{p}", round(value, 2), "ms", round(reference, 2), ratio_of(value, reference))
            )
    measured = [r for r in rounds if r.name.startswith("authorize")]
    if measured:
        last = statistics.median(r.last_s if r.last_s is not None else math.inf for r in measured)
        what = f"fan-out authorize-id-tag to {FANOUT:,} chargers, request -> last Authorize"
        found.append(Figure(f"{what} (median of {len(measured)} rounds)", round(last, 3), "s"))
    return found


def breakdown_table(parts: list[tuple[str, Breakdown]]) -> str:
    rows = []
    for name, part in parts:
        for what, values in (
            ("request written -> Command.Requested (HTTP, auth, charger lookup)", part.to_requested),
            ("Command.Requested -> Command.Sent (save, fleet wake + read, hand-over, queue)", part.to_sent),
            ("Command.Sent -> frame at the CSMS (ocpp call, websocket)", part.to_frame),
            ("request written -> HTTP answer read", part.to_answer),
        ):
            rows.append(
                [
                    f"{name}: {what}",
                    f"{len(values):,}",
                    fmt_ms(percentile(values, 50)),
                    fmt_ms(percentile(values, 95)),
                    fmt_ms(percentile(values, 99)),
                    fmt_ms(max(values)),
                ]
            )
    return table(["stage (ms; event timestamps from the store)", "n", "p50", "p95", "p99", "max"], rows)


def phase_note(phase: Phase) -> str:
    return (
        f"{phase.name}: {len(phase.samples):,} requests in {phase.seconds:.1f} s; CPU of {phase.server} "
        f"{phase.server_cpu / max(phase.seconds, 1e-9):.0%} of a core; all cores busy {phase.machine_busy:.0%}"
        + (f"; errors: {'; '.join(phase.errors[:3])}" if phase.errors else "")
    )


# -- main -----------------------------------------------------------------------------------------------


def main() -> int:
    started = time.monotonic()
    fd = raise_fd_limit()
    load_at_start, code_at_start = load_average(), source_stamp()
    single_n = FLEET - FANOUT
    if single_n < SINGLE or single_n < 2:
        raise SystemExit(f"BENCH_COMMAND_FLEET - BENCH_COMMAND_FANOUT must be >= {SINGLE} (single commands)")
    print(f"Commands benchmark: {machine()}\n{fd.describe(FLEET + 100)}", file=sys.stderr)
    log, probe = GatewayLog(), []
    burst_first = max(0, single_n - SINGLE)  # the concurrent phase addresses the last SINGLE chargers
    with timing_csms() as csms, tempfile.TemporaryDirectory(prefix="bench-commands-") as data_dir:
        print("  baseline: trivial Quart route ...", file=sys.stderr, flush=True)
        with trivial_app() as (app, app_port):
            jobs = [("GET /", request_bytes(app_port, "GET", "/", None, auth=False))] * SINGLE
            trivial = measured("baseline: trivial route", app, run_requests(app_port, jobs, PACE))
        with serve(Path(data_dir), log, probe) as (process, url, port), GatewayApi(url) as api:
            health_seconds = time.time() - process.started_at
            print(f"  creating {FLEET:,} chargers ...", file=sys.stderr, flush=True)
            single_location, fanout_location = api.create_location("Bench single"), api.create_location("Bench fan")
            create_started = time.monotonic()
            api.create_chargers(single_location, [f"{SINGLE_GROUP}-{i:06d}" for i in range(single_n)], csms.ws_url)
            api.create_chargers(fanout_location, [f"{FANOUT_GROUP}-{i:06d}" for i in range(FANOUT)], csms.ws_url)
            wait_fleet(csms, process, {SINGLE_GROUP: single_n, FANOUT_GROUP: FANOUT})
            ready_seconds = time.monotonic() - create_started
            settle_seconds = settle(process, [csms.process])
            if PROBE == "freeze":
                os.kill(process.pid, signal.SIGUSR2)
                time.sleep(1.0)
                settle(process, [csms.process])
            ids = charger_ids(api, single_location)
            fleet_rss = process.rss_kib()

            print("  baseline: GET /health, bare websockets ...", file=sys.stderr, flush=True)
            jobs = [("GET /health", request_bytes(port, "GET", "/health", None, auth=False))] * SINGLE
            health = measured("baseline: GET /health", process, run_requests(port, jobs, PACE))
            bare = measured("baseline: bare websockets", csms.process, bare_frames(csms.ws_url, SINGLE, PACE))
            attach_arrivals(csms, BARE_GROUP, bare)

            print(f"  {SINGLE} plug-connector, paced ...", file=sys.stderr, flush=True)
            targets = [f"{SINGLE_GROUP}-{i:06d}" for i in range(SINGLE)]
            body = {"connector_id": 1}
            jobs = [(t, request_bytes(port, "POST", f"/chargers/{ids[t]}/plug-connector", body)) for t in targets]
            paced = measured("plug-connector, paced", process, run_requests(port, jobs, PACE))
            attach_arrivals(csms, SINGLE_GROUP, paced)
            time.sleep(1.0)

            print(f"  {SINGLE} authorize-id-tag, {CONCURRENCY} concurrent ...", file=sys.stderr, flush=True)
            targets = [f"{SINGLE_GROUP}-{i:06d}" for i in range(burst_first, burst_first + SINGLE)]
            body = {"id_tag": ID_TAG}
            jobs = [(t, request_bytes(port, "POST", f"/chargers/{ids[t]}/authorize-id-tag", body)) for t in targets]
            burst = measured(
                f"authorize-id-tag, {CONCURRENCY} concurrent", process, run_requests(port, jobs, None, CONCURRENCY)
            )
            attach_arrivals(csms, SINGLE_GROUP, burst)
            settle(process, [csms.process])

            rounds = []
            for index in range(ROUNDS):
                print(f"  fan-out round {index + 1} ...", file=sys.stderr, flush=True)
                rounds.append(
                    fanout_round(
                        csms,
                        process,
                        api,
                        fanout_location,
                        f"authorize-id-tag, round {index + 1}",
                        "authorize-id-tag",
                        {"id_tag": ID_TAG},
                        FANOUT,
                    )
                )
                settle(process, [csms.process])
            print("  fan-out plug-connector ...", file=sys.stderr, flush=True)
            rounds.append(
                fanout_round(
                    csms,
                    process,
                    api,
                    fanout_location,
                    "plug-connector (diagnostic)",
                    "plug-connector",
                    {"connector_id": 1},
                    FANOUT,
                )
            )
            stop_seconds = process.stop()
        parts = []
        for name, phase in (("paced", paced), ("concurrent", burst)):
            found = breakdown(Path(data_dir), phase)
            if found is not None:
                parts.append((name, found))
    table_texts = [single_table(trivial, health, bare, paced, burst), fanout_table(rounds)]
    if parts:
        table_texts.append(breakdown_table(parts))
    remarks = [
        f"Machine load (1/5/15 min) at start {load_at_start}, at end {load_average()} (the machine may be shared: "
        "'all cores busy' below counts every process on it).",
        f"Fleet: /health answered {health_seconds:.2f} s after `serve` started; {FLEET:,} chargers created and "
        f"booted with statuses reported in {ready_seconds:.1f} s; quiet {settle_seconds:.0f} s later; gateway RSS "
        f"{fleet_rss / 1024:.0f} MiB; SIGTERM took {stop_seconds:.2f} s.",
        *(phase_note(phase) for phase in (trivial, health, bare, paced, burst)),
        *(
            f"fan-out {r.name}: the HTTP answer came {r.http_s:.3f} s after the request; "
            f"{len(r.arrivals):,} of {r.targeted:,} chargers' first frames arrived"
            + (
                f", {sum(1 for a in r.arrivals if a <= r.http_s):,} of them before the HTTP answer"
                if r.arrivals
                else ""
            )
            for r in rounds
        ),
    ]
    if log.dropped_events:
        remarks.append(f"The recorder logged {log.dropped_events} dropped event(s).")
    if PROBE:
        frozen = " (gc.freeze() once the fleet was up)" if PROBE == "freeze" else ""
        remarks.append(f"`serve` ran under bench/serve_probe.py{frozen}; its {len(probe)} report(s) follow.")
        remarks += [f"probe: {line}" for line in probe]
    if PROFILE:
        remarks.append(f"`serve` ran under cProfile (BENCH_CPROFILE={PROFILE}): figures include its overhead.")
    changed = source_note(code_at_start)
    if changed:
        remarks.append(changed)
    print(*table_texts, sep="\n\n")
    for line in remarks:
        print(f"NOTE {line}")
    append_section(
        "Commands",
        [
            f"Machine: {machine()}.",
            "",
            METHOD.format(
                fleet=FLEET,
                single_n=single_n,
                fanout=FANOUT,
                interval=INTERVAL,
                pace=PACE * 1000,
                concurrency=CONCURRENCY,
                rounds=ROUNDS,
            ),
            "",
            *(line for text in table_texts for line in (text, "")),
            "Notes:",
            "",
            *(f"- {line}" for line in remarks),
        ],
        "commands",
        figures(trivial, paced, burst, rounds),
    )
    print(f"commands benchmark done in {time.monotonic() - started:.0f} s", file=sys.stderr)
    failed = any(phase.errors for phase in (trivial, health, bare, paced, burst))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
