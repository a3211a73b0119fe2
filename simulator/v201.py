"""An OCPP 2.0.1 charging station: provisioning, authorization, availability, reservation, smart charging,
remote control, firmware and diagnostics as a well-behaved station answers them."""

from __future__ import annotations

import time
from typing import Any
from uuid import uuid4

from ocpp.routing import on
from ocpp.v201 import ChargePoint, call, call_result
from ocpp.v201.enums import Action

from domain.configuration import DeviceModel201
from simulator.maintenance import Maintenance
from simulator.meter import measurand_list, sampled_values_201
from simulator.reservation_desk import instant
from simulator.station import CommandRefused, Connector, Station, now_iso
from simulator.transfers import load_certificate

REPORT_CHUNK = 20  # NotifyReport items per message when DeviceDataCtrlr.ItemsPerMessage is not set
TRIGGER_REASONS = {  # stoppedReason -> triggerReason of the TransactionEvent Ended that reports it
    "DeAuthorized": "Deauthorized",
    "EVDisconnected": "EVCommunicationLost",
    "ImmediateReset": "ResetCommand",
    "Local": "StopAuthorized",
    "Remote": "RemoteStop",
}


def energy_sample(meter_wh: int, context: str) -> dict[str, Any]:
    """One MeterValue with the energy register (the value is a number in 2.0.1)."""
    return {
        "timestamp": now_iso(),
        "sampled_value": [
            {
                "value": meter_wh,
                "context": context,
                "measurand": "Energy.Active.Import.Register",
                "unit_of_measure": {"unit": "Wh"},
            }
        ],
    }


class ChargePoint201(Maintenance, Station, ChargePoint):
    """Speaks OCPP 2.0.1; every EVSE has one connector, (evse_id, 1)."""

    messages, results = call, call_result
    heartbeat_key = "OCPPCommCtrlr.HeartbeatInterval"
    profile_keys = ("SmartChargingCtrlr.ProfileStackLevel", "SmartChargingCtrlr.Entries")
    zero_reservation_key = "ReservationCtrlr.NonEvseSpecific"
    sample_interval_key = "SampledDataCtrlr.TxUpdatedInterval"
    authorization_keys = ("AuthCtrlr.LocalPreAuthorize", "LocalAuthListCtrlr.Enabled", "AuthCacheCtrlr.Enabled")

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
        **extra: Any,
    ) -> Any:
        """One TransactionEvent of the connector's transaction (seqNo counts per transaction)."""
        transaction = connector.extra.get("transaction") or connector.transaction_id
        info = {"transaction_id": transaction, "charging_state": self.charging_state(connector)}
        info.update(extra.pop("info", {}))
        answer = await self.call(
            call.TransactionEvent(
                event_type=event_type,
                timestamp=now_iso(),
                trigger_reason=trigger_reason,
                seq_no=self._next_seq_no(connector),
                transaction_info=info,
                meter_value=meter_value or None,
                evse={"id": connector.evse_id, "connector_id": connector.connector_id},
                **extra,
            )
        )
        if answer is None:
            raise CommandRefused(f"CSMS answered CallError to TransactionEvent {event_type}")
        return answer

    async def send_meter_sample(self, connector: Connector) -> None:
        await self.transaction_event(
            connector,
            "Updated",
            "MeterValuePeriodic",
            self._sampled(connector, "SampledDataCtrlr.TxUpdatedMeasurands", "Sample.Periodic"),
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
        except CommandRefused:  # the CSMS answered Started with a CallError: the transaction never began
            self.end_transaction(connector, transaction_id, "Other")
            connector.id_tag = None
            connector.extra.pop("transaction", None)
            raise
        verdict = (answer.id_token_info or {}).get("status", "Accepted") if id_token is not None else "Accepted"
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
        await self.transaction_event(
            connector,
            "Ended",
            trigger_reason or TRIGGER_REASONS.get(reason, "AbnormalCondition"),
            end,
            info={"charging_state": "Idle", "stopped_reason": reason},
        )
        connector.id_tag = None
        connector.extra.pop("transaction", None)
        if report_status:
            await self.set_status(connector, connector.extra.pop("pending_status", self.idle_status(connector)))
        if self.reset_when_idle and not any(c.transaction_id for c in self.connectors.values()):
            self.request_close("reset")
        return meter_stop

    @staticmethod
    def idle_status(connector: Connector) -> str:
        return "Occupied" if connector.plugged else "Available"

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
            status = await self.authorize_for_start(id_tag)
            if status != "Accepted":
                if plugged_here:
                    await self.do_unplug_connector(evse_id, connector_id)
                raise CommandRefused(f"id tag rejected: {status}", {"id_tag_status": status})
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

    @staticmethod
    def _started(connector: Connector) -> dict[str, Any]:
        return {
            "transaction_id": connector.transaction_id,
            "evse_id": connector.evse_id,
            "connector_id": connector.connector_id,
            "meter_start": int(connector.meter.session_start_wh),
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
        await self.call(
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

    # -- what the CSMS asks ----------------------------------------------------------------------------

    @on(Action.request_start_transaction)
    def on_request_start_transaction(
        self, id_token: dict[str, Any], remote_start_id: int, evse_id: int | None = None, **_: Any
    ):
        connector = self.connector_for(evse_id, 1) if evse_id else self._free_connector()
        if connector is None or not self._may_start(connector, id_token["id_token"]):
            return call_result.RequestStartTransaction(status="Rejected")
        self.claim(connector)  # a second request must not take it before the transaction starts
        self.after(self._remote_start(connector, id_token["id_token"], remote_start_id))
        return call_result.RequestStartTransaction(status="Accepted")

    async def _remote_start(self, connector: Connector, id_token: str, remote_start_id: int) -> None:
        try:
            await self.start_transaction(connector, id_token, remote_start_id)
        finally:
            self.release(connector)

    def _may_start(self, connector: Connector, id_token: str | None) -> bool:
        if connector.transaction_id or connector.extra.get("starting"):
            return False
        return connector.status in ("Available", "Occupied", "Reserved") and (
            self.reservation_refusal(connector, id_token) is None
        )

    @on(Action.request_stop_transaction)
    def on_request_stop_transaction(self, transaction_id: str, **_: Any):
        connector = self.transaction_connector(transaction_id)
        if connector is None:
            return call_result.RequestStopTransaction(status="Rejected")
        self.after(self.stop_transaction(connector, "Remote"))
        return call_result.RequestStopTransaction(status="Accepted")

    @on(Action.reset)
    def on_reset(self, type: str, evse_id: int | None = None, **_: Any):
        if evse_id is not None:  # resetting a single EVSE is not supported
            return call_result.Reset(status="Rejected")
        if type == "OnIdle" and any(c.transaction_id for c in self.connectors.values()):
            self.reset_when_idle = True  # the reset follows the end of the last transaction
            return call_result.Reset(status="Scheduled")
        self.after(self._reset())
        return call_result.Reset(status="Accepted")

    async def _reset(self) -> None:
        for connector in self.connectors.values():
            if connector.transaction_id:
                await self.stop_transaction(connector, "ImmediateReset")
        self.request_close("reset")

    @on(Action.set_variables)
    def on_set_variables(self, set_variable_data: list[dict[str, Any]], **_: Any):
        results = []
        for item in set_variable_data:
            component, variable = item["component"]["name"], item["variable"]["name"]
            value, attribute_type = item["attribute_value"], item.get("attribute_type") or "Actual"
            status = self.configuration.set_variable(component, variable, value, attribute_type)
            if status in ("Accepted", "RebootRequired") and attribute_type == "Actual":
                (entry,), _ = self.configuration.get([f"{component}.{variable}"])  # canonical name, normalised value
                self.observe_local("configuration_changed", entry.key, entry.value, "csms")
            results.append(
                {
                    "attribute_status": status,
                    "component": item["component"],
                    "variable": item["variable"],
                    **({"attribute_type": item["attribute_type"]} if "attribute_type" in item else {}),
                }
            )
        return call_result.SetVariables(set_variable_result=results)

    @on(Action.get_variables)
    def on_get_variables(self, get_variable_data: list[dict[str, Any]], **_: Any):
        results = []
        for item in get_variable_data:
            status, value = self.configuration.get_variable(
                item["component"]["name"], item["variable"]["name"], item.get("attribute_type") or "Actual"
            )
            result = {"attribute_status": status, "component": item["component"], "variable": item["variable"]}
            if "attribute_type" in item:
                result["attribute_type"] = item["attribute_type"]
            if status == "Accepted" and value is not None:
                result["attribute_value"] = str(value)
            results.append(result)
        return call_result.GetVariables(get_variable_result=results)

    @on(Action.get_base_report)
    def on_get_base_report(self, request_id: int, report_base: str, **_: Any):
        report = self.configuration.report([report_base])
        if not report:
            return call_result.GetBaseReport(status="EmptyResultSet")
        self.after(self._notify_report(request_id, report))
        return call_result.GetBaseReport(status="Accepted")

    async def _notify_report(self, request_id: int, report: list[dict[str, Any]]) -> None:
        size = max(1, self.configuration.int_value("DeviceDataCtrlr.ItemsPerMessage", REPORT_CHUNK))
        chunks = [report[start : start + size] for start in range(0, len(report), size)]
        for seq_no, chunk in enumerate(chunks):
            await self.call(
                call.NotifyReport(
                    request_id=request_id,
                    generated_at=now_iso(),
                    seq_no=seq_no,
                    report_data=chunk,
                    tbc=seq_no < len(chunks) - 1,
                )
            )

    @on(Action.clear_cache)
    def on_clear_cache(self, **_: Any):
        if not self.configuration.bool_value("AuthCacheCtrlr.Enabled", True):
            return call_result.ClearCache(status="Rejected")
        self.auth_cache.clear()
        return call_result.ClearCache(status="Accepted")

    @on(Action.send_local_list)
    def on_send_local_list(self, version_number: int, update_type: str, local_authorization_list=None, **_: Any):
        if not self.configuration.bool_value("LocalAuthListCtrlr.Enabled", True):
            return call_result.SendLocalList(status="Failed")
        changes = [
            (
                e["id_token"]["id_token"],
                self._local_entry(e["id_token"], e["id_token_info"]) if e.get("id_token_info") else None,
            )
            for e in local_authorization_list or []
        ]
        accepted = self.apply_local_list(version_number, update_type, changes)
        return call_result.SendLocalList(status="Accepted" if accepted else "VersionMismatch")

    @staticmethod
    def _local_entry(id_token: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
        """An entry in the shape the local list keeps for both versions (id_tag, status, expiry, parent)."""
        entry = {"id_tag": id_token["id_token"], "type": id_token["type"], "status": info["status"]}
        if info.get("cache_expiry_date_time"):
            entry["expiry_date"] = info["cache_expiry_date_time"]
        if info.get("group_id_token"):
            entry["parent_id_tag"] = info["group_id_token"]["id_token"]
        return entry

    @on(Action.get_local_list_version)
    def on_get_local_list_version(self, **_: Any):
        enabled = self.configuration.bool_value("LocalAuthListCtrlr.Enabled", True)
        return call_result.GetLocalListVersion(version_number=self.runtime.local_list["version"] if enabled else 0)

    @on(Action.unlock_connector)
    def on_unlock_connector(self, evse_id: int, connector_id: int, **_: Any):
        connector = self.connectors.get((evse_id, connector_id))
        if connector is None:
            return call_result.UnlockConnector(status="UnknownConnector")
        if connector.transaction_id:  # an authorized transaction keeps its cable locked
            return call_result.UnlockConnector(status="OngoingAuthorizedTransaction")
        self.after(self.local_unlock(connector))
        return call_result.UnlockConnector(status="Unlocked")

    @on(Action.trigger_message)
    def on_trigger_message(self, requested_message: str, evse: dict[str, Any] | None = None, **_: Any):
        evse_id, connector_id = (evse["id"], evse.get("connector_id")) if evse else (None, None)
        senders = {
            "BootNotification": lambda: self.send_boot("Triggered"),
            "Heartbeat": self.send_heartbeat,
            "StatusNotification": lambda: self._status_of(evse_id, connector_id),
            "MeterValues": lambda: self._meter_values(evse_id),
            "FirmwareStatusNotification": self.report_firmware_state,
            "LogStatusNotification": self.report_log_state,
        }
        if requested_message not in senders:
            return call_result.TriggerMessage(status="NotImplemented")
        if evse_id is not None and self.connector_for(evse_id, connector_id) is None:
            return call_result.TriggerMessage(status="Rejected")
        if requested_message == "BootNotification" and self.booted:  # only while Pending or Rejected
            return call_result.TriggerMessage(status="Rejected")
        self.after(senders[requested_message]())
        return call_result.TriggerMessage(status="Accepted")

    async def _status_of(self, evse_id: int | None, connector_id: int | None) -> None:
        for connector in self._targets(evse_id, connector_id):
            await self.send_status(connector)

    async def _meter_values(self, evse_id: int | None) -> None:
        for connector in self._targets(evse_id, None):
            await self.call(
                call.MeterValues(evse_id=connector.evse_id, meter_value=[energy_sample(connector.meter_wh, "Trigger")])
            )

    def _targets(self, evse_id: int | None, connector_id: int | None) -> list[Connector]:
        return [
            c
            for c in self.status_targets()
            if (evse_id is None or c.evse_id == evse_id) and (connector_id is None or c.connector_id == connector_id)
        ]

    @on(Action.change_availability)
    def on_change_availability(self, operational_status: str, evse: dict[str, Any] | None = None, **_: Any):
        evse_id = evse["id"] if evse and evse["id"] else None  # EVSE 0 is the whole station
        targets = self._targets(evse_id, evse.get("connector_id") if evse_id else None)
        if not targets:
            return call_result.ChangeAvailability(status="Rejected")
        wanted = "Unavailable" if operational_status == "Inoperative" else "Available"
        changes, scheduled = [], False
        for connector in targets:
            connector.extra.pop("pending_status", None)
            if connector.transaction_id:
                if wanted == "Unavailable":  # takes effect when the transaction ends
                    connector.extra["pending_status"], scheduled = wanted, True
            elif connector.status != "Faulted" and (connector.status == "Unavailable") != (wanted == "Unavailable"):
                changes.append(connector)
        self.after(self.set_statuses(changes, wanted))
        return call_result.ChangeAvailability(status="Scheduled" if scheduled else "Accepted")

    @on(Action.reserve_now)
    def on_reserve_now(
        self,
        id: int,
        expiry_date_time: str,
        id_token: dict[str, Any],
        evse_id: int | None = None,
        group_id_token: dict[str, Any] | None = None,
        **_: Any,
    ):
        if not self.configuration.bool_value("ReservationCtrlr.Enabled", True):
            return call_result.ReserveNow(status="Rejected")
        parent = (group_id_token or {}).get("id_token")
        status = self.reserve(evse_id or 0, id_token["id_token"], instant(expiry_date_time), id, parent)
        return call_result.ReserveNow(status=status)

    async def report_reservation_end(self, reservation_id: int, reason: str) -> None:
        if reason in ("Expired", "Removed"):
            await self.call(
                call.ReservationStatusUpdate(reservation_id=reservation_id, reservation_update_status=reason)
            )

    @on(Action.set_charging_profile)
    def on_set_charging_profile(self, evse_id: int, charging_profile: dict[str, Any], **_: Any):
        status, why = self.answer_profile(evse_id, charging_profile)
        info = None if why is None else {"reason_code": "InvalidProfile", "additional_info": why[:512]}
        return call_result.SetChargingProfile(status=status, status_info=info)

    @on(Action.clear_charging_profile)
    def on_clear_charging_profile(
        self, charging_profile_id: int | None = None, charging_profile_criteria: dict[str, Any] | None = None, **_: Any
    ):
        criteria = charging_profile_criteria or {}
        cleared = self.clear_profiles(
            charging_profile_id,
            connector=criteria.get("evse_id"),
            purpose=criteria.get("charging_profile_purpose"),
            stack_level=criteria.get("stack_level"),
        )
        return call_result.ClearChargingProfile(status="Accepted" if cleared else "Unknown")

    @on(Action.get_composite_schedule)
    def on_get_composite_schedule(self, duration: int, evse_id: int, charging_rate_unit: str | None = None, **_: Any):
        schedule = self.composite_answer(evse_id, duration, charging_rate_unit)
        if schedule is None:
            return call_result.GetCompositeSchedule(status="Rejected")
        return call_result.GetCompositeSchedule(
            status="Accepted", schedule={"evse_id": evse_id, "schedule_start": schedule.pop("start"), **schedule}
        )

    @on(Action.get_charging_profiles)
    def on_get_charging_profiles(
        self, request_id: int, charging_profile: dict[str, Any], evse_id: int | None = None, **_: Any
    ):
        """Reports the installed profiles that match, one ReportChargingProfiles per EVSE, after the answer."""
        wanted = charging_profile.get("charging_profile_id") or []
        found = [
            (kept["connector"], kept["profile"])
            for key, kept in sorted(self.runtime.charging_profiles.items(), key=lambda item: int(item[0]))
            if (evse_id is None or kept["connector"] == evse_id)
            and (not wanted or int(key) in wanted)
            and charging_profile.get("charging_profile_purpose") in (None, kept["profile"]["charging_profile_purpose"])
            and charging_profile.get("stack_level") in (None, kept["profile"]["stack_level"])
            and charging_profile.get("charging_limit_source") in (None, "CSO")
        ]
        if not found:
            return call_result.GetChargingProfiles(status="NoProfiles")
        self.after(self._report_profiles(request_id, found))
        return call_result.GetChargingProfiles(status="Accepted")

    async def _report_profiles(self, request_id: int, found: list[tuple[int, dict[str, Any]]]) -> None:
        evses = sorted({evse for evse, _ in found})
        for index, evse in enumerate(evses):
            await self.call(
                call.ReportChargingProfiles(
                    request_id=request_id,
                    charging_limit_source="CSO",
                    evse_id=evse,
                    charging_profile=[profile for target, profile in found if target == evse],
                    tbc=index < len(evses) - 1,
                )
            )

    @on(Action.get_transaction_status)
    def on_get_transaction_status(self, transaction_id: str | None = None, **_: Any):
        ongoing = None if transaction_id is None else self.transaction_connector(transaction_id) is not None
        return call_result.GetTransactionStatus(messages_in_queue=False, ongoing_indicator=ongoing)

    @on(Action.update_firmware)
    def on_update_firmware(
        self, request_id: int, firmware: dict[str, Any], retries=None, retry_interval=None, **_: Any
    ):
        certificate = firmware.get("signing_certificate")
        if certificate and load_certificate(certificate) is None:
            return call_result.UpdateFirmware(status="InvalidCertificate")
        replaced = self.start_firmware_update(
            firmware["location"],
            firmware["retrieve_date_time"],
            retries,
            retry_interval,
            request_id,
            firmware.get("signature"),
            certificate,
            firmware.get("install_date_time"),
        )
        return call_result.UpdateFirmware(status="AcceptedCanceled" if replaced else "Accepted")

    @on(Action.get_log)
    def on_get_log(
        self, log: dict[str, Any], log_type: str, request_id: int, retries=None, retry_interval=None, **_: Any
    ):
        name = f"{log_type}-{self.spec.identity}.log"
        window = log.get("oldest_timestamp"), log.get("latest_timestamp")
        replaced = self.start_log_upload(log["remote_location"], name, *window, retries, retry_interval, request_id)
        return call_result.GetLog(status="AcceptedCanceled" if replaced else "Accepted", filename=name)

    def _free_connector(self) -> Connector | None:
        return next((c for c in self.status_targets() if c.status == "Available" and self._may_start(c, "")), None)
