"""The central-system side of one connection, per OCPP version: schema-valid answers to every charge-point-initiated
action (the `ocpp` library validates every CALL and answer), the verdicts a test sets (`Verdicts`), and deliberate
CallErrors (`Verdicts.refuse`). Used by `adapters/csms/server.py`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ocpp import v16, v201
from ocpp.exceptions import InternalError
from ocpp.routing import after, on
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v16 import datatypes as types16
from ocpp.v16.enums import Action as Action16
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201
from ocpp.v201 import datatypes as types201
from ocpp.v201.enums import Action as Action201

if TYPE_CHECKING:
    from adapters.csms.server import CsmsServer, RecordingConnection


def now_iso() -> str:
    """The current UTC time as OCPP writes it: 2025-01-31T12:00:00.000Z."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


REFUSED_ON_PURPOSE = "refused on purpose (Verdicts.refuse)"


class Refusing:
    """Answers a CALL with a CallError InternalError while `Verdicts.refuse` says so (a CSMS that fails to process
    a message, e.g. to test a charge point's retries); mixed into both central systems."""

    server: CsmsServer

    async def _handle_call(self, msg: Any) -> Any:
        refuse = self.server.verdicts.refuse
        if refuse.get(msg.action, 0) > 0:
            refuse[msg.action] -= 1
            raise InternalError(description=REFUSED_ON_PURPOSE)
        return await super()._handle_call(msg)  # type: ignore[misc]


class CentralSystem16(Refusing, v16.ChargePoint):
    """The central-system side of one OCPP 1.6J connection."""

    def __init__(self, identity: str, connection: RecordingConnection, server: CsmsServer) -> None:
        super().__init__(identity, connection, response_timeout=30)
        self.server = server

    def _id_tag_info(self) -> types16.IdTagInfo:
        return types16.IdTagInfo(status=self.server.verdicts.authorize_status)

    @on(Action16.boot_notification)
    def on_boot_notification(self, **_: Any) -> result16.BootNotification:
        verdicts = self.server.verdicts
        return result16.BootNotification(
            current_time=now_iso(), interval=verdicts.heartbeat_interval, status=verdicts.boot_status
        )

    @on(Action16.heartbeat)
    def on_heartbeat(self, **_: Any) -> result16.Heartbeat:
        return result16.Heartbeat(current_time=now_iso())

    @on(Action16.status_notification)
    def on_status_notification(self, **_: Any) -> result16.StatusNotification:
        return result16.StatusNotification()

    @on(Action16.authorize)
    def on_authorize(self, **_: Any) -> result16.Authorize:
        return result16.Authorize(id_tag_info=self._id_tag_info())

    @on(Action16.start_transaction)
    def on_start_transaction(self, **_: Any) -> result16.StartTransaction:
        return result16.StartTransaction(
            transaction_id=next(self.server._transaction_ids), id_tag_info=self._id_tag_info()
        )

    @on(Action16.stop_transaction)
    def on_stop_transaction(self, id_tag: str | None = None, **_: Any) -> result16.StopTransaction:
        return result16.StopTransaction(id_tag_info=self._id_tag_info() if id_tag else None)

    @on(Action16.meter_values)
    def on_meter_values(self, **_: Any) -> result16.MeterValues:
        return result16.MeterValues()

    @on(Action16.data_transfer)
    def on_data_transfer(self, **_: Any) -> result16.DataTransfer:
        return result16.DataTransfer(status="Accepted")

    @on(Action16.diagnostics_status_notification)
    def on_diagnostics_status_notification(self, **_: Any) -> result16.DiagnosticsStatusNotification:
        return result16.DiagnosticsStatusNotification()

    @on(Action16.firmware_status_notification)
    def on_firmware_status_notification(self, **_: Any) -> result16.FirmwareStatusNotification:
        return result16.FirmwareStatusNotification()

    # The security extension of 1.6 (the library ships its schemas).

    @on(Action16.security_event_notification)
    def on_security_event_notification(self, **_: Any) -> result16.SecurityEventNotification:
        return result16.SecurityEventNotification()

    @on(Action16.log_status_notification)
    def on_log_status_notification(self, **_: Any) -> result16.LogStatusNotification:
        return result16.LogStatusNotification()

    @on(Action16.signed_firmware_status_notification)
    def on_signed_firmware_status_notification(self, **_: Any) -> result16.SignedFirmwareStatusNotification:
        return result16.SignedFirmwareStatusNotification()

    @on(Action16.sign_certificate)
    def on_sign_certificate(self, **_: Any) -> result16.SignCertificate:
        return result16.SignCertificate(status="Accepted" if self.server.verdicts.csr_signer else "Rejected")

    @after(Action16.sign_certificate)
    async def after_sign_certificate(self, csr: str, **_: Any) -> None:
        await self.server.sign(self, csr, lambda chain: call16.CertificateSigned(certificate_chain=chain))


class CentralSystem201(Refusing, v201.ChargePoint):
    """The CSMS side of one OCPP 2.0.1 connection."""

    def __init__(self, identity: str, connection: RecordingConnection, server: CsmsServer) -> None:
        super().__init__(identity, connection, response_timeout=30)
        self.server = server

    def _id_token_info(self) -> types201.IdTokenInfoType:
        return types201.IdTokenInfoType(status=self.server.verdicts.authorize_status)

    @on(Action201.boot_notification)
    def on_boot_notification(self, **_: Any) -> result201.BootNotification:
        verdicts = self.server.verdicts
        return result201.BootNotification(
            current_time=now_iso(), interval=verdicts.heartbeat_interval, status=verdicts.boot_status
        )

    @on(Action201.heartbeat)
    def on_heartbeat(self, **_: Any) -> result201.Heartbeat:
        return result201.Heartbeat(current_time=now_iso())

    @on(Action201.status_notification)
    def on_status_notification(self, **_: Any) -> result201.StatusNotification:
        return result201.StatusNotification()

    @on(Action201.authorize)
    def on_authorize(self, **_: Any) -> result201.Authorize:
        return result201.Authorize(id_token_info=self._id_token_info())

    @on(Action201.transaction_event)
    def on_transaction_event(self, id_token: dict[str, Any] | None = None, **_: Any) -> result201.TransactionEvent:
        return result201.TransactionEvent(id_token_info=self._id_token_info() if id_token else None)

    @on(Action201.meter_values)
    def on_meter_values(self, **_: Any) -> result201.MeterValues:
        return result201.MeterValues()

    @on(Action201.notify_report)
    def on_notify_report(self, **_: Any) -> result201.NotifyReport:
        return result201.NotifyReport()

    @on(Action201.notify_event)
    def on_notify_event(self, **_: Any) -> result201.NotifyEvent:
        return result201.NotifyEvent()

    @on(Action201.data_transfer)
    def on_data_transfer(self, **_: Any) -> result201.DataTransfer:
        return result201.DataTransfer(status="Accepted")

    @on(Action201.firmware_status_notification)
    def on_firmware_status_notification(self, **_: Any) -> result201.FirmwareStatusNotification:
        return result201.FirmwareStatusNotification()

    @on(Action201.log_status_notification)
    def on_log_status_notification(self, **_: Any) -> result201.LogStatusNotification:
        return result201.LogStatusNotification()

    @on(Action201.security_event_notification)
    def on_security_event_notification(self, **_: Any) -> result201.SecurityEventNotification:
        return result201.SecurityEventNotification()

    @on(Action201.report_charging_profiles)
    def on_report_charging_profiles(self, **_: Any) -> result201.ReportChargingProfiles:
        return result201.ReportChargingProfiles()

    @on(Action201.reservation_status_update)
    def on_reservation_status_update(self, **_: Any) -> result201.ReservationStatusUpdate:
        return result201.ReservationStatusUpdate()

    @on(Action201.publish_firmware_status_notification)
    def on_publish_firmware_status_notification(self, **_: Any) -> result201.PublishFirmwareStatusNotification:
        return result201.PublishFirmwareStatusNotification()

    @on(Action201.notify_customer_information)
    def on_notify_customer_information(self, **_: Any) -> result201.NotifyCustomerInformation:
        return result201.NotifyCustomerInformation()

    @on(Action201.notify_charging_limit)
    def on_notify_charging_limit(self, **_: Any) -> result201.NotifyChargingLimit:
        return result201.NotifyChargingLimit()

    @on(Action201.cleared_charging_limit)
    def on_cleared_charging_limit(self, **_: Any) -> result201.ClearedChargingLimit:
        return result201.ClearedChargingLimit()

    @on(Action201.notify_ev_charging_needs)
    def on_notify_ev_charging_needs(self, **_: Any) -> result201.NotifyEVChargingNeeds:
        return result201.NotifyEVChargingNeeds(status="Rejected")  # no schedule will follow

    @on(Action201.notify_ev_charging_schedule)
    def on_notify_ev_charging_schedule(self, **_: Any) -> result201.NotifyEVChargingSchedule:
        return result201.NotifyEVChargingSchedule(status="Accepted")

    @on(Action201.notify_monitoring_report)
    def on_notify_monitoring_report(self, **_: Any) -> result201.NotifyMonitoringReport:
        return result201.NotifyMonitoringReport()

    @on(Action201.notify_display_messages)
    def on_notify_display_messages(self, **_: Any) -> result201.NotifyDisplayMessages:
        return result201.NotifyDisplayMessages()

    # Certificate handling: no PKI of ISO 15118 here, so a schema-valid refusal; station certificates: see csr_signer.

    @on(Action201.get_15118_ev_certificate)
    def on_get_15118_ev_certificate(self, **_: Any) -> result201.Get15118EVCertificate:
        return result201.Get15118EVCertificate(status="Failed", exi_response="")

    @on(Action201.get_certificate_status)
    def on_get_certificate_status(self, **_: Any) -> result201.GetCertificateStatus:
        return result201.GetCertificateStatus(status="Failed")

    @on(Action201.sign_certificate)
    def on_sign_certificate(self, **_: Any) -> result201.SignCertificate:
        return result201.SignCertificate(status="Accepted" if self.server.verdicts.csr_signer else "Rejected")

    @after(Action201.sign_certificate)
    async def after_sign_certificate(self, csr: str, certificate_type: str | None = None, **_: Any) -> None:
        await self.server.sign(
            self,
            csr,
            lambda chain: call201.CertificateSigned(certificate_chain=chain, certificate_type=certificate_type),
        )
