"""Properties of the composite limit over generated profile sets: never above a limit that applies, the highest
stack level wins per purpose, the schedule agrees with the instant limit, and the station maximum is shared."""

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import assume, given
from hypothesis import strategies as st

from domain.chargepoint.smart_charging import (
    STATION_MAX,
    TX,
    TX_DEFAULT,
    ChargingProfile,
    ChargingProfiles,
    Period,
    Supply,
    Transaction,
    allocate,
)

T0 = datetime(2026, 12, 4, tzinfo=UTC)
SUPPLIES = st.builds(
    Supply,
    max_power_w=st.sampled_from([3_680, 11_000, 22_000, 50_000]),
    phases=st.sampled_from([1, 3]),
    dc=st.booleans(),
)


@st.composite
def schedules(draw) -> tuple[Period, ...]:
    starts = sorted(draw(st.sets(st.integers(1, 7200), max_size=3)))
    unit_limits = st.floats(0, 40_000, allow_nan=False).map(lambda value: round(value, 1))
    return tuple(Period(start, draw(unit_limits), draw(st.sampled_from([None, 1, 3]))) for start in [0, *starts])


@st.composite
def profiles(draw, id: int) -> ChargingProfile:
    purpose = draw(st.sampled_from([STATION_MAX, TX_DEFAULT, TX]))
    connector = 0 if purpose == STATION_MAX else (1 if purpose == TX else draw(st.sampled_from([0, 1])))
    kind = draw(st.sampled_from(["Absolute", "Recurring"] + ([] if purpose == STATION_MAX else ["Relative"])))
    offset = draw(st.integers(-3 * 86_400, 86_400))
    valid_from = draw(st.none() | st.integers(-86_400, 86_400).map(lambda s: T0 + timedelta(seconds=s)))
    valid_to = draw(st.none() | st.integers(0, 2 * 86_400).map(lambda s: T0 + timedelta(seconds=s)))
    return ChargingProfile(
        id=id,
        connector=connector,
        stack_level=draw(st.integers(0, 3)),
        purpose=purpose,
        kind=kind,
        unit=draw(st.sampled_from(["W", "A"])),
        periods=draw(schedules()),
        recurrency=draw(st.sampled_from(["Daily", "Weekly"])) if kind == "Recurring" else None,
        valid_from=valid_from,
        valid_to=valid_to,
        start_schedule=None if kind == "Relative" else T0 + timedelta(seconds=offset),
        duration=draw(st.none() | st.integers(1, 20_000)),
    )


@st.composite
def profile_sets(draw) -> ChargingProfiles:
    held = ChargingProfiles(max_installed=100)
    for id in range(draw(st.integers(0, 6))):
        held.profiles[id] = draw(profiles(id))
    return held


INSTANTS = st.integers(0, 2 * 86_400).map(lambda s: T0 + timedelta(seconds=s))
TRANSACTION = Transaction("tx", T0 + timedelta(hours=1))


def winners(held: ChargingProfiles, at: datetime, supply: Supply) -> dict[str, float]:
    """The oracle: per purpose, the limit (W) of the applicable profile with the highest stack level."""
    found: dict[str, tuple[int, bool, float]] = {}
    for profile in held.profiles.values():
        period = profile.limit_at(at, TRANSACTION, at)
        if period is None:
            continue
        rank = (profile.stack_level, profile.connector != 0)
        best = found.get(profile.purpose)
        if best is None or rank > best[:2]:
            found[profile.purpose] = (*rank, supply.watts(period.limit, profile.unit, period.number_phases))
    return {purpose: limit for purpose, (_, _, limit) in found.items()}


@given(profile_sets(), INSTANTS, SUPPLIES)
def test_the_limit_is_the_least_of_the_hardware_the_station_maximum_and_the_winning_transaction_limit(held, at, supply):
    won = winners(held, at, supply)
    limit = held.connector_limit_w(at, 1, supply, TRANSACTION)
    transaction_limit = won.get(TX, won.get(TX_DEFAULT))
    expected = min(x for x in (supply.max_power_w, won.get(STATION_MAX), transaction_limit) if x is not None)
    assert limit == expected
    assert limit <= supply.max_power_w


@given(profile_sets(), INSTANTS, SUPPLIES, st.floats(0, 30_000, allow_nan=False), st.sampled_from([STATION_MAX, TX]))
def test_a_profile_above_every_stack_level_bounds_the_limit_at_all_times(held, at, supply, cap, purpose):
    top = ChargingProfile(
        id=99,
        connector=0 if purpose == STATION_MAX else 1,
        stack_level=4,
        purpose=purpose,
        kind="Absolute",
        unit="W",
        periods=(Period(0, cap),),
        start_schedule=T0 - timedelta(days=1),
    )
    held.profiles[top.id] = top
    assert held.connector_limit_w(at, 1, supply, TRANSACTION) <= cap


@given(profile_sets(), st.integers(0, 86_400), st.integers(60, 86_400), SUPPLIES, st.data())
def test_the_composite_schedule_agrees_with_the_limit_at_every_instant_of_its_window(
    held, offset, duration, supply, data
):
    start = T0 + timedelta(seconds=offset)
    periods = held.composite(start, duration, 1, supply, TRANSACTION, "W")
    assert periods[0].start == 0
    assert [p.start for p in periods] == sorted({p.start for p in periods})
    assert all(a.limit != b.limit for a, b in itertools.pairwise(periods))
    second = data.draw(st.integers(0, duration - 1))
    in_force = [p for p in periods if p.start <= second][-1]
    instant = start + timedelta(seconds=second)
    assume(all(p.start != second + 1 for p in periods))  # a change inside the second truncates to its start
    assert in_force.limit == round(held.connector_limit_w(instant, 1, supply, TRANSACTION, start), 1), held.profiles


@given(profile_sets(), st.integers(0, 3 * 86_400), st.integers(0, 20_000), SUPPLIES)
def test_a_relative_schedule_depends_only_on_the_time_since_the_transaction_began(held, shift, elapsed, supply):
    relative = ChargingProfiles(
        [p for p in held.profiles.values() if p.kind == "Relative" and not p.valid_from and not p.valid_to]
    )
    early, late = Transaction("a", T0), Transaction("b", T0 + timedelta(seconds=shift))
    at = timedelta(seconds=elapsed)
    assert relative.connector_limit_w(early.started + at, 1, supply, early) == relative.connector_limit_w(
        late.started + at, 1, supply, late
    )


@given(st.none() | st.floats(0, 50_000, allow_nan=False), st.dictionaries(st.integers(1, 4), st.floats(0, 22_000)))
def test_sharing_the_station_maximum_never_exceeds_it_nor_any_connector_limit(station, limits):
    shares = allocate(station, limits)
    assert shares.keys() == limits.keys()
    assert all(0 <= shares[key] <= limits[key] + 1e-9 for key in limits)
    if station is not None:
        assert sum(shares.values()) <= max(station, 0) + 1e-6
    if station is None or sum(limits.values()) <= station:
        assert shares == limits
    else:
        assert abs(sum(shares.values()) - station) < 1e-6  # none is cut needlessly


@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 2), st.sampled_from([0, 1, 2])), max_size=20))
def test_installing_never_holds_more_than_the_maximum_nor_two_profiles_in_one_slot(installs):
    held = ChargingProfiles(max_installed=4, max_stack_level=2)
    for id, stack_level, connector in installs:
        profile = ChargingProfile(id, connector, stack_level, TX_DEFAULT, "Relative", "W", (Period(0, 1_000),))
        try:
            held.install(profile, None)
        except ValueError:
            assert len(held.profiles) == 4
            continue
        assert held.profiles[id] == profile
        slots = [(p.stack_level, p.connector) for p in held.profiles.values()]
        assert len(slots) == len(set(slots)) <= 4
