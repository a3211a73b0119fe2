"""What the API's commands do at the charge point, the same in both versions: connector selection, starts that respect
reservations, stops, faults, power, raw messages.

A mixin of the Station (simulator/station.py): it uses the station's state and the version's hooks."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.command import FAULT_ERROR_CODES
from domain.instants import instant
from simulator.model import CommandRefused, Connector
from simulator.proxy import build_call

log = logging.getLogger("ocpplab.simulator")
RESERVATION_DEFAULT = timedelta(minutes=30)  # a reservation made through the API without an expiry


class DriverActions:
    """What the API's commands do at the charge point, the same in both versions."""

    def connector_at(self, evse_id: int | None = None, connector_id: int | None = None) -> Connector:
        """The connector a command names (1.6: connector_id; 2.0.1: evse_id and connector_id)."""
        found = self.connectors.get(
            (evse_id, connector_id or 1) if evse_id is not None else (connector_id, connector_id)
        )
        if found is None or (found.evse_id == 0 and found.connector_id == 0):
            raise CommandRefused(f"not possible: no connector {evse_id or connector_id}")
        return found

    @staticmethod
    def usable(connector: Connector) -> None:
        if connector.status in ("Faulted", "Unavailable"):
            raise CommandRefused(f"not possible: connector {connector.key} is {connector.status}")

    def may_start(self, connector: Connector, id_tag: str) -> None:
        """A driver's start: refused on a broken connector or one reserved for someone else."""
        self.usable(connector)
        refusal = self.reservation_refusal(connector, id_tag)
        if refusal is not None:
            raise CommandRefused(refusal)

    @staticmethod
    def claim(connector: Connector) -> None:
        """Takes a free connector for a transaction that is starting, before any await: a second start (a command
        or the CSMS's remote start) is refused until `release`."""
        if connector.transaction_id and connector.id_tag is not None:
            raise CommandRefused(
                f"not possible: connector {connector.key} already has transaction {connector.transaction_id}"
            )
        if connector.extra.get("starting"):
            raise CommandRefused(f"not possible: a transaction is starting on connector {connector.key}")
        connector.extra["starting"] = True

    @staticmethod
    def release(connector: Connector) -> None:
        connector.extra.pop("starting", None)

    @staticmethod
    def in_transaction(connector: Connector) -> str:
        if connector.transaction_id is None:
            raise CommandRefused(f"not possible: no transaction in progress on connector {connector.key}")
        return connector.transaction_id

    def transaction_by_id(self, transaction_id: str | None) -> Connector:
        """The connector of a transaction (the first running one when no id is given)."""
        for connector in self.status_targets():
            if connector.transaction_id and transaction_id in (None, connector.transaction_id):
                return connector
        raise CommandRefused(
            "not possible: no transaction in progress"
            + (f" with id {transaction_id}" if transaction_id is not None else "")
        )

    def offline_flag(self) -> dict[str, bool]:
        """Marks a command's result when the charge point carried it out without the CSMS (its transaction
        messages wait in the queue)."""
        return {} if self.ready else {"offline": True}  # type: ignore[attr-defined]

    async def do_stop_session(self, **selection: Any) -> dict[str, Any]:
        connector = self.connector_at(**selection)
        transaction = self.in_transaction(connector)
        meter_stop = await self.stop_transaction(connector, "Local")  # type: ignore[attr-defined]
        return {"transaction_id": transaction, "meter_stop": meter_stop, **self.offline_flag()}

    async def do_stop_transaction(self, transaction_id: str | None = None) -> dict[str, Any]:
        connector = self.transaction_by_id(transaction_id)
        transaction = connector.transaction_id
        meter_stop = await self.stop_transaction(connector, "Local", report_status=False)  # type: ignore[attr-defined]
        return {"transaction_id": transaction, "meter_stop": meter_stop, **self.offline_flag()}

    async def do_inject_fault(self, fault_type: str, **selection: Any) -> dict[str, Any]:
        """The connector goes Faulted with the fault's error code; a running transaction stops first."""
        connector = self.connector_at(**selection)
        if connector.fault is None:
            if connector.transaction_id:  # the transaction stops; the connector goes straight to Faulted
                await self.stop_transaction(connector, "Other", report_status=False)  # type: ignore[attr-defined]
                connector.status = connector.extra.pop("pending_status", None) or self.idle_status(connector)
            connector.fault = {"fault_type": fault_type, "prior_status": connector.status}
            self.observe("fault_injected", connector.evse_id, connector.connector_id, fault_type, connector.status)
        else:
            connector.fault["fault_type"] = fault_type
        await self.set_status(connector, "Faulted", FAULT_ERROR_CODES[fault_type])
        await self.report_problem(connector, fault_type, True)
        return {"fault_type": fault_type, **selection, "status": "Faulted"}

    async def do_clear_fault(self, **selection: Any) -> dict[str, Any]:
        """The connector goes back to its status before the fault (idle if that was a transaction's)."""
        connector = self.connector_at(**selection)
        if connector.fault is None:
            raise CommandRefused(f"not possible: connector {connector.key} has no fault")
        fault_type, prior = connector.fault["fault_type"], connector.fault["prior_status"]
        connector.fault = None
        self.observe("fault_cleared", connector.evse_id, connector.connector_id)
        if prior in ("Charging", "SuspendedEV", "SuspendedEVSE", "Faulted"):
            prior = self.idle_status(connector)
        await self.report_problem(connector, fault_type, False)
        await self.set_status(connector, prior)
        return {"fault_type": fault_type, **selection, "status": prior}

    @staticmethod
    def idle_status(connector: Connector) -> str:
        """The status of a connector without a transaction."""
        raise NotImplementedError

    async def report_problem(self, connector: Connector, fault_type: str, active: bool) -> None:
        """A fault raised or cleared, beyond the status (2.0.1: NotifyEvent); nothing more in 1.6."""

    async def do_power_update(self, power_w: int, **selection: Any) -> dict[str, Any]:
        connector = self.connector_at(**selection)
        connector.meter.set(time.monotonic(), limit_w=power_w)
        return {"power_w": connector.meter.offered_w, "max_power_w": connector.meter.max_power_w}

    async def do_proxy_message(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        message = build_call(self.spec.ocpp_version, action, payload)
        answer = await self.call(message)  # type: ignore[attr-defined]
        if answer is None:
            raise CommandRefused(f"CSMS answered CallError to {message.__class__.__name__}")
        return {"action": message.__class__.__name__, "answer": asdict(answer)}

    async def do_authorize_id_tag(self, id_tag: str) -> dict[str, Any]:
        status = await self.authorize(id_tag)
        if status != "Accepted":
            raise CommandRefused(f"id tag rejected: {status}", {"id_tag_status": status})
        return {"id_tag_status": status}

    async def do_reserve_now(
        self,
        id_tag: str,
        expiry_date: str | None = None,
        reservation_id: int | None = None,
        parent_id_tag: str | None = None,
        **selection: Any,
    ) -> dict[str, Any]:
        """Reserves a connector (or, with connector / EVSE 0, the charger) as the CSMS's ReserveNow would."""
        target = selection.get("evse_id", selection.get("connector_id", 0))
        expiry = instant(expiry_date) if expiry_date else datetime.now(UTC) + RESERVATION_DEFAULT
        if reservation_id is None:
            reservation_id = max(self.reservations.held, default=0) + 1
        status = self.reserve(target, id_tag, expiry, reservation_id, parent_id_tag)
        if status != "Accepted":
            raise CommandRefused(f"reservation refused: {status}", {"status": status})
        return {"reservation_id": reservation_id, "expiry_date": expiry.isoformat(), **selection, "status": status}

    async def do_cancel_reservation(self, reservation_id: int) -> dict[str, Any]:
        if not self.cancel_reservation(reservation_id):
            raise CommandRefused(f"not possible: no reservation {reservation_id}")
        return {"reservation_id": reservation_id, "status": "Accepted"}
