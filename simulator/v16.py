"""An OCPP 1.6 charge point: the messages it sends, its transactions and the API's commands in its vocabulary;
what it answers the CSMS is in `simulator/v16_csms_calls.py`."""

from __future__ import annotations

import time
from typing import Any
from uuid import uuid4

from ocpp.v16 import ChargePoint, call, call_result

from domain.chargepoint.transaction_queue import QueuedMessage
from domain.configuration import Configuration16
from simulator.maintenance import Maintenance
from simulator.meter import measurand_list, sampled_values_16
from simulator.model import QUEUED
from simulator.station import CommandRefused, Connector, Station, now_iso
from simulator.v16_csms_calls import CsmsCalls16

OWN_REFERENCE = "local-"  # a transaction begun offline, until the CSMS numbers it


def numbered(transaction: str) -> tuple[int, str | None]:
    """A transaction as 1.6 messages name it: the CSMS's number, or 0 and the charge point's own reference while
    it has none (the queue puts the number in when the message goes out)."""
    return (0, transaction) if transaction.startswith(OWN_REFERENCE) else (int(transaction), None)


class ChargePoint16(CsmsCalls16, Maintenance, Station, ChargePoint):
    """Speaks OCPP 1.6J; connector 0 stands for the whole charge point."""

    messages, results = call, call_result
    heartbeat_key = "HeartbeatInterval"
    profile_keys = ("ChargeProfileMaxStackLevel", "MaxChargingProfilesInstalled")
    zero_reservation_key = "ReserveConnectorZeroSupported"
    sample_interval_key = "MeterValueSampleInterval"
    authorization_keys = (
        "LocalPreAuthorize",
        "LocalAuthorizeOffline",
        "AllowOfflineTxForUnknownId",
        "LocalAuthListEnabled",
        "AuthorizationCacheEnabled",
    )
    attempt_keys = ("TransactionMessageAttempts", "TransactionMessageRetryInterval")

    def __init__(self, identity: str, connection: Any, configuration: Configuration16) -> None:
        super().__init__(identity, connection, response_timeout=30)
        self.configuration = configuration

    # -- what the station sends ------------------------------------------------------------------------

    def initial_connectors(self) -> dict[tuple[int, int], Connector]:
        count = int(self.spec.model.get("connector_count", 1))
        return {(n, n): Connector(evse_id=n, connector_id=n) for n in range(0, count + 1)}

    def configured_heartbeat(self) -> int:
        return self.configuration.int_value("HeartbeatInterval", 60)

    def status_targets(self) -> list[Connector]:
        return [self.connectors[key] for key in sorted(self.connectors)]

    def boot_request(self, reason: str) -> call.BootNotification:
        """1.6's BootNotification has no reason."""
        model = self.spec.model
        return call.BootNotification(
            charge_point_vendor=model.get("brand_name", "OCPPLAB")[:20],
            charge_point_model=model.get("model_name", "Simulator")[:20],
            charge_point_serial_number=self.spec.identity[:25],
            charge_box_serial_number=self.spec.identity[:25],
            firmware_version=self.firmware_version(),
        )

    async def send_status(self, connector: Connector) -> None:
        await self.call(
            call.StatusNotification(
                connector_id=connector.connector_id,
                error_code=connector.error_code,
                status=connector.status,
                timestamp=now_iso(),
            )
        )

    def transaction_status(self, connector: Connector) -> str:
        if connector.meter.suspended_ev:
            return "SuspendedEV"
        return "Charging" if connector.id_tag is not None else "Preparing"

    def _sampled(self, connector: Connector, key: str, context: str) -> list[dict[str, Any]]:
        connector.meter.advance(time.monotonic())
        return sampled_values_16(connector.meter, measurand_list(self.configuration.value(key)), context)

    async def send_meter_sample(self, connector: Connector) -> None:
        sample = {
            "timestamp": now_iso(),
            "sampled_value": self._sampled(connector, "MeterValuesSampledData", "Sample.Periodic"),
        }
        if connector.transaction_id is None:
            return
        number, reference = numbered(connector.transaction_id)
        message = call.MeterValues(connector_id=connector.connector_id, meter_value=[sample], transaction_id=number)
        await self.send_transaction_message(message, reference, wait=False)

    # -- transactions -----------------------------------------------------------------------------------

    async def authorize(self, id_tag: str) -> str:
        answer = await self.call(call.Authorize(id_tag=id_tag))
        if answer is None:
            raise CommandRefused("CSMS answered CallError to Authorize")
        status = answer.id_tag_info.get("status", "Invalid")
        if self.configuration.bool_value("AuthorizationCacheEnabled", True):
            self.auth_cache[id_tag] = status
        return status

    async def start_transaction(self, connector: Connector, id_tag: str, report_status: bool = True) -> str:
        """StartTransaction; the CSMS's verdict on the id tag (a refused tag ends the transaction at once). Offline,
        the transaction begins on the charge point's own authority under its own reference, which the CSMS's number
        replaces when the queued StartTransaction reaches it (`late_answer`)."""
        if report_status and connector.status == "Available":
            await self.set_status(connector, "Preparing")
        reference = f"{OWN_REFERENCE}{uuid4().hex[:12]}"
        message = call.StartTransaction(
            connector_id=connector.connector_id,
            id_tag=id_tag,
            meter_start=connector.meter_wh,
            timestamp=now_iso(),
            reservation_id=self.claim_reservation(connector, id_tag),
        )
        answer = await self.send_transaction_message(message, reference, withdraw_unprocessed=True)
        if answer is QUEUED:
            self.begin_transaction(connector, reference, id_tag, drawing=True)
            if report_status:
                await self.set_status(connector, "Charging")
            return "Accepted"
        if answer is None:
            if report_status and not connector.plugged:
                await self.set_status(connector, "Available")
            raise CommandRefused("CSMS answered CallError to StartTransaction")
        transaction_id, verdict = str(answer.transaction_id), answer.id_tag_info.get("status", "Invalid")
        if self.configuration.bool_value("AuthorizationCacheEnabled", True):
            self.auth_cache[id_tag] = verdict
        self.begin_transaction(connector, transaction_id, id_tag, drawing=verdict == "Accepted")
        if verdict != "Accepted":
            if self.configuration.bool_value("StopTransactionOnInvalidId", True):
                await self.stop_transaction(connector, "DeAuthorized", report_status=report_status)
            return verdict
        if report_status:
            await self.set_status(connector, "Charging")
        return verdict

    async def stop_transaction(self, connector: Connector, reason: str, report_status: bool = True) -> int:
        """StopTransaction with meterStop and the StopTxnSampledData; then Finishing (Available if no EV is in)."""
        transaction = connector.transaction_id
        if transaction is None:
            return connector.meter_wh
        id_tag = connector.id_tag
        meter_stop = self.end_transaction(connector, transaction, reason)  # the meter stops: one final reading
        end = self._sampled(connector, "StopTxnSampledData", "Transaction.End")
        number, reference = numbered(transaction)
        connector.id_tag = None
        message = call.StopTransaction(
            meter_stop=meter_stop,
            timestamp=now_iso(),
            transaction_id=number,
            reason=reason,
            id_tag=id_tag,
            transaction_data=[{"timestamp": now_iso(), "sampled_value": end}] if end else None,
        )
        await self.send_transaction_message(message, reference)
        if report_status:
            await self.set_status(connector, "Finishing")
        return meter_stop

    def late_answer(self, item: QueuedMessage, answer: Any) -> None:
        """A StartTransaction queued offline reached the CSMS: the auth cache learns the verdict, the CSMS's number
        replaces the transaction's own reference while it runs, and a refused tag stops it."""
        if item.action != "StartTransaction" or item.transaction_ref is None:
            return
        verdict = answer.id_tag_info.get("status", "Invalid")
        if self.configuration.bool_value("AuthorizationCacheEnabled", True):
            self.auth_cache[item.payload["id_tag"]] = verdict
        connector = self.transaction_connector(item.transaction_ref)
        if connector is None:
            return  # it ended already: its queued messages take the number on their way out
        connector.transaction_id = number = str(answer.transaction_id)
        self.observe("transaction_numbered", connector.evse_id, connector.connector_id, item.transaction_ref, number)
        if verdict != "Accepted" and self.configuration.bool_value("StopTransactionOnInvalidId", True):
            self._spawn(self.stop_transaction(connector, "DeAuthorized"))

    @staticmethod
    def transaction_number(connector: Connector) -> int | None:
        """The CSMS's number of the connector's transaction (None without one, or before the CSMS numbered it)."""
        if connector.transaction_id is None:
            return None
        number, reference = numbered(connector.transaction_id)
        return None if reference else number

    def transaction_connector(self, transaction_id: int | str) -> Connector | None:
        return next((c for c in self.connectors.values() if c.transaction_id == str(transaction_id)), None)

    # -- commands from the API ------------------------------------------------------------------------

    async def do_plug_connector(self, connector_id: int) -> dict[str, Any]:
        connector = self.connector_at(connector_id=connector_id)
        self.usable(connector)
        if not connector.plugged:
            connector.plugged = True
            if connector.status in ("Available", "Reserved"):
                await self.set_status(connector, "Preparing")
        return {"connector_id": connector_id, "status": connector.status}

    async def do_unplug_connector(self, connector_id: int) -> dict[str, Any]:
        connector = self.connector_at(connector_id=connector_id)
        transaction = connector.transaction_id
        connector.plugged = False
        if transaction and not self.configuration.bool_value("StopTransactionOnEVSideDisconnect", True):
            connector.meter.set(time.monotonic(), suspended_ev=True)  # the transaction goes on without an EV
            if connector.status != "SuspendedEV":
                await self.set_status(connector, "SuspendedEV")
            return {"connector_id": connector_id, "status": connector.status, "stopped_transaction_id": None}
        if transaction:
            await self.stop_transaction(connector, "EVDisconnected", report_status=False)
        if connector.status not in ("Available", "Faulted", "Unavailable"):
            await self.set_status(connector, "Available")
        return {"connector_id": connector_id, "status": connector.status, "stopped_transaction_id": transaction}

    async def do_unlock_connector(self, connector_id: int) -> dict[str, Any]:
        connector = self.connector_at(connector_id=connector_id)
        transaction = connector.transaction_id
        connector.plugged = False
        await self._unlock(connector)
        return {"connector_id": connector_id, "status": connector.status, "stopped_transaction_id": transaction}

    async def do_start_session(self, id_tag: str, connector_id: int) -> dict[str, Any]:
        connector = self.connector_at(connector_id=connector_id)
        self.may_start(connector, id_tag)
        self.claim(connector)
        try:
            plugged_here = not connector.plugged
            await self.do_plug_connector(connector_id)
            verdict = await self.authorize_for_start(id_tag)
            if not verdict.accepted:
                if plugged_here:
                    await self.do_unplug_connector(connector_id)
                raise self.rejected(verdict)
            return await self._start(connector, id_tag, report_status=True)
        finally:
            self.release(connector)

    async def do_start_transaction(self, id_tag: str, connector_id: int) -> dict[str, Any]:
        connector = self.connector_at(connector_id=connector_id)
        self.may_start(connector, id_tag)
        return await self.start_claimed(connector, id_tag, report_status=False)

    async def _start(self, connector: Connector, id_tag: str, report_status: bool) -> dict[str, Any]:
        meter_start = connector.meter_wh
        verdict = await self.start_transaction(connector, id_tag, report_status=report_status)
        if verdict != "Accepted":
            raise CommandRefused(f"id tag rejected: {verdict}", {"id_tag_status": verdict})
        return {
            "transaction_id": connector.transaction_id,
            "connector_id": connector.connector_id,
            "meter_start": meter_start,
            **self.offline_flag(),
        }

    async def do_ev_stops_energy(self, connector_id: int) -> dict[str, Any]:
        return await self._ev_draws(connector_id, suspended=True)

    async def do_ev_requests_energy(self, connector_id: int) -> dict[str, Any]:
        return await self._ev_draws(connector_id, suspended=False)

    async def _ev_draws(self, connector_id: int, suspended: bool) -> dict[str, Any]:
        connector = self.connector_at(connector_id=connector_id)
        self.in_transaction(connector)
        connector.meter.set(time.monotonic(), suspended_ev=suspended)
        status = "SuspendedEV" if suspended else "Charging"
        if connector.status != status:
            await self.set_status(connector, status)
        return {"connector_id": connector_id, "status": status, "power_w": connector.meter.power_w}

    @staticmethod
    def idle_status(connector: Connector) -> str:
        """Without a transaction: Preparing while an EV is in, else Available."""
        return "Preparing" if connector.plugged else "Available"
