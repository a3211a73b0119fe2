"""Reservations on a running charge point: held connectors show Reserved, only their holder starts on them, and
they end when used, cancelled or expired (recorded, so a restarted gateway holds them again).

The rules are the domain's (`domain.chargepoint.reservations`); this mixin keeps the statuses and the wire in step.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from application.waiting import wait_event
from domain.chargepoint.reservations import Reservation, Reservations

MAX_WAIT = 3600.0


class ReservationDesk:
    """Mixed into the Station: `self.connectors`, `self.runtime`, `self.observe`, `self.set_status` are its."""

    zero_reservation_key: str  # the configuration key saying whether connector 0 (the charger) can be reserved

    def setup_reservations(self) -> None:
        self.reservations = Reservations(Reservation.from_record(r) for r in self.runtime.reservations.values())  # type: ignore[attr-defined]
        self._reservations_changed = asyncio.Event()
        for reservation in self.reservations.held.values():
            connector = self.reservable().get(reservation.connector)
            if connector is not None:
                connector.reservation_id = reservation.id
                if connector.status == "Available":
                    connector.status = "Reserved"

    def reservable(self) -> dict[int, Any]:
        """The connectors a reservation can name (1.6 connectorId, 2.0.1 evseId)."""
        return self.profile_connectors()  # type: ignore[attr-defined]

    def reservation_statuses(self) -> dict[int, str]:
        return {number: connector.status for number, connector in self.reservable().items()}

    def reserve(
        self, target: int, id_tag: str, expiry: datetime, reservation_id: int, parent_id_tag: str | None = None
    ) -> str:
        """ReserveNow for both versions and the API: the status, and on Accepted the connector shows Reserved."""
        reservation = Reservation(reservation_id, target, id_tag, expiry, parent_id_tag)
        zero_supported = self.configuration.bool_value(self.zero_reservation_key, True)  # type: ignore[attr-defined]
        previous = self.reservations.held.get(reservation_id)
        status = self.reservations.reserve(reservation, self.reservation_statuses(), datetime.now(UTC), zero_supported)
        if status != "Accepted":
            return status
        self.observe("reservation_made", reservation.record())  # type: ignore[attr-defined]
        if previous is not None and previous.connector != target:
            self._release(previous)
        connector = self.reservable().get(target)
        if connector is not None:
            connector.reservation_id = reservation_id
            if connector.status != "Reserved":
                self.after(self.set_status(connector, "Reserved"))  # type: ignore[attr-defined]
        self._reservations_changed.set()
        self.follow("reservations", self.follow_reservations)  # type: ignore[attr-defined]
        return "Accepted"

    def cancel_reservation(self, reservation_id: int) -> bool:
        reservation = self.reservations.cancel(reservation_id)
        if reservation is None:
            return False
        self._ended(reservation, "Removed")
        return True

    def reservation_refusal(self, connector: Any, id_tag: str | None) -> str | None:
        """Why this tag may not start on this connector (a reservation for someone else), or None."""
        blocking = self.reservations.refusal(
            connector.evse_id, id_tag, self.parent_of(id_tag), self.reservation_statuses()
        )
        return None if blocking is None else f"not possible: {blocking.describe()}"

    def claim_reservation(self, connector: Any, id_tag: str | None) -> int | None:
        """A start by the holder uses the reservation up; its id goes in StartTransaction / TransactionEvent."""
        reservation = self.reservations.claim(connector.evse_id, id_tag, self.parent_of(id_tag))
        if reservation is None:
            return None
        self.observe("reservation_ended", reservation.id, "Used")  # type: ignore[attr-defined]
        if connector.reservation_id == reservation.id:
            connector.reservation_id = None
        self._reservations_changed.set()
        return reservation.id

    def parent_of(self, id_tag: str | None) -> str | None:
        """The parent id tag the local authorization list gives a tag (what a charger knows offline)."""
        for entry in self.runtime.local_list["entries"]:  # type: ignore[attr-defined]
            if entry["id_tag"] == id_tag:
                return entry.get("parent_id_tag")
        return None

    async def follow_reservations(self) -> None:
        """Ends reservations at their expiry (while the session runs; a restart expires overdue ones at once)."""
        while True:
            self._reservations_changed.clear()
            for reservation in self.reservations.expire(datetime.now(UTC)):
                self._ended(reservation, "Expired")
            upcoming = self.reservations.next_expiry()
            wait = MAX_WAIT if upcoming is None else (upcoming - datetime.now(UTC)).total_seconds()
            await wait_event(self._reservations_changed, min(MAX_WAIT, max(0.0, wait)))

    def _ended(self, reservation: Reservation, reason: str) -> None:
        self.observe("reservation_ended", reservation.id, reason)  # type: ignore[attr-defined]
        self._release(reservation)
        self.after(self.report_reservation_end(reservation.id, reason))  # type: ignore[attr-defined]
        self._reservations_changed.set()

    def _release(self, reservation: Reservation) -> None:
        connector = self.reservable().get(reservation.connector)
        if connector is not None and connector.reservation_id == reservation.id:
            connector.reservation_id = None
            if connector.status == "Reserved":
                self.after(self.set_status(connector, "Available"))  # type: ignore[attr-defined]

    async def report_reservation_end(self, reservation_id: int, reason: str) -> None:
        """2.0.1 tells the CSMS (ReservationStatusUpdate Expired / Removed); 1.6 has no such message."""
