"""An OCPP 2.0.1 charging station: the messages it sends, its transactions and the API's commands in its vocabulary;
what it answers the CSMS is in `simulator/v201_csms_calls.py`."""

from __future__ import annotations

import time
from typing import Any
from uuid import uuid4

from ocpp.v201 import ChargePoint, call, call_result

from domain.chargepoint.transaction_queue import QueuedMessage
from domain.configuration import DeviceModel201
from simulator.maintenance import Maintenance
from simulator.meter import measurand_list, sampled_values_201
from simulator.model import QUEUED
from simulator.station import CommandRefused, Connector, Station, now_iso
from simulator.v201_csms_calls import CsmsCalls201

TRIGGER_REASONS = {  # stoppedReason -> triggerReason of the TransactionEvent Ended that reports it
    "DeAuthorized": "Deauthorized",
    "EVDisconnected": "EVCommunicationLost",
    "ImmediateReset": "ResetCommand",
    "Local": "StopAuthorized",
    "Remote": "RemoteStop",
}


class ChargePoint201(CsmsCalls201, Maintenance, Station, ChargePoint):
    """Speaks OCPP 2.0.1; every EVSE has one connector, (evse_id, 1)."""

    messages, results = call, call_result
    heartbeat_key = "OCPPCommCtrlr.HeartbeatInterval"
    profile_keys = ("SmartChargingCtrlr.ProfileStackLevel", "SmartChargingCtrlr.Entries")
    zero_reservation_key = "ReservationCtrlr.NonEvseSpecific"
    sample_interval_key = "SampledDataCtrlr.TxUpdatedInterval"
    authorization_keys = (
        "AuthCtrlr.LocalPreAuthorize",
        "AuthCtrlr.LocalAuthorizeOffline",
        "AuthCtrlr.OfflineTxForUnknownIdEnabled",
        "LocalAuthListCtrlr.Enabled",
        "AuthCacheCtrlr.Enabled",
    )
    attempt_keys = ("OCPPCommCtrlr.MessageAttempts", "OCPPCommCtrlr.MessageAttemptInterval")

    def __init__(self, identity: str, connection: Any, configuration: DeviceModel201) -> None:
        self._held: list[Any] | None = None
        super().__init__(identity, connection, response_timeout=30)
        self.configuration = configuration
        self.reset_when_idle = False

    # -- what the station sends ------------------------------------------------------------------------

    def initial_connectors(self) -> dict[tuple[int, int], Connector]:
        count = int(self.spec.model.get("connector_count", 1))
        return {(n, 1): Connector(evse_id=n, connector_id=1) for n in range(1, count + 1)}

    def configured_heartbeat(self) -> int:
        return self.configuration.int_value(self.heartbeat_key, 60)

    def status_targets(self) -> list[Connector]:
        return [self.connectors[key] for key in sorted(self.connectors)]

    def boot_request(self, reason: str) -> call.BootNotification:
        model = self.spec.model
        return call.BootNotification(
            charging_station={
                "model": model.get("model_name", "Simulator")[:20],
                "vendor_name": model.get("brand_name", "OCPPLAB")[:50],
                "serial_number": self.spec.identity[:25],
                "firmware_version": self.firmware_version(),
            },
            reason=reason,
        )

    async def send_status(self, connector: Connector) -> None:
        await self.call(
            call.StatusNotification(
                timestamp=now_iso(),
                connector_status=connector.status,
                evse_id=connector.evse_id,
                connector_id=connector.connector_id,
            )
        )

    def transaction_status(self, connector: Connector) -> str:
        return "Occupied"

    def _sampled(self, connector: Connector, key: str, context: str) -> list[dict[str, Any]]:
        """One MeterValue of the measurands configured in `key` (SampledDataCtrlr.*), or none."""
        connector.meter.advance(time.monotonic())
        values = sampled_values_201(connector.meter, measurand_list(self.configuration.value(key)), context)
        return [{"timestamp": now_iso(), "sampled_value": values}] if values else []

    def charging_state(self, connector: Connector) -> str:
        if connector.id_tag is None:
            return "EVConnected"
        return "SuspendedEV" if connector.meter.suspended_ev else "Charging"

    async def transaction_event(
        self,
        connector: Connector,
        event_type: str,
        trigger_reason: str,
        meter_value: list[Any] | None = None,
        wait: bool = True,
        **extra: Any,
    ) -> Any:
        """One TransactionEvent of the connector's transaction through the queue of transaction messages: the CSMS's
        answer, None for a CallError (the queue tries it again), or QUEUED (it goes out later)."""
        message = self.transaction_message(connector, event_type, trigger_reason, meter_value, **extra)
        return await self.send_event(message, wait)

    async def send_event(self, message: call.TransactionEvent, wait: bool = True) -> Any:
        """A Started the CSMS refuses with a CallError is taken back: the transaction did not begin."""
        started = message.event_type == "Started"
        answer = await self.send_transaction_message(message, wait=wait, withdraw_unprocessed=started)
        if answer is None and started:
            raise CommandRefused("CSMS answered CallError to TransactionEvent Started")
        return answer

    def transaction_message(
        self,
        connector: Connector,
        event_type: str,
        trigger_reason: str,
        meter_value: list[Any] | None = None,
        **extra: Any,
    ) -> call.TransactionEvent:
        """A TransactionEvent of the connector's transaction (seqNo counts per transaction), marked `offline` when it
        happens while the CSMS cannot be reached."""
        transaction = connector.extra.get("transaction") or connector.transaction_id
        info = {"transaction_id": transaction, "charging_state": self.charging_state(connector)}
        info.update(extra.pop("info", {}))
        return call.TransactionEvent(
            event_type=event_type,
            timestamp=now_iso(),
            trigger_reason=trigger_reason,
            seq_no=self._next_seq_no(connector),
            transaction_info=info,
            meter_value=meter_value or None,
            offline=None if self.ready else True,
            evse={"id": connector.evse_id, "connector_id": connector.connector_id},
            **extra,
        )

    async def send_meter_sample(self, connector: Connector) -> None:
        await self.transaction_event(
            connector,
            "Updated",
            "MeterValuePeriodic",
            self._sampled(connector, "SampledDataCtrlr.TxUpdatedMeasurands", "Sample.Periodic"),
            wait=False,
        )

    # -- transactions -----------------------------------------------------------------------------------

    async def authorize(self, id_tag: str) -> str:
        answer = await self.call(call.Authorize(id_token={"id_token": id_tag, "type": "ISO14443"}))
        if answer is None:
            raise CommandRefused("CSMS answered CallError to Authorize")
        status = answer.id_token_info.get("status", "Invalid")
        if self.configuration.bool_value("AuthCacheCtrlr.Enabled", True):
            self.auth_cache[id_tag] = status
        return status

    async def start_transaction(
        self,
        connector: Connector,
        id_token: str | None,
        remote_start_id: int | None = None,
        report_status: bool = True,
        trigger_reason: str | None = None,
    ) -> str:
        """TransactionEvent Started; the CSMS's idTokenInfo decides whether it goes on (its verdict returned)."""
        transaction_id = str(uuid4())
        reservation_id = self.claim_reservation(connector, id_token)
        connector.extra["transaction"], connector.extra["seq_no"] = transaction_id, 0
        connector.id_tag = id_token
        if report_status and connector.status != "Occupied":
            await self.set_status(connector, "Occupied")
        begin = self._sampled(connector, "SampledDataCtrlr.TxStartedMeasurands", "Transaction.Begin")
        self.begin_transaction(connector, transaction_id, id_token, drawing=id_token is not None)
        extra: dict[str, Any] = {"reservation_id": reservation_id}
        if remote_start_id is not None:
            extra["info"] = {"remote_start_id": remote_start_id}
        if id_token is not None:
            extra["id_token"] = {"id_token": id_token, "type": "ISO14443"}
        default_trigger = "RemoteStart" if remote_start_id is not None else "Authorized"
        try:
            answer = await self.transaction_event(
                connector, "Started", trigger_reason or default_trigger, begin, **extra
            )
        except Exception:  # the CSMS refused the Started (a CallError, an invalid answer): it never began
            self.end_transaction(connector, transaction_id, "Other")
            connector.id_tag = None
            connector.extra.pop("transaction", None)
            raise
        verdict = "Accepted" if answer is QUEUED or id_token is None else self._verdict(answer)
        if verdict != "Accepted":
            await self.stop_transaction(connector, "DeAuthorized", report_status=report_status)
        return verdict

    async def stop_transaction(
        self, connector: Connector, reason: str, trigger_reason: str | None = None, report_status: bool = True
    ) -> int:
        """TransactionEvent Ended, then the connector is Occupied while an EV is in, else Available (or what a
        scheduled change asked for). Returns the final meter reading."""
        transaction = connector.transaction_id
        if transaction is None:
            return connector.meter_wh
        meter_stop = self.end_transaction(connector, transaction, reason)  # the meter stops: one final reading
        end = self._sampled(connector, "SampledDataCtrlr.TxEndedMeasurands", "Transaction.End")
        ended = self.transaction_message(
            connector,
            "Ended",
            trigger_reason or TRIGGER_REASONS.get(reason, "AbnormalCondition"),
            end,
            info={"charging_state": "Idle", "stopped_reason": reason},
        )
        connector.id_tag = None  # it ended here, whatever the CSMS answers (the queue delivers the Ended)
        connector.extra.pop("transaction", None)
        await self.send_event(ended)
        if report_status:
            await self.set_status(connector, connector.extra.pop("pending_status", self.idle_status(connector)))
        if self.reset_when_idle and not any(c.transaction_id for c in self.connectors.values()):
            self.request_close("reset")
        return meter_stop

    @staticmethod
    def idle_status(connector: Connector) -> str:
        return "Occupied" if connector.plugged else "Available"

    @staticmethod
    def _verdict(answer: Any) -> str:
        return (answer.id_token_info or {}).get("status", "Accepted")

    def late_answer(self, item: QueuedMessage, answer: Any) -> None:
        """A Started queued offline reached the CSMS: the auth cache learns the verdict, and a refused token stops
        the transaction if it still runs (TxCtrlr.StopTxOnInvalidId)."""
        payload = item.payload
        if payload.get("event_type") != "Started" or "id_token" not in payload:
            return
        verdict = self._verdict(answer)
        if self.configuration.bool_value("AuthCacheCtrlr.Enabled", True):
            self.auth_cache[payload["id_token"]["id_token"]] = verdict
        connector = self.transaction_connector(payload["transaction_info"]["transaction_id"])
        if (
            connector is not None
            and verdict != "Accepted"
            and self.configuration.bool_value("TxCtrlr.StopTxOnInvalidId", True)
        ):
            self._spawn(self.stop_transaction(connector, "DeAuthorized"))

    def _next_seq_no(self, connector: Connector) -> int:
        seq_no = connector.extra.get("seq_no", 0)
        connector.extra["seq_no"] = seq_no + 1
        return seq_no

    def transaction_connector(self, transaction_id: str) -> Connector | None:
        return next((c for c in self.connectors.values() if c.transaction_id == transaction_id), None)

    async def local_unlock(self, connector: Connector) -> None:
        """The unlock-connector command: the cable comes out, ending a running transaction."""
        connector.plugged = False
        if connector.transaction_id:
            await self.stop_transaction(connector, "Other", "UnlockCommand")
        elif connector.status == "Occupied":
            await self.set_status(connector, "Available")

    def _starts_on_plug(self) -> bool:
        points = measurand_list(self.configuration.value("TxCtrlr.TxStartPoint"))
        return "EVConnected" in points or "ParkingBayOccupancy" in points

    # -- commands from the API ------------------------------------------------------------------------

    async def do_plug_connector(self, evse_id: int, connector_id: int) -> dict[str, Any]:
        connector = self.connector_at(evse_id, connector_id)
        self.usable(connector)
        if not connector.plugged:
            connector.plugged = True
            if connector.status in ("Available", "Reserved"):
                await self.set_status(connector, "Occupied")
            if connector.transaction_id is None and self._starts_on_plug():
                await self.start_transaction(connector, None, report_status=False, trigger_reason="CablePluggedIn")
        return {"evse_id": evse_id, "connector_id": connector_id, "status": connector.status}

    async def do_unplug_connector(self, evse_id: int, connector_id: int) -> dict[str, Any]:
        connector = self.connector_at(evse_id, connector_id)
        transaction = connector.transaction_id
        connector.plugged = False
        if transaction:
            await self.stop_transaction(connector, "EVDisconnected")
        elif connector.status == "Occupied":
            await self.set_status(connector, "Available")
        return {
            "evse_id": evse_id,
            "connector_id": connector_id,
            "status": connector.status,
            "stopped_transaction_id": transaction,
        }

    async def do_unlock_connector(self, evse_id: int, connector_id: int) -> dict[str, Any]:
        connector = self.connector_at(evse_id, connector_id)
        transaction = connector.transaction_id
        await self.local_unlock(connector)
        return {
            "evse_id": evse_id,
            "connector_id": connector_id,
            "status": connector.status,
            "stopped_transaction_id": transaction,
        }

    async def do_start_session(self, id_tag: str, evse_id: int, connector_id: int) -> dict[str, Any]:
        connector = self.connector_at(evse_id, connector_id)
        self.may_start(connector, id_tag)
        self.claim(connector)  # a transaction the plug began (not authorized yet) is taken over below
        try:
            plugged_here = not connector.plugged
            await self.do_plug_connector(evse_id, connector_id)
            verdict = await self.authorize_for_start(id_tag)
            if not verdict.accepted:
                if plugged_here:
                    await self.do_unplug_connector(evse_id, connector_id)
                raise self.rejected(verdict)
            if connector.transaction_id:  # started when the cable went in: now it is authorized
                connector.id_tag = id_tag
                connector.meter.start(time.monotonic())
                self.apply_limits()  # a connector that draws takes its share of the station maximum
                self.observe("transaction_authorized", connector.evse_id, connector.connector_id, id_tag)
                await self.transaction_event(
                    connector,
                    "Updated",
                    "Authorized",
                    id_token={"id_token": id_tag, "type": "ISO14443"},
                    reservation_id=self.claim_reservation(connector, id_tag),
                )
                return self._started(connector)
            return await self._start(connector, id_tag, report_status=True)
        finally:
            self.release(connector)

    async def do_start_transaction(self, id_tag: str, evse_id: int, connector_id: int) -> dict[str, Any]:
        connector = self.connector_at(evse_id, connector_id)
        self.may_start(connector, id_tag)
        if connector.transaction_id:  # even one the plug began: a raw start is a new transaction
            raise CommandRefused(f"not possible: EVSE {evse_id} already has transaction {connector.transaction_id}")
        return await self.start_claimed(connector, id_tag, report_status=False)

    async def _start(self, connector: Connector, id_tag: str, report_status: bool) -> dict[str, Any]:
        verdict = await self.start_transaction(connector, id_tag, report_status=report_status)
        if verdict != "Accepted":
            raise CommandRefused(f"id tag rejected: {verdict}", {"id_tag_status": verdict})
        return self._started(connector)

    def _started(self, connector: Connector) -> dict[str, Any]:
        return {
            "transaction_id": connector.transaction_id,
            "evse_id": connector.evse_id,
            "connector_id": connector.connector_id,
            "meter_start": int(connector.meter.session_start_wh),
            **self.offline_flag(),
        }

    async def do_ev_stops_energy(self, evse_id: int, connector_id: int) -> dict[str, Any]:
        return await self._ev_draws(evse_id, connector_id, suspended=True)

    async def do_ev_requests_energy(self, evse_id: int, connector_id: int) -> dict[str, Any]:
        return await self._ev_draws(evse_id, connector_id, suspended=False)

    async def _ev_draws(self, evse_id: int, connector_id: int, suspended: bool) -> dict[str, Any]:
        connector = self.connector_at(evse_id, connector_id)
        self.in_transaction(connector)
        if connector.id_tag is None:
            raise CommandRefused(f"not possible: the transaction on EVSE {evse_id} is not authorized yet")
        connector.meter.set(time.monotonic(), suspended_ev=suspended)
        await self.transaction_event(connector, "Updated", "ChargingStateChanged")
        return {"evse_id": evse_id, "connector_id": connector_id, "charging_state": self.charging_state(connector)}

    async def report_problem(self, connector: Connector, fault_type: str, active: bool) -> None:
        """NotifyEvent for the connector's Problem variable (the device model's way to report a fault)."""
        self._event_ids = getattr(self, "_event_ids", 0) + 1
        await self.notify(
            call.NotifyEvent(
                generated_at=now_iso(),
                seq_no=0,
                event_data=[
                    {
                        "event_id": self._event_ids,
                        "timestamp": now_iso(),
                        "trigger": "Delta",
                        "actual_value": "true" if active else "false",
                        "tech_code": fault_type,
                        "event_notification_type": "HardWiredNotification",
                        "component": {
                            "name": "Connector",
                            "evse": {"id": connector.evse_id, "connector_id": connector.connector_id},
                        },
                        "variable": {"name": "Problem"},
                        "cleared": not active,
                    }
                ],
            )
        )
