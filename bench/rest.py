"""REST throughput and latency through real hypercorn processes, beside a trivial Quart route as the baseline.

Each scenario: WORKERS concurrent workers, each on its own keep-alive connection, a warm-up, then a fixed duration.
The measured loop uses a minimal HTTP/1.1 client on raw asyncio streams (request bytes encoded once per worker,
responses framed by Content-Length), so the load generator costs far less CPU than the server; httpx only does the
setup. Every response's status is checked: only the expected one counts as served, anything else is an error,
counted and printed with a body excerpt. Client and server share the machine, so the table also shows where the
CPU went: server CPU per request is the figure that holds whichever side is the bottleneck.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

from bench.report import append_section
from bench.results import Figure, ratio_of
from tests.support import SECRET, free_port, token

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
SECONDS = float(os.environ.get("BENCH_SECONDS", "5"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "16"))
WARMUP_SECONDS = 1.0
TIMEOUT = 10.0  # per request (connect included), so no worker can hang
ERROR_PAUSE = 0.05  # after a transport error, so a dead server cannot turn a worker into a busy loop
EXCERPT = 100  # characters of an unexpected response body kept in the error report
SATURATED = 0.9  # share of one core above which a process counts as saturated
LOCATION = {
    "name": "Bench Hub",
    "address": "1 Main Street",
    "city": "Paris",
    "country": "FR",
    "coordinates": {"latitude": 48.8566, "longitude": 2.3522},
}
CHARGER = {
    "identity": "BENCH-0001",
    "brand_slug": "wallbox",
    "model_slug": "wallbox-pulsar-plus",
    "connector_type": "Type2",
    "ws_url": "ws://127.0.0.1:9/ocpp",
}


@dataclass
class Scenario:
    name: str
    method: str
    path: str
    expected: int
    body: dict[str, Any] | None = None

    def encode(self, port: int, headers: dict[str, str]) -> bytes:
        """The whole request, encoded once and then sent as-is on every iteration."""
        body = json.dumps(self.body, separators=(",", ":")).encode() if self.body is not None else b""
        lines = [
            f"{self.method} {self.path} HTTP/1.1",
            f"Host: {HOST}:{port}",
            *(f"{k}: {v}" for k, v in headers.items()),
        ]
        if self.body is not None:
            lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        return "\r\n".join([*lines, "", ""]).encode("latin-1") + body


@dataclass
class Result:
    name: str
    seconds: float
    latencies: list[float] = field(default_factory=list)  # seconds, served requests only
    errors: Counter[str] = field(default_factory=Counter)
    server_cpu: float = 0.0  # seconds of CPU the server process used while measured
    client_cpu: float = 0.0  # seconds of CPU this (client) process used while measured

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds > 0 else 0.0

    def percentile_ms(self, p: int) -> float:
        if len(self.latencies) < 2:
            return float("nan")
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[p - 1] * 1000


@dataclass
class Running:
    url: str
    port: int
    pid: int

    def cpu(self) -> float:
        """User + system CPU seconds of the server process, all threads (Linux /proc)."""
        stat = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")


class ProtocolError(ValueError):
    """A response this minimal client cannot frame (no Content-Length, chunked, not HTTP/1.x)."""


# What a request can raise: socket errors and timeouts (OSError), a connection closed mid-response (EOFError from
# IncompleteReadError), an oversized head (LimitOverrunError) or an unframeable response (ProtocolError).
TRANSPORT_ERRORS = (OSError, EOFError, ValueError, asyncio.LimitOverrunError)


class Connection:
    """One keep-alive HTTP/1.1 connection to HOST: sends prepared request bytes, reads one response at a time."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        """Sends `request`, returns the response's status and body; (re)connects first if needed."""
        if self.reader is None or self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        reader, writer = self.reader, self.writer
        writer.write(request)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head[:-4].split(b"\r\n")
        version, status, *_ = status_line.split(b" ", 2)
        if not version.startswith(b"HTTP/1.") or not status.isdigit():
            raise ProtocolError(f"bad status line {status_line[:80]!r}")
        length: int | None = None
        close = version == b"HTTP/1.0"
        for line in header_lines:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection":
                close = value.strip().lower() == b"close"
            elif name == b"transfer-encoding":
                raise ProtocolError(f"unsupported Transfer-Encoding {value.strip()[:40]!r}")
        if length is None:
            raise ProtocolError("response without Content-Length")
        body = await reader.readexactly(length) if length else b""
        if close:
            await self.close()
        return int(status), body

    async def close(self) -> None:
        writer, self.reader, self.writer = self.writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(*TRANSPORT_ERRORS):
                async with asyncio.timeout(1):
                    await writer.wait_closed()


def one_line(text: str) -> str:
    """An excerpt fit for one line of the report: whitespace collapsed, at most EXCERPT characters."""
    return " ".join(text.split())[:EXCERPT].rstrip()


def tail(log: IO[bytes], size: int = 2000) -> str:
    log.seek(0)
    return log.read().decode(errors="replace")[-size:]


@contextmanager
def server(argv: list[str], env: dict[str, str], ready_path: str, timeout: float = 20.0) -> Iterator[Running]:
    """Starts `argv` (`{port}` filled in), yields it once `ready_path` answers 200, always stops it."""
    port = free_port()
    argv = [arg.format(port=port) for arg in argv]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)
        base_url = f"http://{HOST}:{port}"
        try:
            deadline = time.monotonic() + timeout
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"{argv} exited with {process.returncode}: {tail(log)}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{argv} not ready within {timeout} s")
                try:
                    if httpx.get(base_url + ready_path, timeout=0.5, trust_env=False).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.05)
            yield Running(base_url, port, process.pid)
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
            logged = [line for line in tail(log).splitlines() if line.strip() and "Running on http" not in line]
            if logged:
                print(f"--- stderr of {argv[2]} (tail) ---", *logged, sep="\n", file=sys.stderr)


async def load(connections: list[Connection], request: bytes, scenario: Scenario, seconds: float) -> Result:
    """One worker per connection sends `request` back to back until the deadline; every status is checked."""
    start = time.perf_counter()
    deadline = start + seconds
    result = Result(scenario.name, seconds)

    async def worker(connection: Connection) -> None:
        while (sent := time.perf_counter()) < deadline:  # each pass ends within TIMEOUT (+ ERROR_PAUSE)
            try:
                async with asyncio.timeout(TIMEOUT):
                    status, body = await connection.exchange(request)
            except TRANSPORT_ERRORS as error:
                result.errors[f"{type(error).__name__}: {one_line(str(error))}"] += 1
                await connection.close()  # its state is unknown: the next pass reconnects
                await asyncio.sleep(ERROR_PAUSE)
                continue
            if status == scenario.expected:
                result.latencies.append(time.perf_counter() - sent)
            else:
                excerpt = one_line(body.decode(errors="replace"))
                result.errors[f"HTTP {status} (expected {scenario.expected}) {excerpt}"] += 1

    await asyncio.gather(*(worker(connection) for connection in connections))
    result.seconds = time.perf_counter() - start  # includes the requests still in flight at the deadline
    return result


async def measure(server: Running, scenario: Scenario, headers: dict[str, str] | None = None) -> Result:
    """Warm-up then measured phase on the same WORKERS connections; warm-up errors are reported too."""
    request = scenario.encode(server.port, headers or {})
    connections = [Connection(server.port) for _ in range(WORKERS)]
    try:
        print(f"  {scenario.name}: {WARMUP_SECONDS:g} s warm-up + {SECONDS:g} s ...", file=sys.stderr, flush=True)
        warmup = await load(connections, request, scenario, WARMUP_SECONDS)
        server_cpu, client_cpu = server.cpu(), time.process_time()
        result = await load(connections, request, scenario, SECONDS)
        result.server_cpu, result.client_cpu = server.cpu() - server_cpu, time.process_time() - client_cpu
    finally:
        await asyncio.gather(*(connection.close() for connection in connections))
    result.errors.update({f"warm-up {kind}": count for kind, count in warmup.errors.items()})
    return result


def expect(response: httpx.Response, status: int) -> dict[str, Any]:
    if response.status_code != status:
        raise RuntimeError(f"{response.request.method} {response.request.url}: {response.status_code} {response.text}")
    return response.json()


async def gateway_scenarios(server: Running) -> list[Result]:
    headers = {"Authorization": f"Bearer {token('bench')}"}
    async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=TIMEOUT, trust_env=False) as client:
        location = expect(await client.post("/locations", json=LOCATION), 201)
        charger = expect(await client.post("/chargers", json={**CHARGER, "location_id": location["id"]}), 201)
    return [
        await measure(server, Scenario("POST /locations", "POST", "/locations", 201, LOCATION), headers),
        await measure(server, Scenario("GET /chargers/{id}", "GET", f"/chargers/{charger['id']}", 200), headers),
    ]


def render(results: list[Result], baseline: Result) -> str:
    rows = [
        "| scenario | requests/s | p50 ms | p99 ms | vs baseline | server CPU ms/req | server CPU | client CPU "
        "| served | errors |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in results:
        ratio = r.rate / baseline.rate if baseline.rate else float("nan")
        per_request = r.server_cpu * 1000 / len(r.latencies) if r.latencies else float("nan")
        rows.append(
            f"| {r.name} | {r.rate:,.0f} | {r.percentile_ms(50):.2f} | {r.percentile_ms(99):.2f} | {ratio:.2f}x "
            f"| {per_request:.2f} | {r.server_cpu / r.seconds:.0%} | {r.client_cpu / r.seconds:.0%} "
            f"| {len(r.latencies)} | {sum(r.errors.values())} |"
        )
    return "\n".join(rows)


def notes(results: list[Result]) -> list[str]:
    """Which side limited each scenario, so the reader knows whether requests/s is the server's capacity."""
    lines = ["Client: raw asyncio HTTP/1.1 (one keep-alive connection per worker, one client process)."]
    for r in results:
        server_share, client_share = r.server_cpu / r.seconds, r.client_cpu / r.seconds
        if client_share >= SATURATED:
            verdict = (
                f"the client saturates a core ({client_share:.0%}): requests/s and vs baseline understate the "
                "server's capacity; trust server CPU ms/req"
            )
        elif server_share >= SATURATED:
            verdict = f"server-bound ({server_share:.0%} of a core, client {client_share:.0%}): requests/s is capacity"
        else:
            verdict = (
                f"neither side saturated (server {server_share:.0%}, client {client_share:.0%}): requests/s is a "
                "lower bound; trust server CPU ms/req"
            )
        lines.append(f"{r.name}: {verdict}.")
    return lines


def machine() -> str:
    return (
        f"nproc {len(os.sched_getaffinity(0))}, Python {platform.python_version()} "
        f"({platform.system()} {platform.machine()}); {WORKERS} workers, {WARMUP_SECONDS:g} s warm-up, "
        f"{SECONDS:g} s per scenario"
    )


def figures(results: list[Result], baseline: Result) -> list[Figure]:
    """Requests/s, p99 and server CPU per request of each gateway scenario, beside the trivial route's."""

    def cpu_ms(r: Result) -> float:
        return round(r.server_cpu * 1000 / len(r.latencies), 2) if r.latencies else float("nan")

    found = []
    for r in results:
        if r is baseline:
            continue
        found += [
            Figure(
                f"{r.name}: requests/s", round(r.rate), "req/s", round(baseline.rate), ratio_of(r.rate, baseline.rate)
            ),
            Figure(f"{r.name}: p99 latency", round(r.percentile_ms(99), 2), "ms", round(baseline.percentile_ms(99), 2)),
            Figure(f"{r.name}: server CPU per request", cpu_ms(r), "ms", cpu_ms(baseline)),
        ]
    return found


def main() -> int:
    print(f"REST benchmark: {machine()}", file=sys.stderr)
    trivial = [sys.executable, "-m", "bench.trivial_app", "{port}"]
    with server(trivial, dict(os.environ), "/") as running:
        baseline = asyncio.run(measure(running, Scenario("baseline: trivial Quart route", "GET", "/", 200)))
    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as data_dir:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OCPPLAB_")}
        env.update(OCPPLAB_DATA_DIR=data_dir, OCPPLAB_JWT_SECRET=SECRET, OCPPLAB_LOG_LEVEL="WARNING")
        gateway = [sys.executable, "-m", "adapters.cli", "serve", "--port", "{port}"]
        with server(gateway, env, "/health") as running:
            results = [baseline, *asyncio.run(gateway_scenarios(running))]
    table = render(results, baseline)
    remarks = notes(results)
    errors = [f"{r.name}: {kind} x{count}" for r in results for kind, count in r.errors.most_common()]
    print(table)
    for line in remarks:
        print(f"NOTE {line}")
    for line in errors:
        print(f"ERROR {line}")
    lines = [f"Machine: {machine()}.", "", table, "", "Notes:", "", *(f"- {line}" for line in remarks)]
    if errors:
        lines += ["", "Errors:", "", *(f"- {line}" for line in errors)]
    append_section("REST", lines, "rest", figures(results, baseline), machine())
    return 1 if errors else 0
