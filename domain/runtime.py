"""What the simulator observed of one charger on the wire (the observed state; the Charger holds the desired one)."""

from __future__ import annotations

from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

STATUSES = ("stopped", "connecting", "connected", "booted", "rejected")


def runtime_id(charger_id: UUID) -> UUID:
    return uuid5(NAMESPACE_URL, f"/chargers/{charger_id}/runtime")


def connector_key(evse_id: int, connector_id: int) -> str:
    return f"{evse_id}/{connector_id}"


class ChargerRuntime(Aggregate):
    """Written by the simulator only, so it never races the API on the Charger's version."""

    last_error: str | None = None  # why the last connection attempt failed (added later: a class default)
    accepted_once = False  # a CSMS accepted a boot of this charger at least once (added later: a class default)

    @staticmethod
    def create_id(charger_id: UUID) -> UUID:
        return runtime_id(charger_id)

    @event("Opened")
    def __init__(self, tenant_id: str, charger_id: UUID) -> None:
        self.tenant_id = tenant_id
        self.charger_id = charger_id
        self.status = "stopped"
        self.connected_at: str | None = None
        self.heartbeat_interval: int | None = None
        self.connectors: dict[str, dict[str, Any]] = {}
        self.configuration: dict[str, str] = {}
        self.local_list: dict[str, Any] = {"version": 0, "entries": []}

    @event("Connecting")
    def connecting(self, url: str) -> None:
        self.status = "connecting"
        self.connected_at = None

    @event("Connected")
    def connected(self, subprotocol: str, at: str) -> None:
        self.status = "connected"
        self.connected_at = at
        self.last_error = None

    @event("ConnectFailed")
    def connect_failed(self, error: str) -> None:
        """A connection attempt failed (TLS verification, HTTP refusal, network); recorded when the reason changes."""
        self.last_error = error

    @event("Disconnected")
    def disconnected(self, code: int | None, reason: str) -> None:
        self.status = "connecting"
        self.connected_at = None

    @event("BootAnswered")
    def boot_answered(self, status: str, interval: int) -> None:
        self.status = "booted" if status == "Accepted" else ("rejected" if status == "Rejected" else "connected")
        self.heartbeat_interval = interval
        if status == "Accepted":
            self.accepted_once = True

    @event("ConnectorStatusChanged")
    def connector_status_changed(
        self,
        evse_id: int,
        connector_id: int,
        status: str,
        error_code: str | None,
        plugged: bool | None = None,  # recorded since a cable outlives a gateway restart
    ) -> None:
        self.connectors[connector_key(evse_id, connector_id)] = {
            "evse_id": evse_id,
            "connector_id": connector_id,
            "status": status,
            "error_code": error_code,
            "plugged": plugged,
        }

    @event("ConfigurationChanged")
    def configuration_changed(self, key: str, value: str, source: str) -> None:
        self.configuration[key] = value

    @event("LocalListChanged")
    def local_list_changed(self, version: int, entries: list[dict[str, Any]]) -> None:
        self.local_list = {"version": version, "entries": entries}

    @event("TransactionStarted")
    def transaction_started(
        self,
        evse_id: int,
        connector_id: int,
        transaction_id: str,
        id_tag: str | None,
        meter_start: int,
        plugged: bool,
        started_at: str | None = None,  # recorded since smart charging (Relative schedules start here)
    ) -> None:
        self._kept("transactions")[connector_key(evse_id, connector_id)] = {
            "transaction_id": transaction_id,
            "id_tag": id_tag,
            "meter_start": meter_start,
            "plugged": plugged,
            "started_at": started_at,
        }
        self._kept("meters")[connector_key(evse_id, connector_id)] = {"meter_wh": meter_start, "seq_no": 1}

    @event("TransactionAuthorized")
    def transaction_authorized(self, evse_id: int, connector_id: int, id_tag: str) -> None:
        transaction = self._kept("transactions").get(connector_key(evse_id, connector_id))
        if transaction is not None:
            transaction["id_tag"] = id_tag

    @event("MeterRead")
    def meter_read(self, evse_id: int, connector_id: int, meter_wh: int, seq_no: int) -> None:
        """The energy register (and 2.0.1's next seqNo) as last reported, so a restart continues from there."""
        self._kept("meters")[connector_key(evse_id, connector_id)] = {"meter_wh": meter_wh, "seq_no": seq_no}

    @event("TransactionEnded")
    def transaction_ended(
        self, evse_id: int, connector_id: int, transaction_id: str, meter_stop: int, reason: str
    ) -> None:
        self._kept("transactions").pop(connector_key(evse_id, connector_id), None)
        self._kept("meters")[connector_key(evse_id, connector_id)] = {"meter_wh": meter_stop, "seq_no": 0}

    @event("FaultInjected")
    def fault_injected(self, evse_id: int, connector_id: int, fault_type: str, prior_status: str) -> None:
        self._kept("faults")[connector_key(evse_id, connector_id)] = {
            "fault_type": fault_type,
            "prior_status": prior_status,
        }

    @event("FaultCleared")
    def fault_cleared(self, evse_id: int, connector_id: int) -> None:
        self._kept("faults").pop(connector_key(evse_id, connector_id), None)

    @event("ChargingProfileSet")
    def charging_profile_set(
        self, profile_id: int, connector: int, profile: dict[str, Any], installed_at: str, replaced: list[int]
    ) -> None:
        """A profile installed as the CSMS sent it (`replaced`: the profiles it took the place of)."""
        profiles = self._kept("charging_profiles")
        for gone in replaced:
            profiles.pop(str(gone), None)
        profiles[str(profile_id)] = {"connector": connector, "profile": profile, "installed_at": installed_at}

    @event("ReservationMade")
    def reservation_made(self, reservation: dict[str, Any]) -> None:
        """A reservation held from now on ({"id", "connector", "id_tag", "expiry", "parent_id_tag"})."""
        self._kept("reservations")[str(reservation["id"])] = reservation

    @event("ReservationEnded")
    def reservation_ended(self, reservation_id: int, reason: str) -> None:
        """Used by a start, Removed (cancelled) or Expired."""
        self._kept("reservations").pop(str(reservation_id), None)

    @event("ChargingProfilesCleared")
    def charging_profiles_cleared(self, profile_ids: list[int]) -> None:
        for gone in profile_ids:
            self._kept("charging_profiles").pop(str(gone), None)

    @event("FirmwareInstalled")
    def firmware_installed(self, version: str, location: str, request_id: int | None, report_after_boot: bool) -> None:
        """A firmware update installed `version` (from `location`): every later boot reports it; 2.0.1 says
        Installed (with the request id) once it booted again."""
        self._kept("firmware").update(
            version=version, location=location, request_id=request_id, report_after_boot=report_after_boot
        )

    @event("FirmwareReported")
    def firmware_reported(self) -> None:
        """The Installed notification that follows the reboot went out."""
        self._kept("firmware")["report_after_boot"] = False

    @event("TransactionMessageQueued")
    def transaction_message_queued(self, message: dict[str, Any]) -> None:
        """A transaction-related message the CSMS has not processed yet (queued offline, or left undelivered when
        the connection ended): delivered in order after the next accepted boot, also after a restart."""
        self._kept("transaction_queue")[str(message["seq"])] = message

    @event("TransactionMessageDelivered")
    def transaction_message_delivered(
        self, seq: int, transaction_ref: str | None = None, transaction_id: int | None = None
    ) -> None:
        """The CSMS processed a queued message; a 1.6 StartTransaction's answer numbers the transaction begun
        offline (`transaction_ref` is the charger's own reference of it)."""
        queue = self._kept("transaction_queue")
        queue.pop(str(seq), None)
        if transaction_ref is None:
            return
        numbers = self._kept("transaction_numbers")
        if transaction_id is not None:
            numbers[transaction_ref] = transaction_id
        if not any(message.get("transaction_ref") == transaction_ref for message in queue.values()):
            numbers.pop(transaction_ref, None)  # nothing kept refers to it any more

    @event("TransactionMessageDropped")
    def transaction_message_dropped(self, seq: int, reason: str) -> None:
        """A queued message given up (its attempts spent, or shed from a full queue)."""
        self._kept("transaction_queue").pop(str(seq), None)

    @event("TransactionNumbered")
    def transaction_numbered(self, evse_id: int, connector_id: int, transaction_ref: str, transaction_id: str) -> None:
        """A 1.6 transaction begun offline got its number from the CSMS while it still runs."""
        transaction = self._kept("transactions").get(connector_key(evse_id, connector_id))
        if transaction is not None and transaction["transaction_id"] == transaction_ref:
            transaction["transaction_id"] = transaction_id

    @event("CertificateRequested")
    def certificate_requested(self, certificate_type: str, sealed_key: str) -> None:
        """A signing request went out for a key the station generated (sealed: never in clear text in an event);
        the CertificateSigned that answers it is checked against this key, also after a gateway restart."""
        self._kept("certificate_requests")[certificate_type] = {"sealed_key": sealed_key}

    @event("StationCertificateInstalled")
    def station_certificate_installed(
        self, certificate_type: str, chain: str, sealed_key: str, superseded: str | None
    ) -> None:
        """A signed chain for the requested key: the next connections present it (`superseded`: the digest of the
        charger's configured client certificate it takes the place of; a newer configured one wins again)."""
        self._kept("station_certificates")[certificate_type] = {
            "chain": chain,
            "sealed_key": sealed_key,
            "superseded": superseded,
        }
        self._kept("certificate_requests").pop(certificate_type, None)

    @event("CertificateInstalled")
    def certificate_installed(self, certificate_type: str, certificate: str, hash_data: dict[str, str]) -> None:
        """A certificate the CSMS installed (InstallCertificate), keyed by its SHA-256 hash data."""
        key = f"{hash_data['issuer_name_hash']}:{hash_data['issuer_key_hash']}:{hash_data['serial_number']}"
        self._kept("certificates")[key] = {
            "certificate_type": certificate_type,
            "certificate": certificate,
            "hash_data": hash_data,
        }

    @event("CertificateDeleted")
    def certificate_deleted(self, key: str) -> None:
        self._kept("certificates").pop(key, None)

    def _kept(self, name: str) -> dict[str, dict[str, Any]]:
        """A table added after the first runtimes were recorded (older snapshots lack it)."""
        return self.__dict__.setdefault(name, {})

    @property
    def transactions(self) -> dict[str, dict[str, Any]]:
        return self._kept("transactions")

    @property
    def meters(self) -> dict[str, dict[str, Any]]:
        return self._kept("meters")

    @property
    def reservations(self) -> dict[str, dict[str, Any]]:
        return self._kept("reservations")

    @property
    def charging_profiles(self) -> dict[str, dict[str, Any]]:
        return self._kept("charging_profiles")

    @property
    def firmware(self) -> dict[str, Any]:
        """The firmware a CSMS installed: version, location, request_id, report_after_boot (empty: the model's)."""
        return self._kept("firmware")

    @property
    def transaction_queue(self) -> dict[str, dict[str, Any]]:
        """Undelivered transaction-related messages by sequence number (QueuedMessage records)."""
        return self._kept("transaction_queue")

    @property
    def transaction_numbers(self) -> dict[str, Any]:
        """1.6: the CSMS's number of each transaction begun offline that queued messages still refer to."""
        return self._kept("transaction_numbers")

    @property
    def certificates(self) -> dict[str, dict[str, Any]]:
        """The certificates the CSMS installed, by hash data key."""
        return self._kept("certificates")

    @property
    def certificate_requests(self) -> dict[str, dict[str, Any]]:
        return self._kept("certificate_requests")

    @property
    def station_certificates(self) -> dict[str, dict[str, Any]]:
        return self._kept("station_certificates")

    @property
    def faults(self) -> dict[str, dict[str, Any]]:
        return self._kept("faults")

    @event("Stopped")
    def stopped(self, reason: str) -> None:
        self.status = "stopped"
        self.connected_at = None
