"""Certificate management end to end (OCPP 2.0.1 A02, M03-M05; the 1.6 security whitepaper on a model that has it):
a real gateway's chargers against the schema-validating TLS CSMS, which signs their requests with a test CA.

The CSMS triggers a signing request; the request names the charger; the CSMS's CA signs it; the charger installs
the certificate and presents it on its next connection (also after a gateway restart). The CSMS installs a root
certificate, which then verifies a CSMS the charger's settings do not trust; once deleted, it does not any more.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from ocpp.v16 import call as call16
from ocpp.v201 import call as call201

from adapters.csms.server import CsmsServer
from tests.e2e.conftest import (
    RECONNECT,
    WAIT,
    Api,
    Charger,
    CsmsFactory,
    Deployment,
    DeploymentFactory,
    eventually,
    new_identity,
)
from tests.e2e.test_security_profiles import CA, CHARGERS_CA, TlsCsms, booted, profile_3_charger
from tests.e2e.test_security_profiles import tls_csms as tls_csms  # the fixture, shared
from tests.pki import Authority, Issued

SECURE = {"brand_slug": "alpitronic", "model_slug": "hypercharger-hyc150", "connector_type": "CCS2"}
"""A model whose 1.6 firmware implements the security whitepaper (catalog flag `ocpp16_security`)."""

OTHER_CA = Authority("Another CSMS's CA")
ROOT_TYPE = {"OCPP1.6": "CentralSystemRootCertificate", "OCPP2.0.1": "CSMSRootCertificate"}


def is16(version: str) -> bool:
    return version == "OCPP1.6"


async def booted_profile_3(api: Api, csms: CsmsServer, version: str) -> tuple[Charger, Issued]:
    """A booted profile 3 charger of the SECURE model, with its factory certificate from the operator's CA."""
    charger, factory = await profile_3_charger(api, csms, version, SECURE)
    await booted(api, csms, charger.id, charger.identity, version)
    return charger, factory


async def trigger_signing(csms: CsmsServer, identity: str, version: str) -> x509.CertificateSigningRequest:
    """The CSMS asks for a signing request; the request it gets (its signature verified)."""
    if is16(version):
        answer = await csms.call(
            identity, call16.ExtendedTriggerMessage(requested_message="SignChargePointCertificate")
        )
    else:
        answer = await csms.call(identity, call201.TriggerMessage(requested_message="SignChargingStationCertificate"))
    assert answer.status == "Accepted"
    [signing] = await csms.wait_for(identity, "SignCertificate")
    request = x509.load_pem_x509_csr(signing["csr"].encode())
    assert request.is_signature_valid
    return request


def name(request: x509.CertificateSigningRequest, oid: x509.ObjectIdentifier) -> str:
    return str(request.subject.get_attributes_for_oid(oid)[0].value)


async def security_event_types(csms: CsmsServer, identity: str, count: int = 1) -> list[str]:
    return [event["type"] for event in await csms.wait_for(identity, "SecurityEventNotification", count=count)]


async def test_a_triggered_signing_request_gets_a_certificate_that_the_next_connection_presents(
    api: Api, tls_csms: TlsCsms, version: str
) -> None:
    csms = await tls_csms(client_ca=CHARGERS_CA, csr_signer=CHARGERS_CA.sign_csr)
    charger, factory = await booted_profile_3(api, csms, version)
    assert csms.client_certificates[charger.identity][0].serial_number == factory.serial
    if not is16(version):
        variable = {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "OrganizationName"}}
        set_name = call201.SetVariables(set_variable_data=[{**variable, "attribute_value": "Acme CPO"}])
        assert (await csms.call(charger.identity, set_name)).set_variable_result[0]["attribute_status"] == "Accepted"

    request = await trigger_signing(csms, charger.identity, version)
    assert name(request, NameOID.COMMON_NAME) == charger.identity
    assert name(request, NameOID.ORGANIZATION_NAME) == (api.org if is16(version) else "Acme CPO")
    await eventually(lambda: csms.signed.get(charger.identity) == ["Accepted"], what="CertificateSigned Accepted")
    assert "ReconfigurationOfSecurityParameters" in await security_event_types(csms, charger.identity)

    await csms.disconnect(charger.identity)
    await csms.wait_connected(charger.identity, count=2, timeout=RECONNECT)
    presented = csms.client_certificates[charger.identity][-1]
    assert presented is not None and presented.serial_number != factory.serial
    assert presented.public_key() == request.public_key()
    assert presented.subject == request.subject
    assert presented.issuer == x509.load_pem_x509_certificate(CHARGERS_CA.certificate.encode()).subject


async def test_a_signed_certificate_of_another_key_is_rejected_and_reported(
    api: Api, csms_factory: CsmsFactory, version: str
) -> None:
    csms = await csms_factory(csr_signer=lambda _csr: CHARGERS_CA.issue("someone else").certificate)
    charger = await api.create_charger(csms.url(), version, SECURE)
    await booted(api, csms, charger.id, charger.identity, version)

    await trigger_signing(csms, charger.identity, version)
    await eventually(lambda: csms.signed.get(charger.identity) == ["Rejected"], what="CertificateSigned Rejected")
    [event] = await csms.wait_for(charger.identity, "SecurityEventNotification")
    expected = "InvalidChargePointCertificate" if is16(version) else "InvalidChargingStationCertificate"
    assert event["type"] == expected
    assert "not of the key" in event["techInfo"]


async def test_an_installed_csms_root_verifies_the_next_csms_until_it_is_deleted(
    api: Api, tls_csms: TlsCsms, version: str
) -> None:
    first = await tls_csms()
    charger = await api.create_charger(first.url(), version, SECURE, csms_ca_certificate=CA.certificate)
    await booted(api, first, charger.id, charger.identity, version)
    root_type = ROOT_TYPE[version]
    install = (call16 if is16(version) else call201).InstallCertificate(
        certificate_type=root_type, certificate=OTHER_CA.certificate
    )
    assert (await first.call(charger.identity, install)).status == "Accepted"

    listed = await installed(first, charger.identity, version, root_type)
    root = x509.load_pem_x509_certificate(OTHER_CA.certificate.encode())
    point = root.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    assert listed == [
        {
            "hash_algorithm": "SHA256",
            "issuer_name_hash": hashlib.sha256(root.subject.public_bytes()).hexdigest(),
            "issuer_key_hash": hashlib.sha256(point).hexdigest(),
            "serial_number": format(root.serial_number, "x"),
        }
    ]

    second = await tls_csms(server_ca=OTHER_CA)
    await api.update_charger(charger.id, ws_url=second.url())
    await booted(api, second, charger.id, charger.identity, version)  # trusted through the installed root only

    delete = (call16 if is16(version) else call201).DeleteCertificate(certificate_hash_data=listed[0])
    assert (await second.call(charger.identity, delete)).status == "Accepted"
    assert await installed(second, charger.identity, version, root_type) == []
    await second.disconnect(charger.identity)
    doc = await api.wait_charger(charger.id, lambda d: d["runtime_error"] is not None, what="a TLS error")
    assert "did not verify" in doc["runtime_error"]
    assert second.connection_count(charger.identity) == 1


async def installed(csms: CsmsServer, identity: str, version: str, certificate_type: str) -> list[dict[str, str]]:
    """The hash data of the certificates of a type the charger lists (snake_case, as the ocpp library gives it)."""
    if is16(version):
        answer = await csms.call(identity, call16.GetInstalledCertificateIds(certificate_type=certificate_type))
        found = answer.certificate_hash_data or []
    else:
        answer = await csms.call(identity, call201.GetInstalledCertificateIds(certificate_type=[certificate_type]))
        found = [entry["certificate_hash_data"] for entry in answer.certificate_hash_data_chain or []]
    assert answer.status == ("Accepted" if found else "NotFound")
    return found


async def test_after_a_gateway_restart_the_charger_keeps_its_certificates_and_presents_the_signed_one(
    tls_csms: TlsCsms, deployments: DeploymentFactory, api_for: Callable[[Deployment], Api], version: str
) -> None:
    csms = await tls_csms(client_ca=CHARGERS_CA, csr_signer=CHARGERS_CA.sign_csr)
    gateway = await deployments()
    api = api_for(gateway)
    charger, _ = await booted_profile_3(api, csms, version)
    manufacturer = (call16 if is16(version) else call201).InstallCertificate(
        certificate_type="ManufacturerRootCertificate", certificate=OTHER_CA.certificate
    )
    assert (await csms.call(charger.identity, manufacturer)).status == "Accepted"
    request = await trigger_signing(csms, charger.identity, version)
    await eventually(lambda: csms.signed.get(charger.identity) == ["Accepted"], what="CertificateSigned Accepted")

    await asyncio.sleep(0.5)  # the recorder flushes every 0.1 s
    codes = await asyncio.to_thread(gateway.stop)
    assert codes == [0] * len(codes), gateway.logs()
    await asyncio.to_thread(gateway.start)
    await csms.wait_connected(charger.identity, count=2, timeout=WAIT)
    presented = csms.client_certificates[charger.identity][-1]
    assert presented is not None and presented.public_key() == request.public_key()  # the key, unsealed again
    await csms.wait_for(charger.identity, "BootNotification", count=2)
    assert len(await installed(csms, charger.identity, version, "ManufacturerRootCertificate")) == 1


async def test_a_reset_and_a_refused_authorization_are_reported_as_security_events(
    api: Api, csms_factory: CsmsFactory, version: str
) -> None:
    identity = new_identity("CP-SEC")
    csms = await csms_factory(basic_auth={identity: "the-right-key"})
    charger = await api.create_charger(csms.url(), version, SECURE, identity=identity, authorization_key="wrong-key")
    await api.wait_charger(charger.id, lambda d: d["runtime_error"] is not None, what="the 401 in the runtime view")
    await api.update_charger(charger.id, authorization_key="the-right-key")
    await booted(api, csms, charger.id, identity, version)
    refused = "FailedToAuthenticateAtCentralSystem" if is16(version) else "FailedToAuthenticateAtCsms"
    assert await security_event_types(csms, identity) == [refused]

    reset = call16.Reset(type="Soft") if is16(version) else call201.Reset(type="Immediate")
    assert (await csms.call(identity, reset)).status == "Accepted"
    await csms.wait_connected(identity, count=2, timeout=RECONNECT)
    assert (await security_event_types(csms, identity, count=2))[1] == "ResetOrReboot"
