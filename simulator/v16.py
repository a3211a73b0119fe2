"""An OCPP 1.6J charge point: the Core, Local Auth List, Reservation, Smart Charging, Remote Trigger and
Firmware Management profiles as a well-behaved station answers them."""

from __future__ import annotations

import time
from typing import Any

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action

from domain.configuration import Configuration16
from simulator.maintenance import Maintenance
from simulator.meter import measurand_list, sampled_values_16
from simulator.reservation_desk import instant
from simulator.station import CommandRefused, Connector, Station, now_iso


class ChargePoint16(Maintenance, Station, ChargePoint):
    """Speaks OCPP 1.6J; connector 0 stands for the whole charge point."""

    messages, results = call, call_result
    heartbeat_key = "HeartbeatInterval"
    profile_keys = ("ChargeProfileMaxStackLevel", "MaxChargingProfilesInstalled")
    zero_reservation_key = "ReserveConnectorZeroSupported"
    sample_interval_key = "MeterValueSampleInterval"
    authorization_keys = ("LocalPreAuthorize", "LocalAuthListEnabled", "AuthorizationCacheEnabled")

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
        transaction = connector.transaction_id
        await self.call(
            call.MeterValues(
                connector_id=connector.connector_id,
                meter_value=[sample],
                transaction_id=int(transaction) if transaction else None,
            )
        )

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
        """StartTransaction; the CSMS's verdict on the id tag (a refused tag ends the transaction at once)."""
        if report_status and connector.status == "Available":
            await self.set_status(connector, "Preparing")
        answer = await self.call(
            call.StartTransaction(
                connector_id=connector.connector_id,
                id_tag=id_tag,
                meter_start=connector.meter_wh,
                timestamp=now_iso(),
                reservation_id=self.claim_reservation(connector, id_tag),
            )
        )
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
        await self.call(
            call.StopTransaction(
                meter_stop=meter_stop,
                timestamp=now_iso(),
                transaction_id=int(transaction),
                reason=reason,
                id_tag=id_tag,
                transaction_data=[{"timestamp": now_iso(), "sampled_value": end}] if end else None,
            )
        )
        connector.id_tag = None
        if report_status:
            await self.set_status(connector, "Finishing")
        return meter_stop

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
            status = await self.authorize_for_start(id_tag)
            if status != "Accepted":
                if plugged_here:
                    await self.do_unplug_connector(connector_id)
                raise CommandRefused(f"id tag rejected: {status}", {"id_tag_status": status})
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

    # -- what the CSMS asks ----------------------------------------------------------------------------

    @on(Action.remote_start_transaction)
    def on_remote_start_transaction(self, id_tag: str, connector_id: int | None = None, **_: Any):
        connector = self.connectors.get((connector_id, connector_id)) if connector_id else self._free_connector()
        if (
            connector is None
            or connector.connector_id == 0
            or connector.status not in ("Available", "Preparing", "Reserved")
            or connector.transaction_id
            or connector.extra.get("starting")
            or self.reservation_refusal(connector, id_tag)
        ):
            return call_result.RemoteStartTransaction(status="Rejected")
        self.claim(connector)
        self.after(self._remote_start(connector, id_tag))
        return call_result.RemoteStartTransaction(status="Accepted")

    async def _remote_start(self, connector: Connector, id_tag: str) -> None:
        try:
            await self.start_transaction(connector, id_tag)
        finally:
            self.release(connector)

    @on(Action.remote_stop_transaction)
    def on_remote_stop_transaction(self, transaction_id: int, **_: Any):
        connector = self.transaction_connector(transaction_id)
        if connector is None:
            return call_result.RemoteStopTransaction(status="Rejected")
        self.after(self.stop_transaction(connector, "Remote"))
        return call_result.RemoteStopTransaction(status="Accepted")

    @on(Action.reset)
    def on_reset(self, type: str, **_: Any):
        self.after(self._reset(type))
        return call_result.Reset(status="Accepted")

    async def _reset(self, kind: str) -> None:
        for connector in self.connectors.values():
            if connector.transaction_id:
                await self.stop_transaction(connector, "HardReset" if kind == "Hard" else "SoftReset")
        self.request_close("reset")

    @on(Action.change_configuration)
    def on_change_configuration(self, key: str, value: str, **_: Any):
        status = self.configuration.change(key, value)
        if status in ("Accepted", "RebootRequired"):
            (entry,), _ = self.configuration.get([key])  # canonical name, normalised value
            self.observe_local("configuration_changed", entry.key, entry.value, "csms")
        return call_result.ChangeConfiguration(status=status)

    @on(Action.get_configuration)
    def on_get_configuration(self, key: list[str] | None = None, **_: Any):
        known, unknown = self.configuration.get(key or None)
        entries = [
            {"key": e.key, "readonly": e.readonly, **({"value": e.value} if e.value is not None else {})} for e in known
        ]
        return call_result.GetConfiguration(configuration_key=entries, unknown_key=unknown or None)

    @on(Action.clear_cache)
    def on_clear_cache(self, **_: Any):
        self.auth_cache.clear()
        return call_result.ClearCache(status="Accepted")

    @on(Action.send_local_list)
    def on_send_local_list(self, list_version: int, update_type: str, local_authorization_list=None, **_: Any):
        if not self.configuration.bool_value("LocalAuthListEnabled", True):
            return call_result.SendLocalList(status="NotSupported")
        changes = [
            (e["id_tag"], {"id_tag": e["id_tag"], **e["id_tag_info"]} if e.get("id_tag_info") else None)
            for e in local_authorization_list or []
        ]
        accepted = self.apply_local_list(list_version, update_type, changes)
        return call_result.SendLocalList(status="Accepted" if accepted else "VersionMismatch")

    @on(Action.get_local_list_version)
    def on_get_local_list_version(self, **_: Any):
        enabled = self.configuration.bool_value("LocalAuthListEnabled", True)
        return call_result.GetLocalListVersion(list_version=self.runtime.local_list["version"] if enabled else -1)

    @on(Action.unlock_connector)
    def on_unlock_connector(self, connector_id: int, **_: Any):
        connector = self.connectors.get((connector_id, connector_id))
        if connector is None or connector_id == 0:
            return call_result.UnlockConnector(status="NotSupported")
        self.after(self._unlock(connector))
        return call_result.UnlockConnector(status="Unlocked")

    async def _unlock(self, connector: Connector) -> None:
        if connector.transaction_id:
            await self.stop_transaction(connector, "UnlockCommand")
        if connector.status != "Available":
            await self.set_status(connector, "Available")

    @on(Action.trigger_message)
    def on_trigger_message(self, requested_message: str, connector_id: int | None = None, **_: Any):
        senders = {
            "BootNotification": self.send_boot,
            "Heartbeat": self.send_heartbeat,
            "StatusNotification": lambda: self._status_of(connector_id),
            "DiagnosticsStatusNotification": self.report_log_state,
            "FirmwareStatusNotification": self.report_firmware_state,
            "MeterValues": lambda: self._meter_values(connector_id),
        }
        if requested_message not in senders:
            return call_result.TriggerMessage(status="NotImplemented")
        if connector_id is not None and (connector_id, connector_id) not in self.connectors:
            return call_result.TriggerMessage(status="Rejected")
        self.after(senders[requested_message]())
        return call_result.TriggerMessage(status="Accepted")

    async def _status_of(self, connector_id: int | None) -> None:
        targets = [self.connectors[(connector_id, connector_id)]] if connector_id is not None else self.status_targets()
        for connector in targets:
            await self.send_status(connector)

    async def _meter_values(self, connector_id: int | None) -> None:
        connector = self.connectors.get((connector_id or 1, connector_id or 1))
        if connector is None:
            return
        sample = {
            "timestamp": now_iso(),
            "sampled_value": self._sampled(connector, "MeterValuesSampledData", "Trigger"),
        }
        transaction = int(connector.transaction_id) if connector.transaction_id else None
        await self.call(
            call.MeterValues(connector_id=connector.connector_id, meter_value=[sample], transaction_id=transaction)
        )

    @on(Action.change_availability)
    def on_change_availability(self, connector_id: int, type: str, **_: Any):
        targets = (
            list(self.connectors.values())
            if connector_id == 0
            else (
                [self.connectors[(connector_id, connector_id)]]
                if (connector_id, connector_id) in self.connectors
                else []
            )
        )
        if not targets:
            return call_result.ChangeAvailability(status="Rejected")
        if any(c.transaction_id for c in targets):
            return call_result.ChangeAvailability(status="Scheduled")
        status = "Unavailable" if type == "Inoperative" else "Available"
        self.after(self.set_statuses(targets, status))
        return call_result.ChangeAvailability(status="Accepted")

    @on(Action.reserve_now)
    def on_reserve_now(
        self,
        connector_id: int,
        expiry_date: str,
        id_tag: str,
        reservation_id: int,
        parent_id_tag: str | None = None,
        **_: Any,
    ):
        status = self.reserve(connector_id, id_tag, instant(expiry_date), reservation_id, parent_id_tag)
        return call_result.ReserveNow(status=status)

    @on(Action.set_charging_profile)
    def on_set_charging_profile(self, connector_id: int, cs_charging_profiles: dict[str, Any], **_: Any):
        status, _why = self.answer_profile(connector_id, cs_charging_profiles)
        return call_result.SetChargingProfile(status=status)

    @on(Action.clear_charging_profile)
    def on_clear_charging_profile(
        self,
        id: int | None = None,
        connector_id: int | None = None,
        charging_profile_purpose: str | None = None,
        stack_level: int | None = None,
        **_: Any,
    ):
        cleared = self.clear_profiles(
            id, connector=connector_id, purpose=charging_profile_purpose, stack_level=stack_level
        )
        return call_result.ClearChargingProfile(status="Accepted" if cleared else "Unknown")

    @on(Action.get_composite_schedule)
    def on_get_composite_schedule(
        self, connector_id: int, duration: int, charging_rate_unit: str | None = None, **_: Any
    ):
        schedule = self.composite_answer(connector_id, duration, charging_rate_unit)
        if schedule is None:
            return call_result.GetCompositeSchedule(status="Rejected")
        start = schedule.pop("start")
        return call_result.GetCompositeSchedule(
            status="Accepted",
            connector_id=connector_id,
            schedule_start=start,
            charging_schedule={**schedule, "start_schedule": start},
        )

    @on(Action.get_diagnostics)
    def on_get_diagnostics(
        self, location: str, retries=None, retry_interval=None, start_time=None, stop_time=None, **_: Any
    ):
        name = f"diagnostics-{self.spec.identity}.log"
        self.start_log_upload(location, name, start_time, stop_time, retries, retry_interval)
        return call_result.GetDiagnostics(file_name=name)

    @on(Action.update_firmware)
    def on_update_firmware(self, location: str, retrieve_date: str, retries=None, retry_interval=None, **_: Any):
        self.start_firmware_update(location, retrieve_date, retries, retry_interval)
        return call_result.UpdateFirmware()

    def _free_connector(self) -> Connector | None:
        return next((c for key, c in sorted(self.connectors.items()) if key[0] and c.status == "Available"), None)
