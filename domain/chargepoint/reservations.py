"""Reservations: which connector is held for whom, until when (OCPP 1.6 Reservation profile, 2.0.1 H01-H04).

Pure: instants are passed in. A reservation on connector n holds that connector for its id tag (or a tag of the
same parent id tag); a reservation on connector 0 holds one connector of the charger, whichever: another tag may
start only while a free connector would still be left for each such reservation.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime

FREE = "Available"
BROKEN = ("Faulted", "Unavailable")


@dataclass(frozen=True)
class Reservation:
    id: int
    connector: int  # 0: any connector of the charger
    id_tag: str
    expiry: datetime
    parent_id_tag: str | None = None

    def admits(self, id_tag: str | None, parent_id_tag: str | None = None) -> bool:
        if id_tag is None:
            return False
        return id_tag == self.id_tag or (self.parent_id_tag is not None and parent_id_tag == self.parent_id_tag)

    def record(self) -> dict:
        return {**asdict(self), "expiry": self.expiry.isoformat()}

    @classmethod
    def from_record(cls, record: dict) -> Reservation:
        return cls(**{**record, "expiry": datetime.fromisoformat(record["expiry"])})

    def describe(self) -> str:
        where = "the charger" if self.connector == 0 else f"connector {self.connector}"
        return f"{where} is reserved (reservation {self.id}) for another id tag until {self.expiry.isoformat()}"


class Reservations:
    """The reservations a charger holds; statuses come in as {connector: OCPP status} (connectors > 0)."""

    def __init__(self, reservations: Iterable[Reservation] = ()) -> None:
        self.held: dict[int, Reservation] = {r.id: r for r in reservations}

    def on(self, connector: int) -> Reservation | None:
        return next((r for r in self.held.values() if r.connector == connector and connector != 0), None)

    def reserve(self, reservation: Reservation, statuses: dict[int, str], now: datetime, zero_supported: bool) -> str:
        """ReserveNow's status: Accepted (held from now on; the same id replaces its earlier self), or why not."""
        if reservation.expiry <= now:
            return "Rejected"
        others = Reservations(r for r in self.held.values() if r.id != reservation.id)
        if reservation.connector == 0:
            if not zero_supported:
                return "Rejected"
            if all(status in BROKEN for status in statuses.values()):
                return "Unavailable" if "Unavailable" in statuses.values() else "Faulted"
            if len(others._free(statuses)) <= len(others._charger_wide()):
                return "Occupied"
        else:
            status = statuses.get(reservation.connector)
            if status is None:
                return "Rejected"
            if status in BROKEN:
                return status
            if status not in (FREE, "Reserved") or others.on(reservation.connector) is not None:
                return "Occupied"
        self.held = {**others.held, reservation.id: reservation}
        return "Accepted"

    def cancel(self, reservation_id: int) -> Reservation | None:
        return self.held.pop(reservation_id, None)

    def refusal(
        self, connector: int, id_tag: str | None, parent_id_tag: str | None, statuses: dict[int, str]
    ) -> Reservation | None:
        """The reservation that keeps this tag from starting on this connector, if any."""
        own = self.on(connector)
        if own is not None:
            return None if own.admits(id_tag, parent_id_tag) else own
        wide = [r for r in self._charger_wide() if not r.admits(id_tag, parent_id_tag)]
        if wide and len([c for c in self._free(statuses) if c != connector]) < len(wide):
            return wide[0]
        return None

    def claim(self, connector: int, id_tag: str | None, parent_id_tag: str | None = None) -> Reservation | None:
        """A start by the holder uses its reservation up (the connector's own first, else a charger-wide one)."""
        own = self.on(connector)
        if own is not None and own.admits(id_tag, parent_id_tag):
            return self.held.pop(own.id)
        wide = next((r for r in self._charger_wide() if r.admits(id_tag, parent_id_tag)), None)
        return None if wide is None else self.held.pop(wide.id)

    def expire(self, now: datetime) -> list[Reservation]:
        """Removes and returns the reservations whose expiry has come."""
        gone = [r for r in self.held.values() if r.expiry <= now]
        for reservation in gone:
            del self.held[reservation.id]
        return gone

    def next_expiry(self) -> datetime | None:
        return min((r.expiry for r in self.held.values()), default=None)

    def _charger_wide(self) -> list[Reservation]:
        return [r for r in self.held.values() if r.connector == 0]

    def _free(self, statuses: dict[int, str]) -> list[int]:
        return [c for c, status in statuses.items() if status == FREE and self.on(c) is None]
