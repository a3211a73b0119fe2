"""Smart charging: the charging profiles a charger holds, how they stack, and the composite limit they impose
(OCPP 1.6 Smart Charging profile, OCPP 2.0.1 functional block K).

Pure: no I/O and no clock; instants are timezone-aware datetimes passed in. Both versions' profiles (the ocpp
library's snake_case payloads) are parsed into one shape; limits are computed in watts and converted at the edges.

Rules, per connector at an instant:
- a profile applies while it is valid (validFrom <= t < validTo) and its schedule has a period at t (after the
  schedule's start, before its duration ends); Relative schedules start with the transaction, Recurring ones repeat
  daily or weekly from their start;
- per purpose, the applicable profile with the highest stack level wins (a connector's own profile before one set
  on connector 0 at the same level); a TxProfile (only during its transaction) overrides the TxDefaultProfile;
- the limit is the least of the hardware's maximum, the station maximum and the transaction's limit; the station
  maximum caps the sum over all charging connectors (`allocate`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from domain.instants import instant as parse_instant

STATION_MAX = "ChargingStationMaxProfile"  # 1.6 calls it ChargePointMaxProfile
TX_DEFAULT = "TxDefaultProfile"
TX = "TxProfile"
PURPOSES = (STATION_MAX, TX_DEFAULT, TX)
PURPOSE_ALIASES = {"ChargePointMaxProfile": STATION_MAX}
KINDS = ("Absolute", "Recurring", "Relative")
CYCLES = {"Daily": 86_400, "Weekly": 7 * 86_400}
DEFAULT_PHASES = 3  # numberPhases when a period does not say
HORIZON = timedelta(days=8)  # how far ahead the next change of limit is looked for
AC_VOLTAGE = 230.0  # per phase
DC_VOLTAGE = 400.0


class ProfileRejected(ValueError):
    """A profile the charger does not install (SetChargingProfile answers Rejected); the text says why."""


@dataclass(frozen=True)
class Supply:
    """What the hardware behind one connector can deliver, and how amperes become watts."""

    max_power_w: float
    phases: int = 3
    voltage: float = AC_VOLTAGE
    dc: bool = False

    @classmethod
    def of_model(cls, model: dict) -> Supply:
        """What one connector of a catalog model can deliver."""
        dc = str(model.get("current_type", "ac")) == "dc"
        return cls(
            max_power_w=float(model.get("max_power_w", 22000)),
            phases=int(model.get("phases", 3) or 1),
            voltage=DC_VOLTAGE if dc else AC_VOLTAGE,
            dc=dc,
        )

    def phases_used(self, number_phases: int | None = None) -> int:
        return 1 if self.dc else max(1, min(number_phases or DEFAULT_PHASES, self.phases))

    def watts(self, limit: float, unit: str, number_phases: int | None = None) -> float:
        return float(limit) if unit == "W" else float(limit) * self.voltage * self.phases_used(number_phases)

    def in_unit(self, watts: float, unit: str, number_phases: int | None = None) -> float:
        if unit == "W":
            return round(watts, 1)
        return round(watts / (self.voltage * self.phases_used(number_phases)), 1)


@dataclass(frozen=True)
class Period:
    """From `start` seconds after the schedule's start, at most `limit` (in the schedule's unit)."""

    start: int
    limit: float
    number_phases: int | None = None


@dataclass(frozen=True)
class Transaction:
    """What a profile needs of a running transaction: its id (TxProfile) and when it began (Relative)."""

    id: str
    started: datetime


@dataclass(frozen=True)
class ChargingProfile:
    id: int
    connector: int  # 0: the whole charger (1.6 connectorId, 2.0.1 evseId)
    stack_level: int
    purpose: str
    kind: str
    unit: str
    periods: tuple[Period, ...]
    recurrency: str | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    start_schedule: datetime | None = None
    duration: int | None = None
    transaction_id: str | None = None

    def limit_at(self, at: datetime, transaction: Transaction | None, origin: datetime) -> Period | None:
        """The period in force at `at`, or None when this profile imposes nothing then. `origin` starts a
        Relative schedule when there is no transaction (what would apply if one began then)."""
        if (self.valid_from and at < self.valid_from) or (self.valid_to and at >= self.valid_to):
            return None
        start = self.schedule_start(transaction, origin)
        elapsed = (at - start).total_seconds()
        if elapsed < 0:
            return None
        if self.kind == "Recurring":
            elapsed %= CYCLES[self.recurrency or "Daily"]
        if self.duration is not None and elapsed >= self.duration:
            return None
        current = None
        for period in self.periods:
            if period.start > elapsed:
                break
            current = period
        return current

    def schedule_start(self, transaction: Transaction | None, origin: datetime) -> datetime:
        if self.kind == "Relative":
            return transaction.started if transaction else origin
        return self.start_schedule or origin

    def changes(self, start: datetime, end: datetime, transaction: Transaction | None, origin: datetime):
        """The instants in (start, end) where this profile's limit may change."""
        first = self.schedule_start(transaction, origin)
        candidates: list[datetime] = [moment for moment in (self.valid_from, self.valid_to) if moment]
        cycle = CYCLES[self.recurrency or "Daily"] if self.kind == "Recurring" else None
        beginnings = [first]
        if cycle:
            skipped = max(0, int((start - first).total_seconds() // cycle))
            beginnings = []
            moment = first + timedelta(seconds=skipped * cycle)
            while moment < end:
                beginnings.append(moment)
                moment += timedelta(seconds=cycle)
        for beginning in beginnings:
            candidates.extend(beginning + timedelta(seconds=period.start) for period in self.periods)
            if self.duration is not None:
                candidates.append(beginning + timedelta(seconds=self.duration))
        return [moment for moment in candidates if start < moment < end]


def parse_profile(payload: dict, connector: int, installed_at: datetime) -> ChargingProfile:
    """A profile from a SetChargingProfile payload of either version (1.6 csChargingProfiles, 2.0.1
    chargingProfile: the first of its schedules). An Absolute or Recurring schedule without a start starts now."""
    try:
        schedule = payload["charging_schedule"]
        if isinstance(schedule, list):
            schedule = schedule[0]
        periods = tuple(
            Period(int(p["start_period"]), float(p["limit"]), p.get("number_phases"))
            for p in schedule["charging_schedule_period"]
        )
        profile = ChargingProfile(
            id=int(payload["charging_profile_id"] if "charging_profile_id" in payload else payload["id"]),
            connector=connector,
            stack_level=int(payload["stack_level"]),
            purpose=PURPOSE_ALIASES.get(payload["charging_profile_purpose"], payload["charging_profile_purpose"]),
            kind=payload["charging_profile_kind"],
            unit=schedule["charging_rate_unit"],
            periods=periods,
            recurrency=payload.get("recurrency_kind"),
            valid_from=_instant(payload.get("valid_from")),
            valid_to=_instant(payload.get("valid_to")),
            start_schedule=_instant(schedule.get("start_schedule")),
            duration=None if schedule.get("duration") is None else int(schedule["duration"]),
            transaction_id=None if payload.get("transaction_id") is None else str(payload["transaction_id"]),
        )
    except (KeyError, IndexError, TypeError, ValueError) as error:
        raise ProfileRejected(f"malformed charging profile: {error}") from None
    if profile.kind != "Relative" and profile.start_schedule is None:
        profile = replace(profile, start_schedule=installed_at)
    _check(profile)
    return profile


def _check(profile: ChargingProfile) -> None:
    if profile.purpose not in PURPOSES:
        raise ProfileRejected(f"unknown purpose {profile.purpose}")
    if profile.kind not in KINDS:
        raise ProfileRejected(f"unknown kind {profile.kind}")
    if profile.kind == "Recurring" and profile.recurrency not in CYCLES:
        raise ProfileRejected("a Recurring profile needs recurrencyKind Daily or Weekly")
    if profile.unit not in ("W", "A"):
        raise ProfileRejected(f"unknown charging rate unit {profile.unit}")
    if profile.purpose == STATION_MAX and profile.connector != 0:
        raise ProfileRejected(f"a {STATION_MAX} applies to the whole charger (connector 0)")
    if profile.purpose == STATION_MAX and profile.kind == "Relative":
        raise ProfileRejected(f"a {STATION_MAX} cannot be Relative: it has no transaction to start from")
    if profile.purpose == TX and profile.connector == 0:
        raise ProfileRejected("a TxProfile needs a connector")
    starts = [period.start for period in profile.periods]
    if not starts or starts[0] != 0 or starts != sorted(set(starts)):
        raise ProfileRejected("schedule periods must start at 0 and be in increasing order")
    if any(period.limit < 0 for period in profile.periods):
        raise ProfileRejected("a limit cannot be negative")


class ChargingProfiles:
    """The profiles a charger holds: installing, clearing, and the limits they add up to."""

    def __init__(
        self, profiles: Iterable[ChargingProfile] = (), max_installed: int = 10, max_stack_level: int = 10
    ) -> None:
        self.profiles: dict[int, ChargingProfile] = {profile.id: profile for profile in profiles}
        self.max_installed = max_installed
        self.max_stack_level = max_stack_level

    @classmethod
    def recorded(cls, kept: Iterable[dict], max_installed: int = 10, max_stack_level: int = 10) -> ChargingProfiles:
        """The profiles as recorded ({"connector", "profile": the CSMS's payload, "installed_at"} each)."""
        return cls(
            (
                parse_profile(entry["profile"], entry["connector"], datetime.fromisoformat(entry["installed_at"]))
                for entry in kept
            ),
            max_installed,
            max_stack_level,
        )

    def __repr__(self) -> str:
        return f"ChargingProfiles({list(self.profiles.values())!r})"

    def install(self, profile: ChargingProfile, transaction: Transaction | None) -> list[int]:
        """Installs a profile; returns the ids it replaced (the same id, or the same purpose, stack level and
        connector). Raises ProfileRejected and changes nothing when the charger cannot take it."""
        if not 0 <= profile.stack_level <= self.max_stack_level:
            raise ProfileRejected(f"stack level {profile.stack_level} is outside 0..{self.max_stack_level}")
        if profile.purpose == TX:
            if transaction is None:
                raise ProfileRejected(f"no transaction is running on connector {profile.connector}")
            if profile.transaction_id not in (None, transaction.id):
                raise ProfileRejected(f"transaction {profile.transaction_id} is not the one on the connector")
        replaced = [key for key, held in self.profiles.items() if key == profile.id or _slot(held) == _slot(profile)]
        if len(self.profiles) - len(replaced) >= self.max_installed:
            raise ProfileRejected(f"the charger already holds its maximum of {self.max_installed} profiles")
        for key in replaced:
            del self.profiles[key]
        self.profiles[profile.id] = profile
        return replaced

    def clear(
        self,
        id: int | None = None,
        connector: int | None = None,
        purpose: str | None = None,
        stack_level: int | None = None,
    ) -> list[int]:
        """Removes the profiles that match every given criterion; returns their ids."""
        purpose = PURPOSE_ALIASES.get(purpose, purpose) if purpose else None
        doomed = [
            key
            for key, profile in self.profiles.items()
            if (id is None or key == id)
            and (connector is None or profile.connector == connector)
            and (purpose is None or profile.purpose == purpose)
            and (stack_level is None or profile.stack_level == stack_level)
        ]
        for key in doomed:
            del self.profiles[key]
        return doomed

    def transaction_ended(self, connector: int) -> list[int]:
        """A TxProfile lives as long as its transaction."""
        return self.clear(connector=connector, purpose=TX)

    # -- limits ------------------------------------------------------------------------------------------

    def _winner(self, purpose: str, connector: int, at: datetime, tx: Transaction | None, origin: datetime):
        candidates = [
            p
            for p in self.profiles.values()
            if p.purpose == purpose
            and (p.connector == connector or (purpose != TX and p.connector == 0))
            and (purpose != TX or (tx is not None and p.transaction_id in (None, tx.id)))
        ]
        for profile in sorted(candidates, key=lambda p: (-p.stack_level, p.connector == 0, p.id)):
            period = profile.limit_at(at, tx, origin)
            if period is not None:
                return profile, period
        return None

    def _watts(self, purpose, connector, at, supply, tx, origin) -> float | None:
        won = self._winner(purpose, connector, at, tx, origin)
        return None if won is None else supply.watts(won[1].limit, won[0].unit, won[1].number_phases)

    def station_limit_w(self, at: datetime, supply: Supply, origin: datetime | None = None) -> float | None:
        """The station maximum in force (W), or None when no station profile applies."""
        return self._watts(STATION_MAX, 0, at, supply, None, origin or at)

    def connector_limit_w(
        self, at: datetime, connector: int, supply: Supply, tx: Transaction | None, origin: datetime | None = None
    ) -> float:
        """What one connector may draw at `at` on its own (W): hardware, transaction and station limits; the
        station maximum is further shared between charging connectors by `allocate`."""
        origin = origin or at
        limits = [float(supply.max_power_w), self.station_limit_w(at, supply, origin)]
        if connector != 0:
            tx_limit = self._watts(TX, connector, at, supply, tx, origin)
            if tx_limit is None:
                tx_limit = self._watts(TX_DEFAULT, connector, at, supply, tx, origin)
            limits.append(tx_limit)
        return min(limit for limit in limits if limit is not None)

    def composite(
        self,
        start: datetime,
        duration: int,
        connector: int,
        supply: Supply,
        tx: Transaction | None,
        unit: str = "W",
    ) -> list[Period]:
        """The composite schedule from `start` for `duration` seconds: one period per change of limit."""
        end = start + timedelta(seconds=duration)
        instants = sorted({start, *self._changes(start, end, connector, tx, start)})
        phases = None if unit == "W" or supply.dc else supply.phases_used()
        periods: list[Period] = []
        for instant in instants:
            limit = supply.in_unit(self.connector_limit_w(instant, connector, supply, tx, start), unit)
            offset = int((instant - start).total_seconds())
            if periods and periods[-1].start == offset:  # changes within one second: the later one holds
                periods.pop()
            if not periods or periods[-1].limit != limit:
                periods.append(Period(offset, limit, phases))
        return periods

    def next_change(self, after: datetime, connector: int, tx: Transaction | None) -> datetime | None:
        """The next instant a connector's limit may change (a period boundary, a validity edge), if any soon.
        Without a transaction a Relative schedule has not begun: it changes nothing until one starts."""
        return min(self._changes(after, after + HORIZON, connector, tx, after, tx is not None), default=None)

    def _changes(self, start, end, connector, tx, origin, relative: bool = True) -> Iterator[datetime]:
        for profile in self.profiles.values():
            if profile.connector in (0, connector) and (relative or profile.kind != "Relative"):
                yield from profile.changes(start, end, tx, origin)


def allocate(station_limit_w: float | None, limits_w: dict[int, float]) -> dict[int, float]:
    """Shares the station maximum between charging connectors, each up to its own limit (water-filling): no
    connector gets more than it may draw, the sum stays within the station's limit, and none is cut needlessly."""
    if station_limit_w is None or sum(limits_w.values()) <= station_limit_w:
        return dict(limits_w)
    shares: dict[int, float] = {}
    left, waiting = max(0.0, station_limit_w), sorted(limits_w, key=lambda key: limits_w[key])
    while waiting:
        fair = left / len(waiting)
        key = waiting.pop(0)
        shares[key] = min(limits_w[key], fair)
        left -= shares[key]
    return shares


def _slot(profile: ChargingProfile) -> tuple[str, int, int]:
    """Two profiles in one slot cannot coexist: the newer replaces the older."""
    return profile.purpose, profile.stack_level, profile.connector


def _instant(text: str | None) -> datetime | None:
    return None if text is None else parse_instant(str(text))


def installed_report(
    kept: dict[str, dict], transactions: dict[str, dict], connectors: Iterable[int], model: dict, now: datetime
) -> dict:
    """What a charger holds, as recorded: its profiles and each connector's composite limit now (W).
    `kept`: the recorded profiles by id; `transactions`: running ones by "evse/connector" key."""
    profiles = ChargingProfiles.recorded(kept.values())
    supply = Supply.of_model(model)
    running = {int(key.split("/")[0]): value for key, value in transactions.items()}
    limits = []
    for connector in sorted(set(connectors)):
        transaction = running.get(connector)
        tx = None
        if transaction is not None:
            started = transaction.get("started_at")
            tx = Transaction(transaction["transaction_id"], datetime.fromisoformat(started) if started else now)
        limits.append(
            {
                "connector_id": connector,
                "limit_w": round(profiles.connector_limit_w(now, connector, supply, tx), 1),
                "transaction_id": tx.id if tx else None,
            }
        )
    return {
        "profiles": [
            {
                "id": profile.id,
                "connector_id": profile.connector,
                "purpose": profile.purpose,
                "stack_level": profile.stack_level,
                "kind": profile.kind,
                "charging_rate_unit": profile.unit,
                "transaction_id": profile.transaction_id,
                "installed_at": kept[str(profile.id)]["installed_at"],
                "profile": kept[str(profile.id)]["profile"],
            }
            for profile in sorted(profiles.profiles.values(), key=lambda p: p.id)
        ],
        "connectors": limits,
    }
