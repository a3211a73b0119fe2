"""`python -m bench simulator`: memory, boot time, idle CPU and heartbeat rate of the gateway's simulator, each beside
the bare websockets client from the same run, printed as tables and recorded (bench/report.py append_section)."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from bench import budgets
from bench import fleet_scenarios as scenarios
from bench.csms_control import lean_csms
from bench.fleet_scenarios import Fleet, FrameCheck, Memory, RestartCheck, Window
from bench.gateway_api import GatewayLog
from bench.procs import raise_fd_limit
from bench.report import append_section, load_average, machine, print_run, ratio, source_stamp, table, verdict
from bench.results import Figure, ratio_of

BASE_BUDGET_MIB = budgets.BASE_RSS.limit
PER_CHARGER_BUDGET_KIB = budgets.RSS_PER_CHARGER.limit
BOOT_BUDGET_SECONDS = budgets.BOOT.limit
IDLE_BUDGET_MS = budgets.IDLE_CPU.limit
METHOD = (
    "Method: a lean CSMS (`bench/lean_csms.py`: plain `websockets`, hand-written CALLRESULTs, no validation, no "
    "compression, no pings) runs in its own process on 127.0.0.1 and counts boots and heartbeats per identity "
    "prefix. Chargers (Wallbox Pulsar Plus, OCPP 1.6, one connector) are created through "
    "`POST /locations/{id}/chargers/create-chargers` in batches of 200. Memory: one `ocpplab-gateway serve` process "
    "on a temp data dir; VmRSS before any charger (base), then once all N chargers are booted (CSMS and "
    "`GET /chargers` agree) and have each sent a Heartbeat (20 s interval): per charger = (RSS - base) / N. Boot: "
    "1,000 chargers created through `ocpplab-gateway api` (no simulator) on a second data dir, then `serve` timed "
    "from its process start to the 1,000th BootNotification at the CSMS. Idle CPU: utime + stime of that `serve` "
    "over a 60 s window (one heartbeat per charger at the 60 s interval, whatever the phase) once it is quiet. "
    "Heartbeats: the CSMS sends ChangeConfiguration HeartbeatInterval=1 to every charger, then counts answered "
    "Heartbeats over 10 s (each charger waits 1 s after the previous answer, so the ideal is just under 1,000/s). "
    "Baseline: `bench/bare_client.py`, a plain websockets client process without compression: N idle connections "
    "for memory; 1,000 hand-written OCPP 1.6 charge points (boot, 2 status, heartbeat) for the other figures, "
    "measured the same way. Its idle window is the gateway's (run side by side); the heartbeat windows run apart. "
    "Restart check (diagnostic): the memory data dir, its chargers past 1,000 stopped through "
    "`POST /locations/{id}/chargers/stop-chargers`, restarted with `serve`: stopped chargers should not connect."
)


def memory_rows(gateway: Memory, bare: Memory) -> list[list[str]]:
    base_ok = gateway.base_kib / 1024 <= BASE_BUDGET_MIB
    rows = [
        [
            "base (0)",
            f"{gateway.base_kib / 1024:.1f}",
            "-",
            f"{bare.base_kib / 1024:.1f}",
            "-",
            "-",
            f"base <= {BASE_BUDGET_MIB} MiB",
            verdict(base_ok),
        ]
    ]
    for point, bare_point in zip(gateway.points, bare.points, strict=True):
        per_charger, per_connection = gateway.per_unit_kib(point), bare.per_unit_kib(bare_point)
        rows.append(
            [
                f"{point.n:,}",
                f"{point.rss_kib / 1024:.1f}",
                f"{per_charger:.1f}",
                f"{bare_point.rss_kib / 1024:.1f}",
                f"{per_connection:.1f}",
                ratio(per_charger, per_connection),
                f"<= {PER_CHARGER_BUDGET_KIB} KiB/charger",
                verdict(per_charger <= PER_CHARGER_BUDGET_KIB),
            ]
        )
    return rows


def fleet_rows(result: Fleet) -> list[list[str]]:
    n = result.n
    idle, bare_idle = result.idle.cpu_ms_per_unit_minute(n), result.bare_idle.cpu_ms_per_unit_minute(n)
    beats, bare_beats = result.beats.beats_per_second, result.bare_beats.beats_per_second
    return [
        [
            f"connect + boot {n:,}: process start to the last BootNotification",
            f"{result.boot_seconds:.2f} s",
            f"{result.bare_boot_seconds:.2f} s",
            ratio(result.boot_seconds, result.bare_boot_seconds),
            f"<= {BOOT_BUDGET_SECONDS:g} s",
            verdict(result.boot_seconds <= BOOT_BUDGET_SECONDS),
        ],
        [
            f"idle CPU per charger per minute (60 s interval, {result.idle.seconds:.0f} s window)",
            f"{idle:.3f} ms",
            f"{bare_idle:.3f} ms",
            ratio(idle, bare_idle),
            f"< {IDLE_BUDGET_MS:g} ms",
            verdict(idle < IDLE_BUDGET_MS),
        ],
        [
            f"heartbeat round-trips/s (1 s interval, {result.beats.seconds:.0f} s window)",
            f"{beats:,.0f}/s",
            f"{bare_beats:,.0f}/s",
            ratio(beats, bare_beats),
            f"none (ideal just under {n:,}/s)",
            verdict(None),
        ],
    ]


def figures(gateway: Memory, bare: Memory, result: Fleet) -> list[Figure]:
    """The tables' figures as records: the same numbers, rounded as the tables print them."""
    base, bare_base = round(gateway.base_kib / 1024, 1), round(bare.base_kib / 1024, 1)
    found = [Figure("base RSS (no charger)", base, "MiB", bare_base)]
    for point, bare_point in zip(gateway.points, bare.points, strict=True):
        per_charger, per_connection = gateway.per_unit_kib(point), bare.per_unit_kib(bare_point)
        found.append(
            Figure(
                f"RSS per charger, {point.n:,} chargers",
                round(per_charger, 1),
                "KiB",
                round(per_connection, 1),
                ratio_of(per_charger, per_connection),
            )
        )
    n = result.n
    idle, bare_idle = result.idle.cpu_ms_per_unit_minute(n), result.bare_idle.cpu_ms_per_unit_minute(n)
    beats, bare_beats = result.beats.beats_per_second, result.bare_beats.beats_per_second
    boot, bare_boot = result.boot_seconds, result.bare_boot_seconds
    return [
        *found,
        Figure(
            f"connect + boot {n:,} chargers: process start to the last BootNotification",
            round(boot, 2),
            "s",
            round(bare_boot, 2),
            ratio_of(boot, bare_boot),
        ),
        Figure(
            "idle CPU per charger per minute (60 s interval)",
            round(idle, 3),
            "ms",
            round(bare_idle, 3),
            ratio_of(idle, bare_idle),
        ),
        Figure(
            f"heartbeat round-trips/s ({n:,} chargers, 1 s interval)",
            round(beats),
            "heartbeats/s",
            round(bare_beats),
            ratio_of(beats, bare_beats),
        ),
    ]


def share(cpu: float, window: Window) -> str:
    return f"{cpu / window.seconds:.0%}"


def per_beat_ms(window: Window) -> float:
    return window.cpu * 1000 / max(1, window.heartbeats)


def notes(gateway: Memory, bare: Memory, result: Fleet, fd_limit: str, loads: tuple[str, str]) -> list[str]:
    steps = zip([0, *(p.n for p in gateway.points)], gateway.points, strict=False)
    created = ", ".join(f"{before:,} -> {p.n:,} in {p.create_seconds:.1f} s" for before, p in steps)
    beats, bare_beats = result.beats, result.bare_beats
    return [
        f"Machine load (1/5/15 min) at start {loads[0]}, at end {loads[1]}; share of all cores busy (every process "
        f"on the machine) in the idle window {result.idle.machine_busy:.0%}, gateway heartbeat window "
        f"{beats.machine_busy:.0%}, bare heartbeat window {bare_beats.machine_busy:.0%}.",
        f"File descriptors: {fd_limit}; open fds at {gateway.points[-1].n:,} chargers: gateway {gateway.open_fds}, "
        f"bare client {bare.open_fds}.",
        f"REST bulk creation in `serve` per memory step (chargers connect and boot meanwhile): {created}; "
        f"{result.n:,} through `api` (no simulator): {result.create_seconds:.1f} s.",
        f"Boot: /health answered {result.health_seconds:.2f} s after the process start; quiet "
        f"{result.settle_seconds:.0f} s after the last boot; {result.extra_boots} extra boot(s) beyond {result.n:,}; "
        f"SIGTERM with {result.n:,} chargers heartbeating every second took {result.stop_seconds:.2f} s to exit.",
        f"Idle window: the CSMS answered {result.idle.heartbeats:,} gateway and {result.bare_idle.heartbeats:,} bare "
        f"heartbeats (about {result.n:,} each expected); gateway CPU {result.idle.cpu:.2f} s, bare client "
        f"{result.bare_idle.cpu:.2f} s over {result.idle.seconds:.0f} s.",
        f"Heartbeat windows: gateway CPU {share(beats.cpu, beats)} of a core, CSMS {share(beats.csms_cpu, beats)}; "
        f"bare client {share(bare_beats.cpu, bare_beats)}, CSMS {share(bare_beats.csms_cpu, bare_beats)}. Gateway CPU "
        f"per heartbeat round-trip (2 frames recorded): {per_beat_ms(beats):.2f} ms "
        f"(bare: {per_beat_ms(bare_beats):.2f} ms).",
    ]


def restart_note(check: RestartCheck | None) -> list[str]:
    if check is None:
        return []
    verdict_text = "as expected" if check.stopped_connections == 0 else "BUG: stopped chargers should stay down"
    return [
        f"Restart check ({check.running:,} chargers running, {check.stopped:,} stopped): /health answered "
        f"{check.health_seconds:.2f} s after the process start, the running ones booted within "
        f"{check.boot_seconds:.2f} s; the stopped ones opened {check.stopped_connections:,} connection(s) and sent "
        f"{check.stopped_boots:,} BootNotification(s) before going down again ({verdict_text}); SIGTERM took "
        f"{check.stop_seconds:.2f} s."
    ]


def frame_note(check: FrameCheck) -> str:
    verdict_text = check.verdict()
    return (
        f"Frames, {check.name} (every gateway run on it): the CSMS exchanged {check.csms_frames:,}, the store holds "
        f"{check.stored_frames:,} (missing {check.missing:,}); the recorder logged {check.log.dropped_events:,} "
        f"event(s) of {check.log.dropped_streams:,} stream(s) as dropped ({verdict_text})."
    )


def main() -> int:
    started = time.monotonic()
    fd = raise_fd_limit()
    load_at_start, code_at_start = load_average(), source_stamp()
    needed = max(scenarios.MEMORY_STEPS) + 100
    print(f"Simulator benchmark: {machine()}\n{fd.describe(needed)}", file=sys.stderr)
    with (
        lean_csms(scenarios.MEMORY_INTERVAL) as csms,
        tempfile.TemporaryDirectory(prefix="bench-sim-memory-") as memory_dir,
        tempfile.TemporaryDirectory(prefix="bench-sim-fleet-") as fleet_dir,
    ):
        print("  memory: bare client ...", file=sys.stderr, flush=True)
        bare = scenarios.bare_memory(csms)
        print("  memory: gateway ...", file=sys.stderr, flush=True)
        memory_log, fleet_log = GatewayLog(), GatewayLog()
        gateway = scenarios.gateway_memory(csms, Path(memory_dir), memory_log)
        check = None
        if max(scenarios.MEMORY_STEPS) > scenarios.FLEET:
            print("  restart check ...", file=sys.stderr, flush=True)
            check = scenarios.restart_check(csms, Path(memory_dir), memory_log)
        print("  boot, idle CPU, heartbeats ...", file=sys.stderr, flush=True)
        result = scenarios.fleet(csms, Path(fleet_dir), fleet_log)
        frames = [
            scenarios.frame_check(
                "memory data dir", csms, (scenarios.RUNNING, scenarios.STOPPED), Path(memory_dir), memory_log
            ),
            scenarios.frame_check("boot data dir", csms, (scenarios.FLEET_GROUP,), Path(fleet_dir), fleet_log),
        ]
    memory_table = table(
        [
            "chargers",
            "gateway RSS MiB",
            "gateway KiB/charger",
            "bare client RSS MiB",
            "bare KiB/connection",
            "vs baseline",
            "budget",
            "result",
        ],
        memory_rows(gateway, bare),
    )
    fleet_table = table(
        [f"figure ({result.n:,} chargers)", "gateway", "baseline: bare client", "vs baseline", "budget", "result"],
        fleet_rows(result),
    )
    remarks = notes(gateway, bare, result, fd.describe(needed), (load_at_start, load_average()))
    remarks += restart_note(check)
    remarks += [frame_note(frame) for frame in frames]
    print_run([memory_table, fleet_table], remarks, code_at_start)
    append_section(
        "Simulator",
        [
            f"Machine: {machine()}.",
            "",
            METHOD,
            "",
            "RSS per connected, booted, heartbeating charger (one `serve` process):",
            "",
            memory_table,
            "",
            fleet_table,
            "",
            "Notes:",
            "",
            *(f"- {line}" for line in remarks),
        ],
        "simulator",
        figures(gateway, bare, result),
    )
    print(f"simulator benchmark done in {time.monotonic() - started:.0f} s", file=sys.stderr)
    lost = any(frame.lost for frame in frames)
    return 1 if lost else 0
