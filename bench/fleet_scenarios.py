"""The simulator scenarios: the gateway's `serve` process running chargers against the lean CSMS, each figure
beside the bare websockets client (bench/bare_client.py) measured the same way in the same run.

1. memory: RSS per connected, booted, heartbeating charger at each of MEMORY_STEPS chargers, in one process; the
   chargers past FLEET go to a second location that is stopped afterwards, and a restart of that data dir checks
   that stopped chargers stay stopped (a diagnostic)
2. boot: FLEET chargers created through `ocpplab-gateway api` (no simulator) on a fresh data dir, then `serve`
   timed from its process start to FLEET BootNotifications at the CSMS
3. idle CPU: CPU time over IDLE_SECONDS with those FLEET chargers booted, at a 60 s heartbeat interval
4. heartbeats: round-trips/s answered by the CSMS with FLEET chargers at a 1 s interval
The CSMS counts per identity prefix: GW (memory, kept running), GX (memory, stopped), FL (boot/idle/heartbeats),
BI (bare idle connections), BC (bare charge points).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.csms_control import Csms
from bench.gateway_api import GatewayApi, GatewayLog, gateway, stored_frames
from bench.procs import Child, child, machine_busy, wait_for

MEMORY_STEPS = tuple(int(n) for n in os.environ.get("BENCH_MEMORY_STEPS", "100,1000,2000").split(","))
FLEET = int(os.environ.get("BENCH_FLEET", "1000"))
IDLE_SECONDS = float(os.environ.get("BENCH_IDLE_SECONDS", "60"))
BEAT_SECONDS = float(os.environ.get("BENCH_BEAT_SECONDS", "10"))
PROFILE_DIR = os.environ.get("BENCH_PROFILE_DIR")  # when set, py-spy records the gateway in each measured window
PROFILE_GRACE = 10.0
MEMORY_INTERVAL = 20  # heartbeat interval (s) while measuring memory: every charger beats within a step
IDLE_INTERVAL = 60
BEAT_INTERVAL = 1
RAMP_SECONDS = 3.0  # after pushing the 1 s interval, before counting
SETTLE_SECONDS = 2.0  # before reading RSS
QUIET_SHARE = 0.05  # a process counts as settled below this share of a core (two 1 s samples in a row)
QUIET_TIMEOUT = 30.0
BOOT_TIMEOUT = 120.0
RUNNING, STOPPED, FLEET_GROUP, BARE_IDLE, BARE_CHARGERS = "GW", "GX", "FL", "BI", "BC"


@dataclass
class MemoryPoint:
    n: int
    rss_kib: int
    create_seconds: float = 0.0  # gateway: REST bulk creation of this step's chargers


@dataclass
class Memory:
    base_kib: int
    points: list[MemoryPoint] = field(default_factory=list)
    open_fds: int = 0

    def per_unit_kib(self, point: MemoryPoint) -> float:
        return (point.rss_kib - self.base_kib) / point.n


@dataclass
class RestartCheck:
    """`serve` restarted on the memory data dir: `running` chargers wanted running, `stopped` stopped."""

    running: int
    stopped: int
    health_seconds: float
    boot_seconds: float  # process start to the running chargers' last BootNotification
    stopped_connections: int  # connections the stopped chargers opened meanwhile (0 expected)
    stopped_boots: int
    stop_seconds: float


@dataclass
class FrameCheck:
    """Nothing lost: every frame the CSMS exchanged with a data dir's chargers is in that data dir's store."""

    name: str
    csms_frames: int
    stored_frames: int
    log: GatewayLog
    chargers: int  # an answer in flight when a connection closes is never read: at most about one per charger

    @property
    def missing(self) -> int:
        return self.csms_frames - self.stored_frames

    @property
    def frames_lost(self) -> bool:
        return not 0 <= self.missing <= self.chargers

    @property
    def lost(self) -> bool:
        """Frames missing beyond what can be in flight, or the recorder reporting drops: the run failed."""
        return self.frames_lost or bool(self.log.dropped_events)

    def verdict(self) -> str:
        if self.frames_lost:
            text = "FRAMES LOST: more missing than answers in flight at a close can explain"
        elif self.missing:
            text = "no frame missing beyond answers in flight when connections closed"
        else:
            text = "every frame stored"
        if self.log.dropped_events:
            text += "; RECORDER DROPS logged at shutdown"
        return text


@dataclass
class Window:
    """One measured interval: the process's CPU, the CSMS's CPU and the heartbeats the CSMS answered."""

    seconds: float
    cpu: float
    csms_cpu: float
    heartbeats: int
    machine_busy: float = 0.0  # share of all the machine's cores busy meanwhile (every process, not only ours)

    @property
    def beats_per_second(self) -> float:
        return self.heartbeats / self.seconds

    def cpu_ms_per_unit_minute(self, units: int) -> float:
        return self.cpu * 1000 / units * 60 / self.seconds


@dataclass
class Fleet:
    n: int
    create_seconds: float  # through `api`, before `serve` starts
    boot_seconds: float
    health_seconds: float
    extra_boots: int  # boots beyond n seen at the CSMS once settled (reconnects)
    settle_seconds: float
    bare_boot_seconds: float
    idle: Window
    bare_idle: Window
    beats: Window
    bare_beats: Window
    stop_seconds: float


def identities(prefix: str, start: int, stop: int) -> list[str]:
    return [f"{prefix}-{index:06d}" for index in range(start, stop)]


def settle(process: Child, watch: list[Child]) -> float:
    """Waits until the process is quiet (< QUIET_SHARE of a core for two 1 s samples), at most QUIET_TIMEOUT s."""
    started = time.monotonic()
    quiet, before = 0, process.cpu_seconds()
    while time.monotonic() - started < QUIET_TIMEOUT and quiet < 2:
        time.sleep(1.0)
        for other in watch:
            other.check()
        now = process.cpu_seconds()
        quiet = quiet + 1 if now - before < QUIET_SHARE else 0
        before = now
    return time.monotonic() - started


@contextmanager
def profiled(process: Child, name: str, seconds: float) -> Iterator[None]:
    """With BENCH_PROFILE_DIR set, py-spy records `process` (without pausing it) while the block runs."""
    if not PROFILE_DIR:
        yield
        return
    py_spy = str(Path(sys.executable).parent / "py-spy")
    out = Path(PROFILE_DIR) / f"{name}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    argv = [py_spy, "record", "--nonblocking", "-r", "50", "-f", "raw", "-d", str(int(seconds)), "-o", str(out)]
    with child(f"py-spy {name}", [*argv, "-p", str(process.pid)]) as recorder:
        yield
        with contextlib.suppress(subprocess.TimeoutExpired):
            recorder.process.wait(PROFILE_GRACE)  # it writes its file when its duration is over


def measure(process: Child, csms: Csms, group: str, seconds: float, name: str) -> Window:
    """CPU of `process` and of the CSMS, and the group's heartbeats, over `seconds` (checked every second)."""
    with profiled(process, name, seconds):
        stats, cpu, csms_cpu = csms.stats(group), process.cpu_seconds(), csms.process.cpu_seconds()
        busy, total = machine_busy()
        started = time.monotonic()
        while (left := seconds - (time.monotonic() - started)) > 0:
            time.sleep(min(1.0, left))
            process.check()
            csms.process.check()
        elapsed = time.monotonic() - started
        window = Window(
            elapsed,
            process.cpu_seconds() - cpu,
            csms.process.cpu_seconds() - csms_cpu,
            csms.stats(group)["heartbeats"] - stats["heartbeats"],
        )
        busy_now, total_now = machine_busy()
        window.machine_busy = (busy_now - busy) / max(1e-9, total_now - total)
    return window


def measure_pair(
    process: Child, other: Child, csms: Csms, groups: tuple[str, str], seconds: float, name: str
) -> tuple[Window, Window]:
    """`process` and `other` side by side over one window (groups: the CSMS groups whose heartbeats each counts)."""
    other_cpu, other_beats = other.cpu_seconds(), csms.stats(groups[1])["heartbeats"]
    window = measure(process, csms, groups[0], seconds, name)
    other.check()
    other_beats = csms.stats(groups[1])["heartbeats"] - other_beats
    other_window = Window(
        window.seconds, other.cpu_seconds() - other_cpu, window.csms_cpu, other_beats, window.machine_busy
    )
    return window, other_window


def bare_client(csms: Csms, prefix: str, boot: int = 0, url: str | None = None, extra: Sequence[str] = ()) -> list[str]:
    """The bare client's command line: to the CSMS's plain URL unless `url` is given, with `extra` options."""
    argv = [sys.executable, "-m", "bench.bare_client", url or csms.ws_url, prefix, *extra]
    return [*argv, "--boot", str(boot)] if boot else argv


def bare_memory(csms: Csms, argv: list[str] | None = None, steps: Sequence[int] = MEMORY_STEPS) -> Memory:
    """Idle bare connections (by default the BI group's, plain): RSS after start (base), then with each step's
    connections open."""
    with child("bare client (idle)", argv or bare_client(csms, BARE_IDLE), pipes=True) as client:
        if client.read_line(30) != "ready":
            raise RuntimeError("the bare client did not start")
        time.sleep(SETTLE_SECONDS)
        memory = Memory(client.rss_kib())
        for n in steps:
            client.send_line(f"open {n}")
            answer = client.read_line(120).split()
            if answer[:2] != ["ok", str(n)]:
                raise RuntimeError(f"the bare client could not open {n} connections: {answer}")
            time.sleep(SETTLE_SECONDS)
            memory.points.append(MemoryPoint(n, client.rss_kib()))
        memory.open_fds = len(os.listdir(f"/proc/{client.pid}/fd"))
        client.send_line("quit")
    return memory


def wait_ready(
    csms: Csms, api: GatewayApi, process: Child, n: int, groups: Sequence[tuple[str, int]] | None = None
) -> None:
    """Every one of the n chargers booted and heartbeated at the CSMS, and shows as booted in GET /chargers;
    `groups`: (CSMS group, how many of the n are in it), by default the memory scenario's GW and GX."""
    for group, count in groups or ((RUNNING, min(n, FLEET)), (STOPPED, max(0, n - FLEET))):
        if count:
            csms.wait(group, "booted", count, BOOT_TIMEOUT, [process])
            csms.wait(group, "heartbeated", count, MEMORY_INTERVAL + BOOT_TIMEOUT, [process])
    wait_for(
        lambda: api.runtime_statuses().get("booted", 0) >= n,
        60,
        f"{n} chargers booted in GET /chargers",
        interval=1.0,
        watch=[process],
    )


def gateway_memory(csms: Csms, data_dir: Path, log: GatewayLog) -> Memory:
    """Creates chargers step by step in one `serve` process; the first FLEET (GW) in one location, the others (GX)
    in a second location that is stopped at the end."""
    csms.set_interval(MEMORY_INTERVAL)
    with gateway(data_dir, log=log) as (process, url), GatewayApi(url) as api:
        locations = [api.create_location("Bench running"), api.create_location("Bench stopped")]
        time.sleep(SETTLE_SECONDS)
        memory = Memory(process.rss_kib())
        created = 0
        for n in MEMORY_STEPS:
            started = time.perf_counter()
            for location, prefix, first, last in (
                (0, RUNNING, created, min(n, FLEET)),
                (1, STOPPED, max(created, FLEET), n),
            ):
                if last > first:
                    api.create_chargers(locations[location], identities(prefix, first, last), csms.ws_url)
            create_seconds, created = time.perf_counter() - started, n
            wait_ready(csms, api, process, n)
            time.sleep(SETTLE_SECONDS)
            memory.points.append(MemoryPoint(n, process.rss_kib(), create_seconds))
            memory.open_fds = len(os.listdir(f"/proc/{process.pid}/fd"))
        if created > FLEET:
            api.stop_location(locations[1])
            wait_for(
                lambda: csms.stats(STOPPED)["open"] == 0,
                60,
                "the stopped location's chargers to disconnect",
                watch=[process],
            )
    return memory


def restart_check(csms: Csms, data_dir: Path, log: GatewayLog) -> RestartCheck:
    """Restarts `serve` on the memory data dir: its running chargers come back, its stopped ones must stay down."""
    running, stopped = csms.stats(RUNNING), csms.stats(STOPPED)
    wanted, down = min(max(MEMORY_STEPS), FLEET), max(0, max(MEMORY_STEPS) - FLEET)
    with gateway(data_dir, log=log) as (process, _):
        health_seconds = time.time() - process.started_at
        booted = csms.wait(RUNNING, "boots", running["boots"] + wanted, BOOT_TIMEOUT, [process])
        wait_for(lambda: csms.stats(STOPPED)["open"] == 0, 60, "stopped chargers to be down", watch=[process])
        after = csms.stats(STOPPED)
        stop_seconds = process.stop()
    return RestartCheck(
        wanted,
        down,
        health_seconds,
        booted["last_boot_at"] - process.started_at,
        after["connections"] - stopped["connections"],
        after["boots"] - stopped["boots"],
        stop_seconds,
    )


def create_offline(
    csms: Csms,
    data_dir: Path,
    n: int,
    group: str = FLEET_GROUP,
    ws_url: str | None = None,
    fields: dict[str, Any] | None = None,
) -> float:
    """Creates n chargers of the group through `ocpplab-gateway api` (no simulator, so nothing connects), at ws_url
    (default: the CSMS's plain URL) with the extra `fields`; returns the seconds."""
    with gateway(data_dir, "api") as (_, url), GatewayApi(url) as api:
        location = api.create_location("Bench boot")
        seconds = api.create_chargers(location, identities(group, 0, n), ws_url or csms.ws_url, fields)
    if csms.stats(group)["connections"]:
        raise RuntimeError("chargers connected while only `api` ran")
    return seconds


def fleet(csms: Csms, data_dir: Path, log: GatewayLog) -> Fleet:
    """Starts `serve` on a data dir holding FLEET chargers never run, and measures boot, idle CPU, heartbeats; the
    bare client runs the same charge points alongside (idle window shared, heartbeat windows apart)."""
    csms.set_interval(IDLE_INTERVAL)
    create_seconds = create_offline(csms, data_dir, FLEET)
    with gateway(data_dir, log=log) as (process, _):
        health_seconds = time.time() - process.started_at
        stats = csms.wait(FLEET_GROUP, "boots", FLEET, BOOT_TIMEOUT, [process])
        boot_seconds = stats["last_boot_at"] - process.started_at
        settle_seconds = settle(process, [csms.process])
        extra_boots = csms.stats(FLEET_GROUP)["boots"] - FLEET
        with child("bare client (charge points)", bare_client(csms, BARE_CHARGERS, FLEET), pipes=True) as client:
            bare = csms.wait(BARE_CHARGERS, "boots", FLEET, BOOT_TIMEOUT, [client])
            bare_boot_seconds = bare["last_boot_at"] - client.started_at
            settle(client, [process, csms.process])
            # One idle window for both: each sees one heartbeat per charger per 60 s whatever its phase.
            idle, bare_idle = measure_pair(process, client, csms, (FLEET_GROUP, BARE_CHARGERS), IDLE_SECONDS, "idle")
            csms.push_interval(FLEET_GROUP, BEAT_INTERVAL)
            time.sleep(RAMP_SECONDS)
            beats = measure(process, csms, FLEET_GROUP, BEAT_SECONDS, "heartbeats")
            stop_seconds = process.stop()
            csms.push_interval(BARE_CHARGERS, BEAT_INTERVAL)
            time.sleep(RAMP_SECONDS)
            bare_beats = measure(client, csms, BARE_CHARGERS, BEAT_SECONDS, "bare-heartbeats")
            client.send_line("quit")
    return Fleet(
        FLEET,
        create_seconds,
        boot_seconds,
        health_seconds,
        extra_boots,
        settle_seconds,
        bare_boot_seconds,
        idle,
        bare_idle,
        beats,
        bare_beats,
        stop_seconds,
    )


def frame_check(name: str, csms: Csms, groups: tuple[str, ...], data_dir: Path, log: GatewayLog) -> FrameCheck:
    """Once every gateway process of the data dir has stopped: the CSMS's frame count against the store's."""
    stats = [csms.stats(group) for group in groups]
    exchanged = sum(group["frames"] for group in stats)
    chargers = sum(group["booted"] for group in stats)
    return FrameCheck(name, exchanged, stored_frames(data_dir), log, chargers)
