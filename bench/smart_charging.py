"""`python -m bench smart-charging` (issue #11): CPU per charger per minute of 1,000 charging chargers that each hold a
TxDefaultProfile of 3 periods, against the same fleet without profiles in the same run, printed and recorded
(bench/report.py append_section).

Two `serve` processes side by side (one data dir each) run 1,000 OCPP 1.6 chargers each against one lean CSMS:
SP (gets the profiles) and SN (never does). Both charge on every charger and are measured over the same windows:
first with no profile anywhere (the two processes' noise floor), then with the profiles installed on SP.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import budgets
from bench.csms_control import Csms, lean_csms
from bench.fleet_scenarios import BOOT_TIMEOUT, Window, identities, measure_pair, settle
from bench.gateway_api import GatewayApi, GatewayLog, gateway
from bench.procs import Child, raise_fd_limit, wait_for
from bench.report import append_section, load_average, machine, print_run, ratio, source_stamp, table, verdict
from bench.results import Figure, ratio_of

FLEET = int(os.environ.get("BENCH_SMART_FLEET", "1000"))
WINDOW_SECONDS = float(os.environ.get("BENCH_SMART_SECONDS", "60"))
INTERVAL = 60  # heartbeat interval of both groups; MeterValueSampleInterval stays at its default, 60 s, for both
PROFILED, PLAIN = "SP", "SN"
ID_TAG = "BENCH-SMART"
START_BATCHES = 10  # sessions start in this many batches per group, spread over one sample interval
PERIODS = ((0, 11000.0), (20, 7000.0), (40, 3680.0))  # (startPeriod s, limit W) of the TxDefaultProfile
MODEL_MAX_W = 22000  # the Wallbox Pulsar Plus's power: what a meter without a profile delivers
LEAD = 5.0  # the profiled window opens this long before the schedule's first boundary
INSTALL_LEAD = 100.0  # from the push of the profiles to the first boundary: room for the checks and settling
CHECKED = 20  # chargers of each group checked through GET /chargers/{id}/charging-profiles
SESSION_TIMEOUT = 180.0
RECORD_TIMEOUT = 30.0
METHOD = (
    "Method: one lean CSMS (`bench/lean_csms.py`, as in the simulator suite, now also answering Authorize, "
    "StartTransaction, MeterValues and StopTransaction and counting the MeterValues' Power.Active.Import samples by "
    "value) and two `ocpplab-gateway serve` processes side by side on temp data dirs, each with 1,000 Wallbox "
    "Pulsar Plus chargers (OCPP 1.6, one connector, 22 kW) created through "
    "`POST /locations/{id}/chargers/create-chargers` in batches of 200: identities SP-* in one (they get the "
    "profiles), SN-* in the other (they never do). HeartbeatInterval 60 s and MeterValueSampleInterval 60 s (its "
    "default) in both. Every charger charges: `POST /locations/{id}/chargers/start-session` in 10 batches of 100 "
    "per process, 6 s apart, the same in both, so each fleet's samples and heartbeats spread over the minute. Once "
    "both processes are quiet, window 1 (60 s): no profile anywhere, both processes' CPU (utime + stime from /proc) "
    "over the same interval; their ratio is the noise floor between two identical processes. Then the CSMS sends "
    "every SP charger SetChargingProfile (connectorId 0, TxDefaultProfile, stack level 0, Recurring Daily, W, "
    "periods 0 s: 11,000 W, 20 s: 7,000 W, 40 s: 3,680 W, startSchedule one day before T0) and counts the "
    "Accepted answers; until T0 the last period (3,680 W) applies. `GET /chargers/{id}/charging-profiles` on 20 "
    "chargers of each process checks the profile is held and limit_w (3,680 W on SP, 22,000 W on SN). Window 2 "
    "(60 s) opens 5 s before T0, so every SP charger's limit changes three times inside it (T0, T0 + 20 s, "
    "T0 + 40 s; the follower task of each of the 1,000 wakes at each), again both processes over the same interval. "
    "Figure: CPU ms per charger per minute of each process; the ratio SP / SN in window 2 is profiles vs the same "
    "fleet without, judged against our budget (<= 1.2x). Side by side rather than two phases of one process: both "
    "fleets see the same machine load (other work on this 2-core machine) over the same seconds, and window 1 "
    "measures what is left of the difference between the two processes. Check of what was measured: the SP "
    "samples of window 2 must all be 11,000, 7,000 or 3,680 W, each value seen; every SN sample (and every sample "
    "of window 1) 22,000 W; the run fails and records nothing otherwise."
)


@dataclass
class Side:
    """One `serve` process and its fleet."""

    prefix: str
    process: Child
    api: GatewayApi
    location: str = ""
    create_seconds: float = 0.0
    names: list[str] = field(default_factory=list)


@dataclass
class Run:
    plain: tuple[Window, Window]  # window 1 (no profiles): SP process, SN process
    profiled: tuple[Window, Window]  # window 2 (SP holds profiles)
    powers: dict[str, list[dict[str, int]]]  # group -> Power.Active.Import samples by value, per window
    meter_values: dict[str, list[int]]
    install_seconds: float
    install_cpu: float
    accepted: int
    checks: list[str]
    boundary_lead: float  # seconds from the window's start to T0 (LEAD expected)
    sessions_seconds: float


def profile_payload(first_boundary: datetime) -> dict[str, Any]:
    """1.6 SetChargingProfile: a Recurring Daily TxDefaultProfile whose cycle (re)starts at `first_boundary`."""
    start = (first_boundary - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return {
        "connectorId": 0,
        "csChargingProfiles": {
            "chargingProfileId": 1,
            "stackLevel": 0,
            "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Recurring",
            "recurrencyKind": "Daily",
            "chargingSchedule": {
                "startSchedule": start,
                "chargingRateUnit": "W",
                "chargingSchedulePeriod": [{"startPeriod": s, "limit": limit} for s, limit in PERIODS],
            },
        },
    }


def expected_limit(at: datetime, first_boundary: datetime) -> float:
    elapsed = (at - first_boundary).total_seconds() % 86_400
    return [limit for start, limit in PERIODS if start <= elapsed][-1]


def sides(csms: Csms, stack: ExitStack) -> list[Side]:
    """Both `serve` processes, each with its fleet created, booted and charging."""
    found = []
    for prefix in (PROFILED, PLAIN):
        data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=f"bench-smart-{prefix}-")))
        process, url = stack.enter_context(gateway(data_dir, log=GatewayLog()))
        found.append(Side(prefix, process, stack.enter_context(GatewayApi(url)), names=identities(prefix, 0, FLEET)))
    processes = [side.process for side in found]
    for side in found:
        side.location = side.api.create_location(f"Bench smart charging {side.prefix}")
        side.create_seconds = side.api.create_chargers(side.location, side.names, csms.ws_url)
    for side in found:
        csms.wait(side.prefix, "booted", FLEET, BOOT_TIMEOUT, processes)
    return found


def start_sessions(csms: Csms, found: list[Side]) -> float:
    """Sessions on every charger, START_BATCHES batches per side a fraction of a sample interval apart."""
    started, size = time.monotonic(), -(-FLEET // START_BATCHES)
    for batch in range(START_BATCHES):
        due = started + batch * INTERVAL / START_BATCHES
        time.sleep(max(0.0, due - time.monotonic()))
        for side in found:
            names = side.names[batch * size : (batch + 1) * size]
            if names and side.api.start_sessions(side.location, ID_TAG, names) != len(names):
                raise RuntimeError(f"start-session was not queued on every charger of {side.prefix}")
    processes = [side.process for side in found]
    for side in found:
        csms.wait(side.prefix, "transactions", FLEET, SESSION_TIMEOUT, processes)
    return time.monotonic() - started


def check_limits(found: list[Side], profiled: bool, first_boundary: datetime) -> str:
    """GET /chargers/{id}/charging-profiles on CHECKED chargers of each side: the profile held and the limit now. The
    API reads what the runtime recorded, a little after the charger answered: each is asked until RECORD_TIMEOUT."""
    started, step = time.monotonic(), max(1, FLEET // CHECKED)
    for side in found:
        holds = profiled and side.prefix == PROFILED
        for name in side.names[::step][:CHECKED]:
            seen: list[str] = []

            def right(side: Side = side, name: str = name, holds: bool = holds, seen: list[str] = seen) -> bool:
                now = datetime.now(UTC)
                answer = side.api.charging_profiles(name)
                kinds = [(p["purpose"], p["kind"], p["connector_id"]) for p in answer["profiles"]]
                limits = {limit["connector_id"]: limit["limit_w"] for limit in answer["connectors"]}
                wanted = expected_limit(now, first_boundary) if holds else MODEL_MAX_W
                seen[:] = [f"{name}: profiles {kinds}, limits {limits} (expected {wanted:g} W)"]
                return kinds == ([("TxDefaultProfile", "Recurring", 0)] if holds else []) and limits.get(1) == wanted

            try:
                wait_for(right, RECORD_TIMEOUT, f"the charging profiles of {name}", interval=0.5)
            except TimeoutError:
                raise RuntimeError(f"charging profiles not as expected: {seen[0]}") from None
    checked = min(CHECKED, len(found[0].names[::step]))
    where = f"{checked} chargers of each process (all as expected {time.monotonic() - started:.1f} s after the start"
    where += " of the check)"
    return f"{where}: SP holds the TxDefaultProfile, limit_w as scheduled; SN none, 22,000 W" if profiled else where


def counts(before: dict[str, Any], after: dict[str, Any]) -> dict[str, int]:
    keys = sorted(set(before) | set(after), key=float)
    return {key: after.get(key, 0) - before.get(key, 0) for key in keys if after.get(key, 0) != before.get(key, 0)}


def window(csms: Csms, found: list[Side], name: str) -> tuple[tuple[Window, Window], dict[str, dict], dict[str, int]]:
    """Both processes over one WINDOW_SECONDS window; each group's power samples and MeterValues in it."""
    before = {side.prefix: csms.stats(side.prefix) for side in found}
    windows = measure_pair(
        found[0].process, found[1].process, csms, (found[0].prefix, found[1].prefix), WINDOW_SECONDS, name
    )
    after = {side.prefix: csms.stats(side.prefix) for side in found}
    powers = {group: counts(before[group]["powers"], after[group]["powers"]) for group in before}
    values = {group: after[group]["meter_values"] - before[group]["meter_values"] for group in before}
    return windows, powers, values


def verify_powers(powers: list[dict[str, dict[str, int]]]) -> str:
    """Window 1: 22 kW everywhere; window 2: SP only at its three limits (each seen), SN at 22 kW."""
    allowed = {f"{limit:g}" for _, limit in PERIODS}
    plain, profiled = powers
    full = {str(MODEL_MAX_W)}
    problems = [f"window 1, {group}: {seen}" for group, seen in plain.items() if set(seen) != full]
    if set(profiled[PROFILED]) != allowed:
        problems.append(f"window 2, {PROFILED}: {profiled[PROFILED]} (expected each of {sorted(allowed)})")
    if set(profiled[PLAIN]) != full:
        problems.append(f"window 2, {PLAIN}: {profiled[PLAIN]}")
    if problems:
        raise RuntimeError("the meters did not deliver what the profiles allow: " + "; ".join(problems))
    return "every sample as expected"


def install(csms: Csms, side: Side, first_boundary: datetime) -> tuple[float, float, int]:
    """SetChargingProfile to every charger of the side; (seconds to the last Accepted, its CPU meanwhile, Accepted)."""
    key = "SetChargingProfile:Accepted"
    already = csms.stats(side.prefix)["answers"].get(key, 0)
    cpu, started = side.process.cpu_seconds(), time.monotonic()
    sent = csms.push_call(side.prefix, "SetChargingProfile", profile_payload(first_boundary))
    if sent != FLEET:
        raise RuntimeError(f"SetChargingProfile reached {sent} of {FLEET} chargers")
    wait_for(
        lambda: csms.stats(side.prefix)["answers"].get(key, 0) - already >= FLEET,
        60,
        f"{FLEET} SetChargingProfile Accepted",
        watch=[side.process, csms.process],
    )
    seconds, cpu = time.monotonic() - started, side.process.cpu_seconds() - cpu
    answers = csms.stats(side.prefix)["answers"]
    accepted = answers.get(key, 0) - already
    if set(answers) - {key, "ChangeConfiguration:Accepted"}:
        raise RuntimeError(f"unexpected answers to the pushed calls: {answers}")
    return seconds, cpu, accepted


def run(csms: Csms) -> Run:
    with ExitStack() as stack:
        found = sides(csms, stack)
        processes = [side.process for side in found]
        sessions_seconds = start_sessions(csms, found)
        checks = [check_limits(found, False, datetime.now(UTC))]
        for side in found:
            settle(side.process, [*processes, csms.process])
        plain, plain_powers, plain_values = window(csms, found, "smart-no-profiles")
        first_boundary = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=INSTALL_LEAD)
        install_seconds, install_cpu, accepted = install(csms, found[0], first_boundary)
        checks.append(check_limits(found, True, first_boundary))
        for side in found:
            settle(side.process, [*processes, csms.process])
        opening = first_boundary - timedelta(seconds=LEAD)
        wait = (opening - datetime.now(UTC)).total_seconds()
        if wait < 0:
            raise RuntimeError(f"settling took too long: the window would open {-wait:.1f} s late")
        time.sleep(wait)
        boundary_lead = (first_boundary - datetime.now(UTC)).total_seconds()
        profiled, profiled_powers, profiled_values = window(csms, found, "smart-profiles")
        checks.append(check_limits(found, True, first_boundary))
        checks.append(verify_powers([plain_powers, profiled_powers]))
        for side in found:
            side.process.check()
        return Run(
            plain,
            profiled,
            {group: [plain_powers[group], profiled_powers[group]] for group in plain_powers},
            {group: [plain_values[group], profiled_values[group]] for group in plain_values},
            install_seconds,
            install_cpu,
            accepted,
            checks,
            boundary_lead,
            sessions_seconds,
        )


def per_minute(pair: tuple[Window, Window]) -> tuple[float, float]:
    return pair[0].cpu_ms_per_unit_minute(FLEET), pair[1].cpu_ms_per_unit_minute(FLEET)


def rows(result: Run) -> list[list[str]]:
    limit = budgets.SMART_CHARGING_RATIO.limit
    plain, profiled = per_minute(result.plain), per_minute(result.profiled)
    return [
        [
            f"window 1: no profile anywhere ({result.plain[0].seconds:.0f} s)",
            f"{plain[0]:.3f} ms",
            f"{plain[1]:.3f} ms",
            ratio(*plain),
            "none (noise floor, ideal 1.00x)",
            verdict(None),
        ],
        [
            f"window 2: SP holds the 3-period TxDefaultProfile, 3 boundaries ({result.profiled[0].seconds:.0f} s)",
            f"{profiled[0]:.3f} ms",
            f"{profiled[1]:.3f} ms",
            ratio(*profiled),
            f"<= {limit:g}x (ours)",
            verdict(profiled[0] / profiled[1] <= limit if profiled[1] else None),
        ],
    ]


def sample_rows(result: Run) -> list[list[str]]:
    found = []
    for index, name in enumerate(("window 1", "window 2")):
        for group in (PROFILED, PLAIN):
            seen = ", ".join(f"{int(value):,} W: {n:,}" for value, n in result.powers[group][index].items())
            found.append([name, group, f"{result.meter_values[group][index]:,}", seen or "-"])
    return found


def cpu_figure(name: str, values: tuple[float, float]) -> Figure:
    return Figure(name, round(values[0], 3), "ms", round(values[1], 3), ratio_of(*values))


def figures(result: Run) -> list[Figure]:
    plain, profiled = per_minute(result.plain), per_minute(result.profiled)
    boundaries = "3-period TxDefaultProfile (3 boundaries in the window)"
    return [
        cpu_figure(f"CPU per charger per minute, {FLEET:,} charging, {boundaries}", profiled),
        Figure("CPU with profiles vs the same fleet without (same window)", ratio_of(*profiled) or 0.0, "x"),
        cpu_figure(f"CPU per charger per minute, {FLEET:,} charging, no profile on either (noise floor)", plain),
        Figure(
            f"SetChargingProfile to {FLEET:,} chargers: push to the last Accepted",
            round(result.install_seconds, 2),
            "s",
        ),
    ]


def notes(result: Run, loads: tuple[str, str]) -> list[str]:
    plain, profiled = per_minute(result.plain), per_minute(result.profiled)
    (sp1, sn1), (sp2, sn2) = result.plain, result.profiled
    corrected = (profiled[0] / profiled[1]) / (plain[0] / plain[1]) if plain[1] and profiled[1] and plain[0] else 0
    return [
        f"Machine load (1/5/15 min) at start {loads[0]}, at end {loads[1]}; share of all cores busy (every process "
        f"on the machine) in window 1 {sp1.machine_busy:.0%}, window 2 {sp2.machine_busy:.0%}.",
        f"CPU over the windows: SP {sp1.cpu:.2f} s then {sp2.cpu:.2f} s, SN {sn1.cpu:.2f} s then {sn2.cpu:.2f} s, "
        f"lean CSMS {sp1.csms_cpu:.2f} s then {sp2.csms_cpu:.2f} s. Each process from window 1 to window 2: SP "
        f"{ratio(sp2.cpu, sp1.cpu)}, SN {ratio(sn2.cpu, sn1.cpu)}; window 2's ratio over window 1's (the noise floor "
        f"divided out): {corrected:.2f}x.",
        f"Heartbeats answered: window 1 SP {sp1.heartbeats:,}, SN {sn1.heartbeats:,}; window 2 SP {sp2.heartbeats:,}, "
        f"SN {sn2.heartbeats:,} (about {FLEET:,} each expected).",
        f"Sessions: {FLEET:,} per process started in {START_BATCHES} batches, all StartTransactions answered "
        f"{result.sessions_seconds:.0f} s after the first batch.",
        f"Profiles: {result.accepted:,} SetChargingProfile Accepted of {FLEET:,} sent, the last "
        f"{result.install_seconds:.2f} s after the push; SP's CPU meanwhile {result.install_cpu:.2f} s. "
        f"Window 2 opened {result.boundary_lead:.1f} s before the first boundary ({LEAD:g} s intended).",
        "Checks through GET /chargers/{id}/charging-profiles: before the profiles, "
        f"{result.checks[0]}; after the push, {result.checks[1]}; after window 2, {result.checks[2]}. MeterValues' "
        f"Power.Active.Import samples: {result.checks[3]} (table above).",
    ]


def main() -> int:
    started = time.monotonic()
    fd = raise_fd_limit()
    load_at_start, code_at_start = load_average(), source_stamp()
    print(f"Smart charging benchmark: {machine()}\n{fd.describe(2 * FLEET + 100)}", file=sys.stderr)
    print(f"  load {load_at_start}; two serve processes of {FLEET:,} chargers ...", file=sys.stderr, flush=True)
    with lean_csms(INTERVAL) as csms:
        result = run(csms)
    cpu_table = table(
        [
            f"CPU per charger per minute ({FLEET:,} chargers charging in each process)",
            "SP: with profiles in window 2",
            "SN: never a profile",
            "SP vs SN",
            "budget",
            "result",
        ],
        rows(result),
    )
    samples_table = table(
        ["window", "group", "MeterValues", "Power.Active.Import samples by value"], sample_rows(result), left=2
    )
    remarks = print_run([cpu_table, samples_table], notes(result, (load_at_start, load_average())), code_at_start)
    append_section(
        "Smart charging",
        [
            f"Machine: {machine()}.",
            "",
            METHOD,
            "",
            cpu_table,
            "",
            "What the meters delivered, as the CSMS received it (MeterValues, 60 s sample interval):",
            "",
            samples_table,
            "",
            "Notes:",
            "",
            *(f"- {line}" for line in remarks),
        ],
        "smart-charging",
        figures(result),
    )
    print(f"smart charging benchmark done in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return 0
