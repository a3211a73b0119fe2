"""Keeps the garbage collector out of a settled fleet's way.

A fleet of 1,000 charge points holds about 300,000 long-lived objects (tasks, coroutines, connections); a full
collection scans them all and stalls the event loop for ~200 ms, which is what a command's p99 then shows.
Once the fleet has settled, its objects move to the collector's permanent generation (`gc.freeze`); when it
has grown or shrunk a lot since, they are thawed, collected once and frozen again.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable

log = logging.getLogger("ocpplab.simulator.memory")
SETTLE_SECONDS = 5.0  # no charge point started for this long: the fleet has settled
MIN_FLEET = 100  # below this, full collections are short: nothing to do


class CollectorSettler:
    """Freezes the long-lived objects of a fleet that has settled at a new size."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.frozen_for = 0  # fleet size at the last freeze
        self.last_start = clock()

    def started(self) -> None:
        """A charge point started: the fleet is not settled yet."""
        self.last_start = self.clock()

    def due(self, fleet_size: int) -> bool:
        grown = fleet_size >= max(MIN_FLEET, self.frozen_for + max(MIN_FLEET, self.frozen_for // 10))
        shrunk = self.frozen_for > 0 and fleet_size < self.frozen_for // 2
        return (grown or shrunk) and self.clock() - self.last_start >= SETTLE_SECONDS

    def settle(self, fleet_size: int) -> bool:
        """Freezes when due; True when it did."""
        if not self.due(fleet_size):
            return False
        began = time.perf_counter()
        gc.unfreeze()  # what the fleet dropped since the last freeze becomes collectable again
        gc.collect()
        gc.freeze()
        self.frozen_for = max(fleet_size, 1)
        log.info(
            "froze %d objects for a fleet of %d (%.0f ms)",
            gc.get_freeze_count(),
            fleet_size,
            1000 * (time.perf_counter() - began),
        )
        return True
