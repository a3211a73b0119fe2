"""Smart charging decisions: parsing both versions' profiles, stacking, and the composite schedule."""

from datetime import UTC, datetime, timedelta

import pytest

from domain.chargepoint.smart_charging import (
    STATION_MAX,
    ChargingProfiles,
    Period,
    ProfileRejected,
    Supply,
    Transaction,
    allocate,
    parse_profile,
)

T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
AC = Supply(max_power_w=22_000, phases=3)
TX = Transaction("tx-1", T0)


def profile16(id: int, purpose: str, limit: float, stack_level: int = 0, connector: int = 1, **schedule) -> dict:
    """A 1.6 csChargingProfiles payload (snake_case, as the ocpp library hands it over)."""
    periods = schedule.pop("periods", [{"start_period": 0, "limit": limit}])
    return {
        "charging_profile_id": id,
        "stack_level": stack_level,
        "charging_profile_purpose": purpose,
        "charging_profile_kind": schedule.pop("kind", "Relative"),
        **{
            k: schedule.pop(k) for k in ("valid_from", "valid_to", "recurrency_kind", "transaction_id") if k in schedule
        },
        "charging_schedule": {
            "charging_rate_unit": schedule.pop("unit", "W"),
            "charging_schedule_period": periods,
            **schedule,
        },
    }


def held(*payloads: tuple[dict, int]) -> ChargingProfiles:
    profiles = ChargingProfiles()
    for payload, connector in payloads:
        profiles.install(parse_profile(payload, connector, T0), TX)
    return profiles


def test_a_16_tx_profile_in_watts_limits_the_connector():
    profiles = held((profile16(1, "TxProfile", 3680), 1))
    assert profiles.connector_limit_w(T0, 1, AC, TX) == 3680


def test_a_201_profile_uses_its_first_schedule_and_amperes_become_watts_with_the_phases():
    payload = {
        "id": 5,
        "stack_level": 0,
        "charging_profile_purpose": "TxDefaultProfile",
        "charging_profile_kind": "Absolute",
        "charging_schedule": [
            {"id": 1, "charging_rate_unit": "A", "charging_schedule_period": [{"start_period": 0, "limit": 16}]}
        ],
    }
    profiles = ChargingProfiles([parse_profile(payload, 0, T0)])
    assert profiles.connector_limit_w(T0, 1, AC, TX) == 16 * 230 * 3
    single = {**payload, "charging_schedule": [{**payload["charging_schedule"][0]}]}
    single["charging_schedule"][0]["charging_schedule_period"] = [{"start_period": 0, "limit": 16, "number_phases": 1}]
    assert ChargingProfiles([parse_profile(single, 0, T0)]).connector_limit_w(T0, 1, AC, TX) == 16 * 230
    one_phase_model = Supply(max_power_w=7_400, phases=1)
    assert ChargingProfiles([parse_profile(payload, 0, T0)]).connector_limit_w(T0, 1, one_phase_model, TX) == 3680


def test_the_highest_stack_level_wins_and_a_tx_profile_overrides_the_default_whatever_its_level():
    profiles = held(
        (profile16(1, "TxDefaultProfile", 11_000, stack_level=1), 0),
        (profile16(2, "TxDefaultProfile", 7_000, stack_level=2), 0),
    )
    assert profiles.connector_limit_w(T0, 1, AC, TX) == 7_000
    profiles.install(parse_profile(profile16(3, "TxProfile", 9_000, stack_level=0), 1, T0), TX)
    assert profiles.connector_limit_w(T0, 1, AC, TX) == 9_000
    assert profiles.transaction_ended(1) == [3]
    assert profiles.connector_limit_w(T0, 1, AC, TX) == 7_000


def test_the_station_maximum_caps_every_purpose_and_the_hardware_caps_everything():
    profiles = held(
        (profile16(1, "ChargePointMaxProfile", 5_000, kind="Absolute"), 0), (profile16(2, "TxProfile", 9_000), 1)
    )
    assert profiles.connector_limit_w(T0, 1, AC, TX) == 5_000
    assert held((profile16(3, "TxProfile", 50_000), 1)).connector_limit_w(T0, 1, AC, TX) == 22_000


def test_a_relative_schedule_runs_from_the_transaction_start_and_ends_with_its_duration():
    payload = profile16(
        1,
        "TxDefaultProfile",
        0,
        periods=[{"start_period": 0, "limit": 11_000}, {"start_period": 600, "limit": 4_000}],
        duration=1800,
    )
    profiles = held((payload, 1))
    late = Transaction("tx-2", T0 + timedelta(hours=1))
    assert profiles.connector_limit_w(late.started + timedelta(seconds=599), 1, AC, late) == 11_000
    assert profiles.connector_limit_w(late.started + timedelta(seconds=600), 1, AC, late) == 4_000
    assert profiles.connector_limit_w(late.started + timedelta(seconds=1800), 1, AC, late) == 22_000


def test_a_daily_recurring_schedule_repeats_and_validity_bounds_it():
    payload = profile16(
        1,
        "TxDefaultProfile",
        0,
        kind="Recurring",
        recurrency_kind="Daily",
        start_schedule="2026-12-01T18:00:00Z",
        duration=3 * 3600,
        periods=[{"start_period": 0, "limit": 3_000}],
        valid_to="2026-12-05T00:00:00Z",
    )
    profiles = held((payload, 0))
    evening = datetime(2026, 12, 4, 19, 0, tzinfo=UTC)
    assert profiles.connector_limit_w(evening, 1, AC, TX) == 3_000
    assert profiles.connector_limit_w(evening + timedelta(hours=3), 1, AC, TX) == 22_000
    assert profiles.connector_limit_w(evening + timedelta(days=1), 1, AC, TX) == 22_000  # past validTo


def test_the_composite_schedule_has_one_period_per_change_in_the_requested_unit():
    payload = profile16(
        1,
        "TxProfile",
        0,
        periods=[
            {"start_period": 0, "limit": 11_040},
            {"start_period": 900, "limit": 4_140},
            {"start_period": 1800, "limit": 4_140},
        ],
    )
    profiles = held((payload, 1))
    assert profiles.composite(T0, 3600, 1, AC, TX, "W") == [Period(0, 11_040), Period(900, 4_140)]
    assert profiles.composite(T0, 3600, 1, AC, TX, "A") == [Period(0, 16.0, 3), Period(900, 6.0, 3)]
    assert profiles.composite(T0 + timedelta(seconds=300), 3600, 1, AC, TX, "W") == [
        Period(0, 11_040),
        Period(600, 4_140),
    ]
    assert profiles.next_change(T0, 1, TX) == T0 + timedelta(seconds=900)


def test_installing_replaces_the_same_id_or_slot_and_refuses_what_the_charger_cannot_hold():
    profiles = ChargingProfiles(max_installed=2, max_stack_level=3)
    profiles.install(parse_profile(profile16(1, "TxDefaultProfile", 1_000), 1, T0), None)
    assert profiles.install(parse_profile(profile16(2, "TxDefaultProfile", 2_000), 1, T0), None) == [1]
    profiles.install(parse_profile(profile16(3, "TxDefaultProfile", 3_000, stack_level=1), 1, T0), None)
    with pytest.raises(ProfileRejected, match="maximum of 2"):
        profiles.install(parse_profile(profile16(4, "TxDefaultProfile", 4_000, stack_level=2), 1, T0), None)
    with pytest.raises(ProfileRejected, match="stack level 4"):
        profiles.install(parse_profile(profile16(2, "TxDefaultProfile", 4_000, stack_level=4), 1, T0), None)
    with pytest.raises(ProfileRejected, match="no transaction"):
        profiles.install(parse_profile(profile16(2, "TxProfile", 4_000), 1, T0), None)
    with pytest.raises(ProfileRejected, match="not the one"):
        profiles.install(parse_profile(profile16(2, "TxProfile", 4_000, transaction_id=9), 1, T0), TX)
    assert sorted(profiles.profiles) == [2, 3]


@pytest.mark.parametrize(
    ("payload", "connector", "reason"),
    [
        (profile16(1, "ChargePointMaxProfile", 1_000), 1, "whole charger"),
        (profile16(1, "TxProfile", 1_000), 0, "needs a connector"),
        (profile16(1, "TxDefaultProfile", 0, periods=[{"start_period": 5, "limit": 1}]), 1, "start at 0"),
        (profile16(1, "TxDefaultProfile", -1), 1, "negative"),
        (profile16(1, "TxDefaultProfile", 1, kind="Recurring"), 1, "recurrencyKind"),
        ({"charging_profile_id": 1}, 1, "malformed"),
        (profile16(1, "ChargePointMaxProfile", 1_000), 0, "cannot be Relative"),
    ],
)
def test_profiles_the_charger_cannot_apply_are_rejected_with_a_reason(payload, connector, reason):
    with pytest.raises(ProfileRejected, match=reason):
        parse_profile(payload, connector, T0)


def test_clearing_matches_every_given_criterion():
    profiles = held(
        (profile16(1, "TxDefaultProfile", 1_000, stack_level=0), 1),
        (profile16(2, "TxDefaultProfile", 1_000, stack_level=1), 1),
        (profile16(3, "ChargePointMaxProfile", 1_000, kind="Absolute"), 0),
    )
    assert profiles.clear(purpose="TxDefaultProfile", stack_level=1) == [2]
    assert profiles.clear(purpose="ChargePointMaxProfile") == [3]
    assert profiles.clear(connector=2) == []
    assert profiles.clear() == [1]


def test_the_station_maximum_is_shared_between_charging_connectors():
    assert allocate(10_000, {1: 22_000, 2: 22_000}) == {1: 5_000, 2: 5_000}
    assert allocate(10_000, {1: 2_000, 2: 22_000}) == {1: 2_000, 2: 8_000}
    assert allocate(None, {1: 7_000}) == {1: 7_000}
    assert profile_station_parse_is(STATION_MAX)


def profile_station_parse_is(purpose: str) -> bool:
    return parse_profile(profile16(9, "ChargePointMaxProfile", 1, kind="Absolute"), 0, T0).purpose == purpose


def test_without_a_transaction_a_relative_schedule_never_wakes_the_charger():
    steps = profile16(
        1, "TxDefaultProfile", 0, periods=[{"start_period": 0, "limit": 11_000}, {"start_period": 60, "limit": 4_000}]
    )
    profiles = held((steps, 0))
    assert profiles.next_change(T0, 1, None) is None
    assert profiles.next_change(T0, 1, TX) == T0 + timedelta(seconds=60)
