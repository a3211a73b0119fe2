"""Certificate management on a running charge point (OCPP 2.0.1 A02 and M03-M05; the 1.6 security whitepaper).

Asked to (TriggerMessage SignChargingStationCertificate, 1.6 ExtendedTriggerMessage SignChargePointCertificate),
the station generates a key, records it sealed through the gateway's SecretBox and sends a signing request; a
CertificateSigned whose chain answers that key is recorded, and the next connection presents it (simulator/tls.py).
The CSMS installs, lists and deletes root certificates; the installed CSMS roots verify the CSMS from the next
connection on. The rules are the domain's (`domain.chargepoint.certificates`); the version modules only word them.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from ocpp.exceptions import NotImplementedError as NotImplementedCall
from ocpp.routing import on
from ocpp.v16 import call as call16
from ocpp.v201 import call as call201

from domain.chargepoint.certificates import (
    CSMS_ROOTS,
    STATION_CERTIFICATE,
    CertificateStore,
    HashData,
    Installed,
    chain_problem,
    parse_chain,
    signing_request,
)
from simulator.security_events import has_security_extension
from simulator.tls import digest

if TYPE_CHECKING:
    from domain.runtime import ChargerRuntime
    from simulator.model import ChargerSpec

log = logging.getLogger("ocpplab.simulator.certificates")
SECURITY_ACTIONS_16 = frozenset(
    {
        "ExtendedTriggerMessage",
        "CertificateSigned",
        "InstallCertificate",
        "GetInstalledCertificateIds",
        "DeleteCertificate",
    }
)


class Certificates:
    """Mixed into the Station (after Routing: it sees the CSMS's calls first); the runner hands it `secrets`."""

    spec: ChargerSpec
    runtime: ChargerRuntime
    results: Any  # the version's call_result module
    if TYPE_CHECKING:
        configuration: Any

        def observe(self, observation: str, *details: Any) -> None: ...
        def security_event(self, kind: str, info: str, *, now: bool = True) -> None: ...
        async def call(self, message: Any) -> Any: ...

    async def _handle_call(self, msg: Any) -> Any:
        """A 1.6 charge point whose model lacks the security whitepaper has no handler for its calls."""
        if msg.action in SECURITY_ACTIONS_16 and not has_security_extension(self.spec):
            raise NotImplementedCall(details={"cause": f"No handler for {msg.action} registered."})
        return await super()._handle_call(msg)  # type: ignore[misc]

    @property
    def certificate_store(self) -> CertificateStore:
        return CertificateStore(self.runtime.certificates, self.spec.ocpp_version)

    @property
    def _secrets(self) -> Any:
        return self.__dict__.get("secrets")

    def can_sign(self) -> bool:
        """A key is only generated when it can be recorded sealed (the gateway has a SecretBox)."""
        return self._secrets is not None

    def organization_name(self) -> str:
        """O of the signing request: 2.0.1's SecurityCtrlr.OrganizationName when set, else the charger's
        organization (the operator whose tenant it is)."""
        configured = self.configuration.value("SecurityCtrlr.OrganizationName") if self._v201 else None
        return configured or self.spec.tenant_id

    @property
    def _v201(self) -> bool:
        return self.spec.ocpp_version != "OCPP1.6"

    async def send_signing_request(self) -> None:
        """A02: a new key (EC P-256), recorded sealed, and its signing request (CN = identity, O = organization)."""
        key = ec.generate_private_key(ec.SECP256R1())
        csr = signing_request(key, self.spec.identity, self.organization_name())
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        self.observe("certificate_requested", STATION_CERTIFICATE, self._secrets.seal(pem))
        if self._v201:
            message: Any = call201.SignCertificate(csr=csr, certificate_type=STATION_CERTIFICATE)
        else:
            message = call16.SignCertificate(csr=csr)
        answer = await self.call(message)
        log.info("%s: SignCertificate answered %s", self.spec.identity, getattr(answer, "status", "CallError"))

    def install_signed_chain(self, chain: str) -> bool:
        """CertificateSigned: the chain becomes the station certificate when it answers the pending request's key;
        otherwise it is discarded and reported (InvalidChargingStationCertificate)."""
        problem = self._signed_chain_problem(chain)
        if problem is not None:
            log.info("%s: CertificateSigned rejected: %s", self.spec.identity, problem)
            self.security_event("InvalidChargingStationCertificate", problem)
            return False
        request = self.runtime.certificate_requests[STATION_CERTIFICATE]
        leaf = parse_chain(chain)[0]
        self.observe(
            "station_certificate_installed",
            STATION_CERTIFICATE,
            chain.strip() + "\n",
            request["sealed_key"],
            digest(self.spec.client_certificate),
        )
        serial = format(leaf.serial_number, "x")
        self.security_event("ReconfigurationOfSecurityParameters", f"new station certificate {serial}: next connection")
        return True

    def _signed_chain_problem(self, chain: str) -> str | None:
        request = self.runtime.certificate_requests.get(STATION_CERTIFICATE)
        if request is None or not self.can_sign():
            return "no certificate signing request is pending"
        try:
            certificates = parse_chain(chain)
        except ValueError:
            return "the certificate chain is not PEM X.509"
        try:
            sealed = self._secrets.unseal(request["sealed_key"])
            key = serialization.load_pem_private_key(sealed.encode(), password=None)
        except Exception:  # noqa: BLE001 - sealed with another secret key
            return "the key of the signing request cannot be unsealed"
        return chain_problem(certificates, key.public_key(), datetime.now(UTC))

    @on("InstallCertificate")
    def on_install_certificate(self, certificate_type: str, certificate: str, **_: Any):
        return self.results.InstallCertificate(status=self.install_certificate(certificate_type, certificate))

    @on("DeleteCertificate")
    def on_delete_certificate(self, certificate_hash_data: dict[str, Any], **_: Any):
        return self.results.DeleteCertificate(status=self.delete_certificate(certificate_hash_data))

    def install_certificate(self, certificate_type: str, certificate: str) -> str:
        """InstallCertificate: Accepted (recorded) or Rejected; a CSMS root verifies the CSMS from the next
        connection on."""
        status, entry = self.certificate_store.admit(certificate_type, certificate, datetime.now(UTC))
        if entry is not None:
            self.observe("certificate_installed", entry.certificate_type, entry.certificate, entry.hash_data.payload())
            self._trust_changed(entry, "installed")
        return status

    def installed_certificates(self, types: list[str] | None) -> list[Installed]:
        return self.certificate_store.listed(types)

    def delete_certificate(self, hash_data: dict[str, Any]) -> str:
        """DeleteCertificate: Accepted (recorded), NotFound, or Failed for the station's own certificate."""
        held = self.runtime.station_certificates.get(STATION_CERTIFICATE)
        own = held["chain"] if held else self.spec.client_certificate
        status, entry = self.certificate_store.removal(HashData.of(hash_data), own)
        if entry is not None:
            self.observe("certificate_deleted", entry.hash_data.key)
            self._trust_changed(entry, "deleted")
        return status

    def _trust_changed(self, entry: Installed, what: str) -> None:
        if entry.certificate_type in CSMS_ROOTS:
            serial = entry.hash_data.serial_number
            self.security_event("ReconfigurationOfSecurityParameters", f"{entry.certificate_type} {serial} {what}")
