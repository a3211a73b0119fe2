"""Smart charging on the wire, both OCPP versions, against the schema-validating CSMS: the limits a CSMS sets
shape the power its meter values report, GetCompositeSchedule answers the limits in force, a TxProfile lives as
long as its transaction, and the REST view shows what the charger holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ocpp.v16 import call as call16
from ocpp.v201 import call as call201

from adapters.csms.server import CsmsServer
from tests.e2e.commands import (
    TAG,
    calls_since,
    energy,
    mark,
    power,
    reading,
    run,
    sample_every_second,
    sampled_at,
    start_transaction_answer,
    wait_call,
    wait_samples,
    wait_status,
)
from tests.e2e.conftest import AC, Api, Charger, CsmsFactory, boot

MODEL_W = 22_000  # the AC model's max power
HEARTBEAT = 5


@pytest.fixture
async def csms(csms_factory: CsmsFactory) -> CsmsServer:
    return await csms_factory(heartbeat_interval=HEARTBEAT)


@pytest.fixture
async def cp(api: Api, csms: CsmsServer, version: str) -> Charger:
    """A booted 22 kW three-phase AC charger sampling its meter every second."""
    charger = await boot(api, csms, version, AC)
    await sample_every_second(api, charger.id, version)
    return charger


def profile(
    version: str, id: int, purpose: str, periods: list[tuple[int, float]], unit: str = "W", **fields: Any
) -> dict[str, Any]:
    """A charging profile in the version's shape (snake_case, as the ocpp library sends it)."""
    schedule = {
        "charging_rate_unit": unit,
        "charging_schedule_period": [{"start_period": start, "limit": limit} for start, limit in periods],
    }
    if version == "OCPP1.6":
        return {
            "charging_profile_id": id,
            "stack_level": 0,
            "charging_profile_purpose": purpose,
            "charging_profile_kind": "Relative",
            "charging_schedule": schedule,
            **fields,
        }
    purpose = "ChargingStationMaxProfile" if purpose == "ChargePointMaxProfile" else purpose
    return {
        "id": id,
        "stack_level": 0,
        "charging_profile_purpose": purpose,
        "charging_profile_kind": "Relative",
        "charging_schedule": [{"id": 1, **schedule}],
        **fields,
    }


def schedule_of(version: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The profile's (first) charging schedule."""
    return payload["charging_schedule"] if version == "OCPP1.6" else payload["charging_schedule"][0]


async def set_profile(csms: CsmsServer, cp: Charger, target: int, payload: dict[str, Any]) -> Any:
    if cp.version == "OCPP1.6":
        return await csms.call(
            cp.identity, call16.SetChargingProfile(connector_id=target, cs_charging_profiles=payload)
        )
    return await csms.call(cp.identity, call201.SetChargingProfile(evse_id=target, charging_profile=payload))


async def composite(csms: CsmsServer, cp: Charger, target: int, duration: int, unit: str) -> dict[str, Any]:
    """The composite schedule's chargingSchedule (1.6) / schedule (2.0.1)."""
    if cp.version == "OCPP1.6":
        answer = await csms.call(
            cp.identity, call16.GetCompositeSchedule(connector_id=target, duration=duration, charging_rate_unit=unit)
        )
        assert answer.status == "Accepted"
        return answer.charging_schedule
    answer = await csms.call(
        cp.identity, call201.GetCompositeSchedule(evse_id=target, duration=duration, charging_rate_unit=unit)
    )
    assert answer.status == "Accepted"
    return answer.schedule


async def start_session(api: Api, csms: CsmsServer, cp: Charger) -> tuple[str, datetime]:
    """Starts a session on connector / EVSE 1; (transaction id, its start time as the CSMS was told)."""
    since = mark(csms, cp.identity)
    await run(api, cp.id, "start-session", {"id_tag": TAG})
    if cp.version == "OCPP1.6":
        await wait_status(csms, cp.identity, since, cp.version, "Charging")
        [start] = [p for a, p in calls_since(csms, cp.identity, since) if a == "StartTransaction"]
        return str(start_transaction_answer(csms, cp.identity)["transactionId"]), datetime.fromisoformat(
            start["timestamp"]
        )
    [started] = await wait_call(csms, cp.identity, since, "TransactionEvent", lambda p: p["eventType"] == "Started")
    return started["transactionInfo"]["transactionId"], datetime.fromisoformat(started["timestamp"])


def periods_of(schedule: dict[str, Any]) -> list[tuple[int, float, int | None]]:
    """(startPeriod, limit, numberPhases) of a composite schedule (the CSMS decodes numbers as Decimal)."""
    return [
        (p["start_period"], float(p["limit"]), p.get("number_phases")) for p in schedule["charging_schedule_period"]
    ]


def tx_field(version: str, transaction: str) -> dict[str, Any]:
    return {"transaction_id": int(transaction) if version == "OCPP1.6" else transaction}


async def charging_profiles(api: Api, charger_id: str) -> dict[str, Any]:
    response = await api.http.get(f"/chargers/{charger_id}/charging-profiles")
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_tx_profile_limits_the_delivered_power_at_once_and_clearing_it_restores_the_model_power(
    api: Api, csms: CsmsServer, cp: Charger, version: str
) -> None:
    transaction, _ = await start_session(api, csms, cp)
    await wait_samples(csms, cp.identity, 0, version, count=1, where=lambda s: power(version, s) == MODEL_W)

    limited = profile(version, 7, "TxProfile", [(0, 3680)], **tx_field(version, transaction))
    assert (await set_profile(csms, cp, 1, limited)).status == "Accepted"
    after = mark(csms, cp.identity)
    samples = await wait_samples(csms, cp.identity, after, version, count=3)
    assert [power(version, s) for s in samples] == [3680, 3680, 3680], "every sample after the answer is limited"
    seconds = (sampled_at(version, samples[-1]) - sampled_at(version, samples[0])).total_seconds()
    grown = energy(version, samples[-1]) - energy(version, samples[0])
    assert abs(grown - 3680 * seconds / 3600) <= 2, f"{grown} Wh in {seconds:.2f} s at 3,680 W"
    offered = reading(version, samples[-1]["meterValue"], "Power.Active.Import")
    assert offered.unit == "W"

    in_amperes = await composite(csms, cp, 1, 600, "A")
    assert in_amperes["charging_rate_unit"] == "A"
    assert periods_of(in_amperes) == [(0, 5.3, 3)]
    in_watts = await composite(csms, cp, 1, 600, "W")
    assert periods_of(in_watts) == [(0, 3680.0, None)]

    view = await charging_profiles(api, cp.id)
    assert [(p["id"], p["purpose"], p["connector_id"]) for p in view["profiles"]] == [(7, "TxProfile", 1)]
    assert {c["connector_id"]: c["limit_w"] for c in view["connectors"]} == {1: 3680.0}

    if version == "OCPP1.6":
        cleared = await csms.call(cp.identity, call16.ClearChargingProfile(id=7))
    else:
        cleared = await csms.call(cp.identity, call201.ClearChargingProfile(charging_profile_id=7))
    assert cleared.status == "Accepted"
    restored = mark(csms, cp.identity)
    samples = await wait_samples(csms, cp.identity, restored, version, count=2)
    assert [power(version, s) for s in samples] == [MODEL_W, MODEL_W]
    assert (await charging_profiles(api, cp.id))["profiles"] == []


async def test_a_default_profile_steps_the_power_down_at_its_period_boundary_and_a_tx_profile_ends_with_its_session(
    api: Api, csms: CsmsServer, cp: Charger, version: str
) -> None:
    steps = profile(version, 3, "TxDefaultProfile", [(0, 11_000), (4, 4_140)])
    assert (await set_profile(csms, cp, 0, steps)).status == "Accepted"
    since = mark(csms, cp.identity)
    transaction, started = await start_session(api, csms, cp)

    samples = await wait_samples(csms, cp.identity, since, version, count=7)
    for sample in samples:
        elapsed = (sampled_at(version, sample) - started).total_seconds()
        if elapsed < 3.9:
            assert power(version, sample) == 11_000, f"{elapsed:.2f} s into the session"
        elif elapsed >= 4.1:
            assert power(version, sample) == 4_140, f"{elapsed:.2f} s into the session"
    assert periods_of(await composite(csms, cp, 1, 60, "W"))[-1][1] == 4140.0

    one_phase = profile(version, 8, "TxProfile", [(0, 16)], unit="A", **tx_field(version, transaction))
    schedule_of(version, one_phase)["charging_schedule_period"][0]["number_phases"] = 1
    assert (await set_profile(csms, cp, 1, one_phase)).status == "Accepted"
    limited = mark(csms, cp.identity)
    samples = await wait_samples(csms, cp.identity, limited, version, count=1)
    assert power(version, samples[0]) == 3680, "16 A on one phase at 230 V"

    await run(api, cp.id, "stop-session", {"connector_id": 1} if version == "OCPP1.6" else {"evse_id": 1})
    view = await charging_profiles(api, cp.id)
    assert [(p["id"], p["purpose"]) for p in view["profiles"]] == [(3, "TxDefaultProfile")]
    assert view["connectors"] == [{"connector_id": 1, "limit_w": 11_000.0, "transaction_id": None}]


async def test_profiles_the_charger_cannot_apply_are_rejected_and_change_nothing(
    api: Api, csms: CsmsServer, cp: Charger, version: str
) -> None:
    no_session = profile(version, 1, "TxProfile", [(0, 3680)])
    assert (await set_profile(csms, cp, 1, no_session)).status == "Rejected"
    station_wide_on_a_connector = profile(
        version, 2, "ChargePointMaxProfile", [(0, 3680)], charging_profile_kind="Absolute"
    )
    assert (await set_profile(csms, cp, 1, station_wide_on_a_connector)).status == "Rejected"
    assert (await set_profile(csms, cp, 9, profile(version, 3, "TxDefaultProfile", [(0, 1)]))).status == "Rejected"
    assert (await charging_profiles(api, cp.id))["profiles"] == []


async def test_a_station_maximum_caps_the_session_and_shows_in_the_composite_schedule(
    api: Api, csms: CsmsServer, cp: Charger, version: str
) -> None:
    start = (datetime.now(UTC) - timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
    station_max = profile(version, 4, "ChargePointMaxProfile", [(0, 7_000)], charging_profile_kind="Absolute")
    schedule_of(version, station_max)["start_schedule"] = start
    assert (await set_profile(csms, cp, 0, station_max)).status == "Accepted"
    since = mark(csms, cp.identity)
    await start_session(api, csms, cp)
    samples = await wait_samples(csms, cp.identity, since, version, count=2)
    assert {power(version, s) for s in samples} == {7_000}
    assert (await composite(csms, cp, 0, 300, "W"))["charging_schedule_period"] == [
        {"start_period": 0, "limit": 7000.0}
    ]
