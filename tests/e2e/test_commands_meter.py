"""Meter physics of a running session, both OCPP versions (simulation.md: start-session, power-update,
ev-stops-energy / ev-requests-energy; contract 'Power'): periodic samples every configured interval, the energy
register integrates the delivered power over time, power changes and EV suspension show up in the samples, and
the transaction ends on the final register.

The 180 kW DC model charges 50 Wh a second: large enough that integer registers measure the rate well."""

from __future__ import annotations

import itertools

import pytest

from adapters.csms.server import CsmsServer
from tests.e2e.commands import (
    ENERGY,
    POWER,
    TAG,
    calls_since,
    command,
    completed,
    energy,
    mark,
    max_power_w,
    periodic_samples,
    power,
    reading,
    readings,
    run,
    sample_every_second,
    sampled_at,
    start_transaction_answer,
    wait_call,
    wait_samples,
    wait_status,
)
from tests.e2e.conftest import DC, Api, Charger, CsmsFactory, boot, never

HEARTBEAT = 5
MAX_POWER_W = max_power_w(DC)
"""180 kW: the DC model's max power (catalog: max_power_w)."""


@pytest.fixture
async def csms(csms_factory: CsmsFactory) -> CsmsServer:
    return await csms_factory(heartbeat_interval=HEARTBEAT)


@pytest.fixture
async def cp(api: Api, csms: CsmsServer, version: str) -> Charger:
    """A booted DC charger sampling its meter every second."""
    charger = await boot(api, csms, version, DC)
    await sample_every_second(api, charger.id, version)
    return charger


async def start_session(api: Api, csms: CsmsServer, cp: Charger) -> tuple[str, float]:
    """Starts a session on connector / EVSE 1; (transaction id, register at the start)."""
    since = mark(csms, cp.identity)
    await run(api, cp.id, "start-session", {"id_tag": TAG})
    if cp.version == "OCPP1.6":
        await wait_status(csms, cp.identity, since, cp.version, "Charging")
        [start] = [p for a, p in calls_since(csms, cp.identity, since) if a == "StartTransaction"]
        return str(start_transaction_answer(csms, cp.identity)["transactionId"]), float(start["meterStart"])
    [started] = await wait_call(csms, cp.identity, since, "TransactionEvent", lambda p: p["eventType"] == "Started")
    return started["transactionInfo"]["transactionId"], reading(cp.version, started["meterValue"], ENERGY).value


def transaction_of(version: str, sample: dict) -> str:
    if version == "OCPP1.6":
        return str(sample.get("transactionId"))
    return sample["transactionInfo"]["transactionId"]


def assert_energy_follows_power(version: str, earlier: dict, later: dict, watts: float) -> None:
    """Between two samples at constant power, the register grew by power x time (within a generous 30 % + 2 Wh)."""
    seconds = (sampled_at(version, later) - sampled_at(version, earlier)).total_seconds()
    grown = energy(version, later) - energy(version, earlier)
    expected = watts * seconds / 3600
    assert abs(grown - expected) <= 0.3 * expected + 2, (
        f"the register grew {grown} Wh in {seconds:.3f} s at {watts} W; expected about {expected:.1f} Wh"
    )


async def test_periodic_meter_values_report_the_register_and_the_power_of_the_running_transaction(
    api: Api, csms: CsmsServer, cp: Charger, version: str
) -> None:
    since = mark(csms, cp.identity)
    transaction, start = await start_session(api, csms, cp)
    samples = await wait_samples(csms, cp.identity, since, version, count=3)

    for sample in samples:
        assert transaction_of(version, sample) == transaction
        if version == "OCPP1.6":
            assert sample["connectorId"] == 1
        found = readings(version, sample["meterValue"])
        assert {r.measurand for r in found} == {ENERGY, POWER}
        assert {r.context for r in found} == {"Sample.Periodic"}
        assert reading(version, sample["meterValue"], ENERGY).unit == "Wh"
        assert reading(version, sample["meterValue"], POWER).unit == "W"
        assert power(version, sample) == MAX_POWER_W

    registers = [energy(version, s) for s in samples]
    assert start < registers[0] < registers[1] < registers[2], registers
    for earlier, later in itertools.pairwise(samples):
        gap = (sampled_at(version, later) - sampled_at(version, earlier)).total_seconds()
        assert 0.5 <= gap <= 1.8, f"samples {gap:.3f} s apart with a 1 s interval"
        assert_energy_follows_power(version, earlier, later, MAX_POWER_W)


async def test_power_update_changes_the_reported_power_and_the_rate_the_register_grows(
    api: Api, csms: CsmsServer, cp: Charger, version: str
) -> None:
    await start_session(api, csms, cp)
    await wait_samples(csms, cp.identity, 0, version, count=1)

    queued = await command(api, cp.id, "power-update", {"power_w": 90_000})
    assert queued["event_type"] == "power_update"
    assert queued["payload"]["power_w"] == 90_000
    await completed(api, queued)
    updated = mark(csms, cp.identity)
    half = await wait_samples(csms, cp.identity, updated, version, count=2, where=lambda s: power(version, s) == 90_000)
    assert_energy_follows_power(version, half[-2], half[-1], 90_000)

    await run(api, cp.id, "power-update", {"power_w": 500_000})  # more than the model can deliver
    capped = mark(csms, cp.identity)
    samples = await wait_samples(csms, cp.identity, capped, version, count=2)
    assert power(version, samples[-1]) == MAX_POWER_W, "power-update is capped at the model's max power"
    assert all(power(version, s) <= MAX_POWER_W for s in samples)


async def test_ev_stops_energy_suspends_charging_with_no_power_and_ev_requests_energy_resumes_it(
    api: Api, csms: CsmsServer, cp: Charger, version: str
) -> None:
    transaction, _ = await start_session(api, csms, cp)
    await wait_samples(csms, cp.identity, 0, version, count=1)

    stopping = mark(csms, cp.identity)
    queued = await command(api, cp.id, "ev-stops-energy")
    assert queued["event_type"] == "ev_stops_energy"
    await completed(api, queued)
    if version == "OCPP1.6":
        await wait_status(csms, cp.identity, stopping, version, "SuspendedEV")
    else:
        [suspended] = await wait_call(
            csms,
            cp.identity,
            stopping,
            "TransactionEvent",
            lambda p: p["eventType"] == "Updated" and p["transactionInfo"].get("chargingState") == "SuspendedEV",
        )
        assert suspended["transactionInfo"]["transactionId"] == transaction
    idle = await wait_samples(csms, cp.identity, stopping, version, count=2, where=lambda s: power(version, s) == 0)
    assert energy(version, idle[-1]) == energy(version, idle[-2]), "the register grows while the EV draws nothing"
    assert all(transaction_of(version, s) == transaction for s in idle)

    resuming = mark(csms, cp.identity)
    queued = await command(api, cp.id, "ev-requests-energy")
    assert queued["event_type"] == "ev_requests_energy"
    await completed(api, queued)
    if version == "OCPP1.6":
        await wait_status(csms, cp.identity, resuming, version, "Charging")
    else:
        await wait_call(
            csms,
            cp.identity,
            resuming,
            "TransactionEvent",
            lambda p: p["eventType"] == "Updated" and p["transactionInfo"].get("chargingState") == "Charging",
        )
    charging = await wait_samples(
        csms, cp.identity, resuming, version, count=2, where=lambda s: power(version, s) == MAX_POWER_W
    )
    assert energy(version, charging[-1]) > energy(version, charging[-2]) >= energy(version, idle[-1])


async def test_the_transaction_ends_on_the_final_register_and_sampling_stops(
    api: Api, csms: CsmsServer, cp: Charger, version: str
) -> None:
    transaction, start = await start_session(api, csms, cp)
    samples = await wait_samples(csms, cp.identity, 0, version, count=2)
    stopping = mark(csms, cp.identity)

    await run(api, cp.id, "stop-session")
    last_sampled = energy(version, periodic_samples(csms, cp.identity, 0, version)[-1])
    assert last_sampled >= energy(version, samples[-1])
    if version == "OCPP1.6":
        [stop] = await wait_call(csms, cp.identity, stopping, "StopTransaction")
        assert str(stop["transactionId"]) == transaction
        assert stop["meterStop"] >= last_sampled > start
        ends = [r for r in readings(version, stop.get("transactionData") or []) if r.measurand == ENERGY]
        assert ends and ends[-1].value == stop["meterStop"], stop
    else:
        [ended] = await wait_call(csms, cp.identity, stopping, "TransactionEvent", lambda p: p["eventType"] == "Ended")
        final = reading(version, ended["meterValue"], ENERGY)
        assert final.context == "Transaction.End"
        assert final.value >= last_sampled > start
        events = [p for a, p in calls_since(csms, cp.identity, 0) if a == "TransactionEvent"]
        assert {e["transactionInfo"]["transactionId"] for e in events} == {transaction}
        assert events[0]["eventType"] == "Started" and events[-1]["eventType"] == "Ended"
        seq_nos = [e["seqNo"] for e in events]
        assert seq_nos == list(range(seq_nos[0], seq_nos[0] + len(seq_nos))), f"seqNo not consecutive: {seq_nos}"

    after = mark(csms, cp.identity)
    await never(
        lambda: periodic_samples(csms, cp.identity, after, version),
        duration=1.5,
        what="meter samples after the transaction ended",
    )
