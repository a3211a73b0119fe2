"""`python -m bench tls` (issue #11): RSS per charger, boot time and idle CPU of 1,000 chargers on wss:// with
security profile 2 (a private CA in `csms_ca_certificate`, HTTP Basic auth), against the same fleet on plain ws://
(profile 1, the same Basic auth key) in the same run, each in its own fresh `serve` process; printed and recorded
(bench/report.py append_section). The measurements are in bench/tls_scenarios.py."""

from __future__ import annotations

import platform
import statistics
import sys
import tempfile
import time
from asyncio.sslproto import SSLProtocol
from pathlib import Path

from bench import tls_scenarios as scenarios
from bench.procs import raise_fd_limit
from bench.report import append_section, load_average, machine, print_run, ratio, source_stamp, table
from bench.results import Figure, ratio_of
from bench.tls_scenarios import FLEET, ROUNDS, Result

PLAIN, SECURE = "ws", "wss"
METHOD = (
    "Method: one CSMS process (`bench/tls_csms.py`: the lean CSMS of the simulator suite, hand-written "
    "CALLRESULTs, no validation, no compression, no pings) listening on 127.0.0.1 twice, plain and TLS; its TLS "
    "certificate (127.0.0.1, localhost; P-256) is issued by a private CA generated for the run with `cryptography` "
    "(tests/pki.py) in a temp dir. It refuses (401) any handshake without the right HTTP Basic credentials "
    "(identity:key) and notes how each arrived (plain, or TLS version and cipher); the run fails unless the ws "
    "chargers all came plain and the wss ones all over TLS. Two profiles of the same fleet (Wallbox Pulsar Plus, "
    "OCPP 1.6, one connector), created through `POST /locations/{id}/chargers/create-chargers` in batches of 200: "
    "ws:// with security_profile 1 and an authorization_key (the baseline), and wss:// with security_profile 2, the "
    "same authorization_key and the private CA as csms_ca_certificate (the system CAs are not trusted for it). "
    "Memory: per profile a fresh `ocpplab-gateway serve` on an empty temp data dir; VmRSS before any charger "
    "(base), then 1,000 chargers created through REST; once every one has booted and sent a Heartbeat (20 s "
    "interval; CSMS and `GET /chargers` agree, which also shows the security profile of each) and the process is "
    "quiet: per charger = (RSS - base) / 1,000. The ws process stays up (idle) while the wss one is measured. Idle "
    "CPU: both memory processes side by side over one 60 s window (HeartbeatInterval 60 s pushed to every "
    "charger), utime + stime from /proc, per charger per minute. Diagnostic: the bare websockets client "
    "(`bench/bare_client.py`, one SSLContext for all its connections, the same Basic credentials) holding 1,000 "
    "idle connections on each URL: RSS per connection below the gateway, measured as for the gateway. Boot: per "
    "profile and round, 1,000 chargers "
    "created through `ocpplab-gateway api` (no simulator) on a fresh data dir, then `serve` timed from its process "
    "start to the 1,000th BootNotification at the CSMS, as the simulator suite does; one process at a time, "
    "rounds in ABBA order (ws, wss, wss, ws) so a drift of the machine's load falls on both alike; the figure is "
    "the mean of the rounds. Its CPU: the `serve` process's utime + stime from its start to the last boot. Note "
    "on memory: the simulator shares one client SSLContext per distinct TLS material (CA bundle, client "
    "certificate, key; simulator/tls.py `TlsContexts`), so these 1,000 chargers with one CA hold one context: the "
    "figure is what each TLS connection costs (its SSL object, buffers, the asyncio SSL protocol) plus the CA PEM "
    "each charger's spec holds, not a context per charger; the notes weigh one context for comparison. Both ends "
    "of every handshake run on this 2-core machine, so the CSMS's share of the TLS work competes with the "
    "gateway's during the boot (its CPU is in the notes)."
)


def mean(values: list[float]) -> float:
    return statistics.fmean(values)


def figures_of(result: Result) -> list[tuple[str, float, float, str, int]]:
    """(figure, wss value, ws value, unit, decimals) of every figure, unrounded."""
    memory, idle = result.memory, result.idle
    boot = {name: mean([b.boot_seconds for b in result.boots_of(name)]) for name in (PLAIN, SECURE)}
    cpu = {name: mean([b.cpu_seconds for b in result.boots_of(name)]) for name in (PLAIN, SECURE)}
    per_minute = {name: idle[name].cpu_ms_per_unit_minute(FLEET) for name in (PLAIN, SECURE)}
    rounds = f"mean of {ROUNDS} round{'s' if ROUNDS > 1 else ''}"
    return [
        ("base RSS (no charger)", memory[SECURE].base_kib / 1024, memory[PLAIN].base_kib / 1024, "MiB", 1),
        (
            f"RSS per charger, {FLEET:,} chargers connected and booted",
            memory[SECURE].per_charger_kib(),
            memory[PLAIN].per_charger_kib(),
            "KiB",
            1,
        ),
        (
            f"connect + boot {FLEET:,} chargers: process start to the last BootNotification ({rounds})",
            boot[SECURE],
            boot[PLAIN],
            "s",
            2,
        ),
        (f"CPU from process start to the last BootNotification ({rounds})", cpu[SECURE], cpu[PLAIN], "s", 2),
        (
            "idle CPU per charger per minute (60 s interval, same window)",
            per_minute[SECURE],
            per_minute[PLAIN],
            "ms",
            3,
        ),
        (
            f"RSS per idle connection, bare websockets client, {FLEET:,} connections (diagnostic)",
            result.bare[SECURE],
            result.bare[PLAIN],
            "KiB",
            1,
        ),
    ]


def figures(result: Result) -> list[Figure]:
    return [
        Figure(name, round(value, decimals), unit, round(baseline, decimals), ratio_of(value, baseline))
        for name, value, baseline, unit, decimals in figures_of(result)
    ]


def rows(result: Result) -> list[list[str]]:
    return [
        [name, f"{value:,.{decimals}f} {unit}", f"{baseline:,.{decimals}f} {unit}", ratio(value, baseline)]
        for name, value, baseline, unit, decimals in figures_of(result)
    ]


def boot_rows(result: Result) -> list[list[str]]:
    return [
        [
            str(b.round),
            b.profile,
            f"{b.create_seconds:.1f}",
            f"{b.health_seconds:.2f}",
            f"{b.boot_seconds:.2f}",
            f"{b.cpu_seconds:.2f}",
            f"{b.csms_cpu:.2f}",
            f"{b.rss_kib / 1024:.1f}",
            str(b.extra_boots),
        ]
        for b in result.boots
    ]


def notes(result: Result, fd_limit: str, loads: tuple[str, str]) -> list[str]:
    memory, idle = result.memory, result.idle
    plain_idle, secure_idle = idle[PLAIN], idle[SECURE]
    seen = "; ".join(f"{group}: {kinds}" for group, kinds in sorted(result.transports.items()))
    quiet_rss = {name: mean([b.rss_kib for b in result.boots_of(name)]) for name in (PLAIN, SECURE)}
    boot_difference = (quiet_rss[SECURE] - quiet_rss[PLAIN]) / FLEET
    memory_difference = (memory[SECURE].rss_kib - memory[PLAIN].rss_kib) / FLEET
    return [
        f"Machine load (1/5/15 min) at start {loads[0]}, at end {loads[1]}; share of all cores busy (every process "
        f"on the machine) in the idle window {plain_idle.machine_busy:.0%}.",
        f"File descriptors: {fd_limit}; open fds of the memory processes with {FLEET:,} chargers: ws "
        f"{memory[PLAIN].open_fds}, wss {memory[SECURE].open_fds}.",
        f"Handshakes at the CSMS by group (MP/MT: memory ws/wss; BP<n>/BT<n>: boot round n ws/wss): {seen}; no "
        f"handshake refused for want of the Basic credentials. GET /chargers showed security_profile "
        f"{memory[PLAIN].profiles} (ws) and {memory[SECURE].profiles} (wss).",
        f"Memory processes: REST creation of {FLEET:,} took {memory[PLAIN].create_seconds:.1f} s (ws) and "
        f"{memory[SECURE].create_seconds:.1f} s (wss), the last BootNotification "
        f"{memory[PLAIN].create_to_boot:.1f} s and {memory[SECURE].create_to_boot:.1f} s after the first request. "
        f"RSS {memory[PLAIN].rss_kib / 1024:.1f} MiB (ws) and {memory[SECURE].rss_kib / 1024:.1f} MiB (wss), a "
        f"difference of {memory_difference:.1f} KiB per charger; after the idle window "
        f"{memory[PLAIN].rss_after_idle_kib / 1024:.1f} MiB and {memory[SECURE].rss_after_idle_kib / 1024:.1f} MiB "
        f"({memory[PLAIN].per_charger_kib(memory[PLAIN].rss_after_idle_kib):.1f} and "
        f"{memory[SECURE].per_charger_kib(memory[SECURE].rss_after_idle_kib):.1f} KiB per charger).",
        f"Cross-check from the boot processes (started with the fleet, so no base of their own): RSS once quiet, "
        f"mean of the rounds, ws {quiet_rss[PLAIN] / 1024:.1f} MiB, wss {quiet_rss[SECURE] / 1024:.1f} MiB: wss "
        f"costs {boot_difference:.1f} KiB more per charger (memory processes: {memory_difference:.1f} KiB).",
        f"asyncio allocates a {SSLProtocol.max_size // 1024} KiB read buffer (`asyncio.sslproto.SSLProtocol.max_size`"
        f", zero-filled) for every TLS connection in this Python ({platform.python_version()}): most of what a wss "
        "charger costs beyond a ws one, and what the bare client pays too "
        f"({result.bare[SECURE] - result.bare[PLAIN]:.1f} KiB per connection more on wss).",
        f"One client SSLContext holding the private CA weighs about {result.context_kib:.0f} KiB (this process's RSS "
        f"growth over {scenarios.CONTEXTS} of them, `simulator.tls.build_context`): shared, the {FLEET:,} wss chargers "
        "hold one; were each to build its own, that much more per charger.",
        f"Idle window ({plain_idle.seconds:.0f} s): the CSMS answered {plain_idle.heartbeats:,} ws and "
        f"{secure_idle.heartbeats:,} wss heartbeats (about {FLEET:,} each expected); CPU ws {plain_idle.cpu:.2f} s, "
        f"wss {secure_idle.cpu:.2f} s, CSMS {plain_idle.csms_cpu:.2f} s.",
    ]


def main() -> int:
    started = time.monotonic()
    fd = raise_fd_limit()
    load_at_start, code_at_start = load_average(), source_stamp()
    needed = 2 * FLEET + 100  # the CSMS holds both memory fleets at once
    print(f"TLS benchmark: {machine()}\n{fd.describe(needed)}", file=sys.stderr)
    print(f"  load {load_at_start}; {FLEET:,} chargers on ws:// and on wss:// ...", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-tls-pki-") as directory:
        result = scenarios.run(scenarios.make_pki(Path(directory)))
    main_table = table(
        [
            f"figure ({FLEET:,} chargers, OCPP 1.6)",
            "wss:// profile 2 (private CA + Basic auth)",
            "baseline: ws:// profile 1 (Basic auth)",
            "wss vs ws",
        ],
        rows(result),
    )
    boot_table = table(
        [
            "round",
            "profile",
            "create via api s",
            "/health s",
            "start -> last boot s",
            "gateway CPU s",
            "CSMS CPU s",
            "RSS once quiet MiB",
            "extra boots",
        ],
        boot_rows(result),
        left=2,
    )
    remarks = print_run(
        [main_table, boot_table], notes(result, fd.describe(needed), (load_at_start, load_average())), code_at_start
    )
    append_section(
        "TLS (security profile 2)",
        [
            f"Machine: {machine()}.",
            "",
            METHOD,
            "",
            main_table,
            "",
            "Boot rounds, in the order they ran (each a fresh `serve` on a fresh data dir, alone):",
            "",
            boot_table,
            "",
            "Notes:",
            "",
            *(f"- {line}" for line in remarks),
        ],
        "tls",
        figures(result),
    )
    print(f"TLS benchmark done in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return 0
