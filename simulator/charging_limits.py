"""Smart charging on a running charge point: the profiles it holds shape what its meters deliver.

The decisions (stacking, the composite schedule, sharing the station maximum) are the domain's
(`domain.chargepoint.smart_charging`); this mixin keeps the charge point's profiles, records them so a restarted
gateway holds them again, and applies the limit to the meters at once and at every period boundary.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import Any

from application.waiting import wait_event
from domain.chargepoint.smart_charging import (
    ChargingProfiles,
    Period,
    ProfileRejected,
    Supply,
    Transaction,
    allocate,
    parse_profile,
)
from domain.runtime import ChargerRuntime

log = logging.getLogger("ocpplab.simulator")
MAX_WAIT = 3600.0  # the limits are looked at again at least this often (seconds)


def period_payload(period: Period) -> dict[str, Any]:
    payload: dict[str, Any] = {"start_period": period.start, "limit": period.limit}
    if period.number_phases is not None:
        payload["number_phases"] = period.number_phases
    return payload


def transaction_of(connector: Any) -> Transaction | None:
    if connector.transaction_id is None:
        return None
    return Transaction(connector.transaction_id, connector.extra.get("started_at") or datetime.now(UTC))


class ChargingLimits:
    """Mixed into the Station: `self.connectors`, `self.runtime`, `self.observe` and `self.spec` are its."""

    profile_keys: tuple[str, str]  # the configuration keys of the maximum stack level and of profiles installed
    connectors: dict[tuple[int, int], Any]
    runtime: ChargerRuntime

    def setup_charging_limits(self) -> None:
        max_stack, max_installed = self.profile_keys
        configuration = self.configuration  # type: ignore[attr-defined]
        self.supply = Supply.of_model(self.spec.model)  # type: ignore[attr-defined]
        self.charging = ChargingProfiles.recorded(
            self.runtime.charging_profiles.values(),
            configuration.int_value(max_installed, 10),
            configuration.int_value(max_stack, 10),
        )
        self._limits_changed = asyncio.Event()
        self.apply_limits()

    def profile_connectors(self) -> dict[int, Any]:
        """The connectors profiles address (1.6 connectorId, 2.0.1 evseId; one connector per EVSE here)."""
        found: dict[int, Any] = {}
        for connector in self.connectors.values():
            if connector.evse_id:
                found.setdefault(connector.evse_id, connector)
        return found

    def install_profile(self, target: int, payload: dict[str, Any]) -> str:
        """SetChargingProfile: installs and applies the profile, or says why not (ProfileRejected)."""
        now = datetime.now(UTC)
        connector = self.profile_connectors().get(target)
        if target != 0 and connector is None:
            raise ProfileRejected(f"no connector {target}")
        profile = parse_profile(payload, target, now)
        replaced = self.charging.install(profile, transaction_of(connector) if connector else None)
        self.observe("charging_profile_set", profile.id, target, payload, now.isoformat(), replaced)  # type: ignore[attr-defined]
        self.apply_limits()
        return "Accepted"

    def answer_profile(self, target: int, payload: dict[str, Any]) -> tuple[str, str | None]:
        """SetChargingProfile's answer: ("Accepted", None) or ("Rejected", why)."""
        try:
            return self.install_profile(target, payload), None
        except ProfileRejected as refusal:
            log.info("%s: rejected charging profile: %s", self.spec.identity, refusal)  # type: ignore[attr-defined]
            return "Rejected", str(refusal)

    def clear_profiles(self, id: int | None = None, **criteria: Any) -> list[int]:
        """ClearChargingProfile: by id alone when one is given, otherwise by every criterion given."""
        cleared = self.charging.clear(id=id) if id is not None else self.charging.clear(**criteria)
        if cleared:
            self.observe("charging_profiles_cleared", cleared)  # type: ignore[attr-defined]
            self.apply_limits()
        return cleared

    def profiles_ended_with(self, connector: Any) -> None:
        """The transaction ended: its TxProfiles go, and the limits are looked at again."""
        cleared = self.charging.transaction_ended(connector.evse_id)
        if cleared:
            self.observe("charging_profiles_cleared", cleared)  # type: ignore[attr-defined]
        self.apply_limits()

    def composite_schedule(self, target: int, duration: int, unit: str | None) -> tuple[datetime, list[Period]]:
        connector = self.profile_connectors().get(target)
        start = datetime.now(UTC).replace(microsecond=0)
        tx = transaction_of(connector) if connector else None
        return start, self.charging.composite(start, duration, target, self.supply, tx, unit or "W")

    def composite_answer(self, target: int, duration: int, unit: str | None) -> dict[str, Any] | None:
        """The composite schedule in the shape both versions share (None: no such connector)."""
        if target != 0 and target not in self.profile_connectors():
            return None
        start, periods = self.composite_schedule(target, duration, unit)
        return {
            "start": start.isoformat().replace("+00:00", "Z"),
            "duration": duration,
            "charging_rate_unit": unit or "W",
            "charging_schedule_period": [period_payload(period) for period in periods],
        }

    def apply_limits(self) -> None:
        """Sets every meter to its share of the composite limit now; wakes the follower for the next change."""
        now, moment = datetime.now(UTC), time.monotonic()
        connectors = self.profile_connectors()
        own = {
            target: self.charging.connector_limit_w(now, target, self.supply, transaction_of(connector))
            for target, connector in connectors.items()
        }
        drawing = {target: own[target] for target, connector in connectors.items() if connector.meter.drawing}
        shares = allocate(self.charging.station_limit_w(now, self.supply), drawing)
        for target, connector in connectors.items():
            connector.meter.limit_to(moment, shares.get(target, own[target]))
        self._limits_changed.set()
        if self.charging.profiles:
            self.follow("limits", self.follow_limits)  # type: ignore[attr-defined]

    def next_limit_change(self) -> datetime | None:
        changes = [
            self.charging.next_change(datetime.now(UTC), target, transaction_of(connector))
            for target, connector in self.profile_connectors().items()
        ]
        return min((change for change in changes if change is not None), default=None)

    async def follow_limits(self) -> None:
        """Applies the limits at each period boundary and validity edge (while the session runs)."""
        while True:
            self._limits_changed.clear()
            upcoming = self.next_limit_change() if self.charging.profiles else None
            wait = MAX_WAIT if upcoming is None else (upcoming - datetime.now(UTC)).total_seconds()
            if await wait_event(self._limits_changed, min(MAX_WAIT, max(0.0, wait))):
                continue  # a profile or a transaction changed: look again from now
            self.apply_limits()
