"""What an OCPP 2.0.1 charge point answers when the CSMS calls it: each handler translates the call into the
station's shared behaviour and its answer back (a few lines each)."""

from __future__ import annotations

from typing import Any

from ocpp.routing import on
from ocpp.v201 import call, call_result
from ocpp.v201.enums import Action

from domain.instants import instant
from simulator.station import Connector, now_iso
from simulator.transfers import load_certificate

REPORT_CHUNK = 20  # NotifyReport items per message when DeviceDataCtrlr.ItemsPerMessage is not set


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


class CsmsCalls201:
    """The CSMS's calls to an OCPP 2.0.1 charge point; mixed into ChargePoint201."""

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
            "SignChargingStationCertificate": self.send_signing_request,
        }
        if requested_message not in senders:
            return call_result.TriggerMessage(status="NotImplemented")
        if requested_message == "SignChargingStationCertificate" and not self.can_sign():
            return call_result.TriggerMessage(status="Rejected")
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
            await self.notify(
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
            self.security_event("InvalidFirmwareSigningCertificate", f"unreadable signing certificate: {request_id}")
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

    @on(Action.certificate_signed)
    def on_certificate_signed(self, certificate_chain: str, certificate_type: str | None = None, **_: Any):
        if certificate_type == "V2GCertificate":  # no ISO 15118 here: no V2G certificate was asked for
            return call_result.CertificateSigned(status="Rejected")
        accepted = self.install_signed_chain(certificate_chain)
        return call_result.CertificateSigned(status="Accepted" if accepted else "Rejected")

    @on(Action.get_installed_certificate_ids)
    def on_get_installed_certificate_ids(self, certificate_type: list[str] | None = None, **_: Any):
        found = self.installed_certificates(certificate_type)
        chain = [
            {"certificate_type": e.certificate_type, "certificate_hash_data": e.hash_data.payload()} for e in found
        ]
        return call_result.GetInstalledCertificateIds(
            status="Accepted" if found else "NotFound", certificate_hash_data_chain=chain or None
        )

    def _free_connector(self) -> Connector | None:
        return next((c for c in self.status_targets() if c.status == "Available" and self._may_start(c, "")), None)
