"""When the fleet freezes its long-lived objects out of the garbage collector's way."""

from __future__ import annotations

import gc

from simulator.memory import SETTLE_SECONDS, CollectorSettler


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_small_fleet_is_never_frozen() -> None:
    clock = Clock()
    settler = CollectorSettler(clock)
    clock.now += 60
    assert not settler.due(99)


def test_a_fleet_is_frozen_only_once_no_charger_started_for_a_while() -> None:
    clock = Clock()
    settler = CollectorSettler(clock)
    clock.now += SETTLE_SECONDS - 1
    assert not settler.due(1000)
    settler.started()
    clock.now += SETTLE_SECONDS - 0.1
    assert not settler.due(1000)
    clock.now += 0.2
    assert settler.due(1000)


def test_a_frozen_fleet_freezes_again_only_after_growing_or_shrinking_a_lot() -> None:
    clock = Clock()
    settler = CollectorSettler(clock)
    clock.now += 60
    try:
        assert settler.settle(1000)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()  # leave the test process as it was
    assert not settler.due(1050)  # grown by 5 %
    assert settler.due(1100)  # grown by 10 %
    assert not settler.due(600)
    assert settler.due(400)  # more than half gone: thaw what they left behind
