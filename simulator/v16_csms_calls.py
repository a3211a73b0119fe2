"""What an OCPP 1.6 charge point answers when the CSMS calls it: each handler translates the call into the
station's shared behaviour and its answer back (a few lines each)."""

from __future__ import annotations

from typing import Any

from ocpp.routing import on
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action

from domain.instants import instant
from simulator.station import Connector, now_iso


class CsmsCalls16:
    """The CSMS's calls to an OCPP 1.6 charge point; mixed into ChargePoint16."""

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
        number = self.transaction_number(connector)
        message = call.MeterValues(connector_id=connector.connector_id, meter_value=[sample], transaction_id=number)
        await self.call(message)

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

    # -- the security whitepaper (on models that implement it; see simulator/certificates.py) ----------------

    @on(Action.extended_trigger_message)
    def on_extended_trigger_message(self, requested_message: str, connector_id: int | None = None, **_: Any):
        if requested_message == "SignChargePointCertificate":
            if not self.can_sign():
                return call_result.ExtendedTriggerMessage(status="Rejected")
            self.after(self.send_signing_request())
            return call_result.ExtendedTriggerMessage(status="Accepted")
        if requested_message == "LogStatusNotification":  # no GetLog runs on a 1.6 charger here: Idle
            self.after(self.call(call.LogStatusNotification(status="Idle")))
            return call_result.ExtendedTriggerMessage(status="Accepted")
        answer = self.on_trigger_message(requested_message, connector_id)
        return call_result.ExtendedTriggerMessage(status=answer.status)

    @on(Action.certificate_signed)
    def on_certificate_signed(self, certificate_chain: str, **_: Any):
        accepted = self.install_signed_chain(certificate_chain)
        return call_result.CertificateSigned(status="Accepted" if accepted else "Rejected")

    @on(Action.get_installed_certificate_ids)
    def on_get_installed_certificate_ids(self, certificate_type: str, **_: Any):
        found = [e.hash_data.payload() for e in self.installed_certificates([certificate_type])]
        return call_result.GetInstalledCertificateIds(
            status="Accepted" if found else "NotFound", certificate_hash_data=found or None
        )

    def _free_connector(self) -> Connector | None:
        return next((c for key, c in sorted(self.connectors.items()) if key[0] and c.status == "Available"), None)
