"""An OCPP 2.0.1 charging station: provisioning, authorization, availability, reservation, smart charging,
remote control, firmware and diagnostics as a well-behaved station answers them."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import uuid4

from ocpp.routing import on
from ocpp.v201 import ChargePoint, call, call_result
from ocpp.v201.enums import Action

from simulator.configuration import DeviceModel201
from simulator.station import Connector, Station, now_iso

HEARTBEAT_KEY = ("OCPPCommCtrlr", "HeartbeatInterval")
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


class ChargePoint201(Station, ChargePoint):
    """Speaks OCPP 2.0.1; every EVSE has one connector, (evse_id, 1)."""

    notify_delay = 0.2  # seconds between simulated firmware and log status notifications

    def __init__(self, identity: str, connection: Any, configuration: DeviceModel201) -> None:
        self._held: list[Any] | None = None
        super().__init__(identity, connection, response_timeout=30)
        self.configuration = configuration
        self.profiles: dict[int, dict[str, Any]] = {}
        self.auth_cache: dict[str, str] = {}
        self.reset_when_idle = False

    # -- what the station sends ------------------------------------------------------------------------

    def initial_connectors(self) -> dict[tuple[int, int], Connector]:
        count = int(self.spec.model.get("connector_count", 1))
        return {(n, 1): Connector(evse_id=n, connector_id=1) for n in range(1, count + 1)}

    def configured_heartbeat(self) -> int:
        return self.configuration.int_value(".".join(HEARTBEAT_KEY), 60)

    def status_targets(self) -> list[Connector]:
        return [self.connectors[key] for key in sorted(self.connectors)]

    async def send_boot(self, reason: str = "PowerUp") -> tuple[str, int]:
        model = self.spec.model
        answer = await self.call(
            call.BootNotification(
                charging_station={
                    "model": model.get("model_name", "Simulator")[:20],
                    "vendor_name": model.get("brand_name", "OCPPLAB")[:50],
                    "serial_number": self.spec.identity[:25],
                    "firmware_version": str(model.get("firmware_version", "1.0.0"))[:50],
                },
                reason=reason,
            )
        )
        if answer is None:
            return "CallError", 0
        return answer.status, int(answer.interval)

    async def send_heartbeat(self) -> None:
        await self.call(call.Heartbeat())

    async def send_status(self, connector: Connector) -> None:
        await self.call(
            call.StatusNotification(
                timestamp=now_iso(),
                connector_status=connector.status,
                evse_id=connector.evse_id,
                connector_id=connector.connector_id,
            )
        )

    def set_heartbeat_interval(self, seconds: int) -> None:
        super().set_heartbeat_interval(seconds)
        self.configuration.change(".".join(HEARTBEAT_KEY), str(seconds))

    # -- transactions (the minimal flow; sessions with meter values arrive with the commands) -----------

    async def start_transaction(self, connector: Connector, id_token: str, remote_start_id: int | None = None) -> bool:
        """TransactionEvent Started; the CSMS's idTokenInfo decides whether it goes on."""
        transaction_id = str(uuid4())
        connector.extra.pop("starting", None)
        reservation_id, connector.reservation_id = connector.reservation_id, None
        connector.extra.pop("reserved_for", None)
        connector.transaction_id, connector.id_tag = transaction_id, id_token
        connector.extra["seq_no"] = 0
        if connector.status != "Occupied":
            await self.set_status(connector, "Occupied")
        info: dict[str, Any] = {"transaction_id": transaction_id, "charging_state": "Charging"}
        if remote_start_id is not None:
            info["remote_start_id"] = remote_start_id
        answer = await self.call(
            call.TransactionEvent(
                event_type="Started",
                timestamp=now_iso(),
                trigger_reason="RemoteStart" if remote_start_id is not None else "Authorized",
                seq_no=self._next_seq_no(connector),
                transaction_info=info,
                meter_value=[energy_sample(connector.meter_wh, "Transaction.Begin")],
                evse={"id": connector.evse_id, "connector_id": connector.connector_id},
                id_token={"id_token": id_token, "type": "ISO14443"},
                reservation_id=reservation_id,
            )
        )
        verdict = (answer.id_token_info or {}).get("status", "Accepted") if answer is not None else "Invalid"
        if verdict != "Accepted":
            await self.stop_transaction(connector, "DeAuthorized")
            return False
        return True

    async def stop_transaction(self, connector: Connector, reason: str, trigger_reason: str | None = None) -> None:
        """TransactionEvent Ended, then the connector is Available (or what a scheduled change asked for)."""
        transaction = connector.transaction_id
        if transaction is None:
            return
        connector.transaction_id = None
        await self.call(
            call.TransactionEvent(
                event_type="Ended",
                timestamp=now_iso(),
                trigger_reason=trigger_reason or TRIGGER_REASONS.get(reason, "AbnormalCondition"),
                seq_no=self._next_seq_no(connector),
                transaction_info={"transaction_id": transaction, "charging_state": "Idle", "stopped_reason": reason},
                meter_value=[energy_sample(connector.meter_wh, "Transaction.End")],
                evse={"id": connector.evse_id, "connector_id": connector.connector_id},
            )
        )
        connector.id_tag = None
        await self.set_status(connector, connector.extra.pop("pending_status", "Available"))
        if self.reset_when_idle and not any(c.transaction_id for c in self.connectors.values()):
            self.request_close("reset")

    def _next_seq_no(self, connector: Connector) -> int:
        seq_no = connector.extra.get("seq_no", 0)
        connector.extra["seq_no"] = seq_no + 1
        return seq_no

    def transaction_connector(self, transaction_id: str) -> Connector | None:
        return next((c for c in self.connectors.values() if c.transaction_id == transaction_id), None)

    async def local_unlock(self, connector: Connector) -> None:
        """The unlock-connector command: the cable comes out, ending a running transaction."""
        if connector.transaction_id:
            await self.stop_transaction(connector, "Other", "UnlockCommand")
        elif connector.status == "Occupied":
            await self.set_status(connector, "Available")

    # -- what the CSMS asks ----------------------------------------------------------------------------

    @on(Action.request_start_transaction)
    def on_request_start_transaction(
        self, id_token: dict[str, Any], remote_start_id: int, evse_id: int | None = None, **_: Any
    ):
        connector = self.connector_for(evse_id, 1) if evse_id else self._free_connector()
        if connector is None or not self._may_start(connector, id_token["id_token"]):
            return call_result.RequestStartTransaction(status="Rejected")
        connector.extra["starting"] = True  # a second request must not take it before the transaction starts
        self.after(self.start_transaction(connector, id_token["id_token"], remote_start_id))
        return call_result.RequestStartTransaction(status="Accepted")

    def _may_start(self, connector: Connector, id_token: str) -> bool:
        if connector.transaction_id or connector.extra.get("starting"):
            return False
        if connector.status == "Reserved":
            return connector.extra.get("reserved_for") == id_token
        return connector.status in ("Available", "Occupied")

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
                self.observe("configuration_changed", entry.key, entry.value, "csms")
                if entry.key == ".".join(HEARTBEAT_KEY):
                    Station.set_heartbeat_interval(self, int(entry.value))
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
            "FirmwareStatusNotification": lambda: self.call(call.FirmwareStatusNotification(status="Idle")),
            "LogStatusNotification": lambda: self.call(call.LogStatusNotification(status="Idle")),
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
        self.after(self._set_all(changes, wanted))
        return call_result.ChangeAvailability(status="Scheduled" if scheduled else "Accepted")

    async def _set_all(self, targets: list[Connector], status: str) -> None:
        for connector in targets:
            if status == "Available" and connector.reservation_id is not None:
                await self.set_status(connector, "Reserved")
            elif connector.status != status:
                await self.set_status(connector, status)

    @on(Action.data_transfer)
    def on_data_transfer(self, vendor_id: str, **_: Any):
        return call_result.DataTransfer(status="UnknownVendorId")

    @on(Action.reserve_now)
    def on_reserve_now(
        self, id: int, expiry_date_time: str, id_token: dict[str, Any], evse_id: int | None = None, **_: Any
    ):
        connector = self.connector_for(evse_id, 1) if evse_id else self._free_connector()
        if connector is None:
            return call_result.ReserveNow(status="Rejected" if evse_id else "Occupied")
        if connector.status in ("Faulted", "Unavailable"):
            return call_result.ReserveNow(status=connector.status)
        if connector.status != "Available" and connector.reservation_id != id:
            return call_result.ReserveNow(status="Occupied")
        connector.reservation_id = id
        connector.extra["reserved_for"] = id_token["id_token"]
        if connector.status != "Reserved":
            self.after(self.set_status(connector, "Reserved"))
        return call_result.ReserveNow(status="Accepted")

    @on(Action.cancel_reservation)
    def on_cancel_reservation(self, reservation_id: int, **_: Any):
        connector = next((c for c in self.connectors.values() if c.reservation_id == reservation_id), None)
        if connector is None:
            return call_result.CancelReservation(status="Rejected")
        connector.reservation_id = None
        connector.extra.pop("reserved_for", None)
        if connector.status == "Reserved":
            self.after(self.set_status(connector, "Available"))
        return call_result.CancelReservation(status="Accepted")

    @on(Action.set_charging_profile)
    def on_set_charging_profile(self, evse_id: int, charging_profile: dict[str, Any], **_: Any):
        purpose = charging_profile["charging_profile_purpose"]
        if evse_id != 0 and self.connector_for(evse_id, None) is None:
            return call_result.SetChargingProfile(status="Rejected")
        if (purpose == "TxProfile" and evse_id == 0) or (purpose == "ChargingStationMaxProfile" and evse_id != 0):
            return call_result.SetChargingProfile(status="Rejected")
        self.profiles[charging_profile["id"]] = {"evse_id": evse_id, **charging_profile}
        return call_result.SetChargingProfile(status="Accepted")

    @on(Action.clear_charging_profile)
    def on_clear_charging_profile(
        self, charging_profile_id: int | None = None, charging_profile_criteria: dict[str, Any] | None = None, **_: Any
    ):
        criteria = {
            name: value
            for name, value in (charging_profile_criteria or {}).items()
            if name in ("evse_id", "charging_profile_purpose", "stack_level") and value is not None
        }
        doomed = [
            key
            for key, profile in self.profiles.items()
            if (charging_profile_id is None or key == charging_profile_id)
            and all(profile.get(name) == value for name, value in criteria.items())
        ]
        for key in doomed:
            del self.profiles[key]
        return call_result.ClearChargingProfile(status="Accepted" if doomed else "Unknown")

    @on(Action.get_composite_schedule)
    def on_get_composite_schedule(self, duration: int, evse_id: int, charging_rate_unit: str | None = None, **_: Any):
        if evse_id != 0 and self.connector_for(evse_id, None) is None:
            return call_result.GetCompositeSchedule(status="Rejected")
        limit = float(self.spec.model.get("max_power_w", 22000))
        unit = charging_rate_unit or "W"
        if unit == "A":
            limit = round(limit / 230 / max(1, int(self.spec.model.get("phases", 3) or 1)), 1)
        return call_result.GetCompositeSchedule(
            status="Accepted",
            schedule={
                "evse_id": evse_id,
                "duration": duration,
                "schedule_start": now_iso(),
                "charging_rate_unit": unit,
                "charging_schedule_period": [{"start_period": 0, "limit": limit}],
            },
        )

    @on(Action.get_transaction_status)
    def on_get_transaction_status(self, transaction_id: str | None = None, **_: Any):
        ongoing = None if transaction_id is None else self.transaction_connector(transaction_id) is not None
        return call_result.GetTransactionStatus(messages_in_queue=False, ongoing_indicator=ongoing)

    @on(Action.update_firmware)
    def on_update_firmware(self, request_id: int, firmware: dict[str, Any], **_: Any):
        self.after(
            self._notify_sequence(
                call.FirmwareStatusNotification, request_id, ("Downloading", "Downloaded", "Installing", "Installed")
            )
        )
        return call_result.UpdateFirmware(status="Accepted")

    @on(Action.get_log)
    def on_get_log(self, log: dict[str, Any], log_type: str, request_id: int, **_: Any):
        self.after(self._notify_sequence(call.LogStatusNotification, request_id, ("Uploading", "Uploaded")))
        return call_result.GetLog(status="Accepted", filename=f"{log_type}-{self.spec.identity}.log")

    async def _notify_sequence(self, message: Any, request_id: int, statuses: tuple[str, ...]) -> None:
        for status in statuses:
            await asyncio.sleep(self.notify_delay)
            await self.call(message(status=status, request_id=request_id))

    def _free_connector(self) -> Connector | None:
        return next((c for c in self.status_targets() if c.status == "Available" and self._may_start(c, "")), None)
