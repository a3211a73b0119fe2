"""Every benchmark budget, in one place: the suites judge their runs with these, and the rendered
docs/benchmarks.md judges each figure's latest value with them.

`limit` is the current budget (the first budgets of the design document, /work/shared/design.md "Budgets");
`next` is the design document's next budget for the figure, shown beside it but not judged yet.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from fnmatch import fnmatchcase

OPERATORS = {"<=": operator.le, "<": operator.lt, ">=": operator.ge}


@dataclass(frozen=True)
class Budget:
    limit: float | None  # None: no budget yet; the figure stands beside its baseline only
    op: str = "<="
    unit: str = ""
    next: str = "-"

    def met(self, value: float) -> bool | None:
        return None if self.limit is None else OPERATORS[self.op](value, self.limit)

    def __str__(self) -> str:
        return "none" if self.limit is None else f"{self.op} {self.limit:,g} {self.unit}".rstrip()


NONE = Budget(None)
BASE_RSS = Budget(150, "<=", "MiB", next="<= 100 MiB")
RSS_PER_CHARGER = Budget(60, "<=", "KiB", next="<= 30 KiB at 10,000 chargers")
BOOT = Budget(10.0, "<=", "s", next="10,000 chargers within 20 s")
IDLE_CPU = Budget(1.0, "<", "ms", next="<= 0.3 ms")
RECORDING = Budget(5000, ">=", "frames/s")
RECORDING_SUSTAINED = Budget(5000, ">=", "frames/s", next=">= 40,000 frames/s, validation on")
REPLAY = Budget(30_000, ">=", "events/s", next=">= 100,000 events/s")
VERIFY = Budget(None, next=">= 50,000 events/s")
COMMAND_P50 = Budget(20.0, "<=", "ms", next="<= 5 ms (4 concurrent clients)")
COMMAND_P99 = Budget(100.0, "<=", "ms", next="<= 20 ms (4 concurrent clients)")
FANOUT = Budget(2.0, "<=", "s", next="every first frame within 0.5 s")
SMART_CHARGING_RATIO = Budget(1.2, "<=", "x")  # ours (issue #11), not the design document's

# (suite, pattern of the figure names it records, budget); the first match wins, no match has no budget.
BY_FIGURE: tuple[tuple[str, str, Budget], ...] = (
    ("simulator", "base RSS*", BASE_RSS),
    ("simulator", "RSS per charger*", RSS_PER_CHARGER),
    ("simulator", "connect + boot*", BOOT),
    ("simulator", "idle CPU*", IDLE_CPU),
    ("recording", "burst*", RECORDING),
    ("recording", "highest paced rate sustained*", RECORDING_SUSTAINED),
    ("replay", "replay*", REPLAY),
    ("replay", "verify*", VERIFY),
    ("commands", "fan-out*", FANOUT),
    ("commands", "*: p50", COMMAND_P50),
    ("commands", "*: p99", COMMAND_P99),
    ("smart-charging", "CPU with profiles vs*", SMART_CHARGING_RATIO),
)


def budget_for(suite: str, figure: str) -> Budget:
    return next((b for s, pattern, b in BY_FIGURE if s == suite and fnmatchcase(figure, pattern)), NONE)
