"""Certificate management on the charge point, driven through the fake connection: the frames it answers and sends,
what it records (the station key only sealed), and the 1.6 models without the security whitepaper."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator
from typing import Any
from unittest.mock import ANY
from uuid import uuid4

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from adapters.secret_box import AesSecretBox
from domain.configuration import Configuration16
from domain.runtime import ChargerRuntime
from simulator.station import ChargerSpec
from simulator.v16 import ChargePoint16
from tests.file_servers import http_server
from tests.pki import Authority
from tests.unit.test_charge_point_201 import NOW, Csms, FakeConnection, FakeRecorder, build, stop
from tests.unit.test_transfers import signed

CA = Authority("Operator CA")
Wire = tuple[Any, Csms, ChargerRuntime, FakeRecorder]


def sealed_box() -> AesSecretBox:
    return AesSecretBox(os.urandom(32))


@contextlib.asynccontextmanager
async def receiving(station: Any) -> AsyncIterator[None]:
    task = asyncio.create_task(station.start())
    try:
        yield
    finally:
        await stop(task, *station._background)


@pytest.fixture
async def cs() -> AsyncIterator[Wire]:
    """A 2.0.1 station of tenant "t" with a SecretBox, receiving CSMS calls."""
    connection = FakeConnection()
    station, runtime, recorder = build(connection)
    station.secrets = sealed_box()
    station.booted = True  # its notifications go out; security events wait for `ready` (the end of the boot)
    async with receiving(station):
        yield station, Csms(connection), runtime, recorder


def station_16(model: dict[str, Any]) -> tuple[ChargePoint16, FakeConnection, ChargerRuntime]:
    connection = FakeConnection()
    spec = ChargerSpec(uuid4(), "t", "CP-16", "ws://csms/ocpp", "OCPP1.6", model)
    runtime = ChargerRuntime(tenant_id="t", charger_id=spec.charger_id)
    station = ChargePoint16(spec.identity, connection, Configuration16(model, spec.identity))
    station.setup_station(spec, runtime, FakeRecorder())
    station.secrets = sealed_box()
    return station, connection, runtime


def subject(csr_pem: str) -> tuple[str, str]:
    request = x509.load_pem_x509_csr(csr_pem.encode())
    assert request.is_signature_valid
    name = request.subject
    return name.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value, name.get_attributes_for_oid(
        NameOID.ORGANIZATION_NAME
    )[0].value


async def signing_request(csms: Csms, unique_id: str = "1") -> str:
    assert await csms.ask("TriggerMessage", {"requestedMessage": "SignChargingStationCertificate"}, unique_id) == [
        3,
        unique_id,
        {"status": "Accepted"},
    ]
    frame = await csms.expect_call("SignCertificate", {"csr": ANY, "certificateType": "ChargingStationCertificate"})
    return frame[3]["csr"]


async def test_a_triggered_signing_request_names_the_station_and_records_its_key_only_sealed(cs: Wire) -> None:
    station, csms, _, recorder = cs
    csr = await signing_request(csms)
    assert subject(csr) == ("CP-201", "t")  # no OrganizationName set: the charger's organization
    [requested] = [e for e in recorder.events if type(e).__name__ == "CertificateRequested"]
    assert requested.sealed_key.startswith("aesgcm:")
    assert "PRIVATE KEY" not in json.dumps([vars(e) for e in recorder.events], default=str)
    key = serialization.load_pem_private_key(station.secrets.unseal(requested.sealed_key).encode(), password=None)
    assert x509.load_pem_x509_csr(csr.encode()).public_key() == key.public_key()

    variable = {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "OrganizationName"}}
    answer = await csms.ask("SetVariables", {"setVariableData": [{**variable, "attributeValue": "Acme CPO"}]}, "2")
    assert answer[2]["setVariableResult"][0]["attributeStatus"] == "Accepted"
    assert subject(await signing_request(csms, "3")) == ("CP-201", "Acme CPO")


async def test_certificate_signed_for_the_requested_key_is_installed_and_another_is_rejected_and_reported(
    cs: Wire,
) -> None:
    station, csms, runtime, _ = cs
    csr = await signing_request(csms)
    foreign = CA.issue("CP-201").certificate  # a certificate of some other key
    assert await csms.ask("CertificateSigned", {"certificateChain": foreign}, "2") == [3, "2", {"status": "Rejected"}]
    assert runtime.station_certificates == {}
    assert "not of the key" in station.pending_security_events["InvalidChargingStationCertificate"]["tech_info"]

    chain = CA.sign_csr(csr)
    assert await csms.ask("CertificateSigned", {"certificateChain": chain}, "3") == [3, "3", {"status": "Accepted"}]
    installed = runtime.station_certificates["ChargingStationCertificate"]
    assert installed["chain"] == chain.strip() + "\n"
    assert runtime.certificate_requests == {}
    assert "ReconfigurationOfSecurityParameters" in station.pending_security_events
    again = {"certificateChain": chain}
    assert await csms.ask("CertificateSigned", again, "4") == [3, "4", {"status": "Rejected"}]  # nothing pending


async def test_without_a_secret_box_no_key_is_generated(cs: Wire) -> None:
    station, csms, _, recorder = cs
    station.secrets = None
    answer = await csms.ask("TriggerMessage", {"requestedMessage": "SignChargingStationCertificate"})
    assert answer == [3, "1", {"status": "Rejected"}]
    assert not any(type(e).__name__ == "CertificateRequested" for e in recorder.events)


async def test_install_list_and_delete_certificates_on_the_wire(cs: Wire) -> None:
    _, csms, runtime, _ = cs
    root = Authority("CSMS Root 201")
    install = {"certificateType": "CSMSRootCertificate", "certificate": root.certificate}
    assert await csms.ask("InstallCertificate", install) == [3, "1", {"status": "Accepted"}]
    listed = await csms.ask("GetInstalledCertificateIds", {"certificateType": ["CSMSRootCertificate"]}, "2")
    [entry] = listed[2]["certificateHashDataChain"]
    assert entry["certificateType"] == "CSMSRootCertificate"
    serial = x509.load_pem_x509_certificate(root.certificate.encode()).serial_number
    assert entry["certificateHashData"]["serialNumber"] == format(serial, "x")
    assert (await csms.ask("GetInstalledCertificateIds", {"certificateType": ["MORootCertificate"]}, "3"))[2] == {
        "status": "NotFound"
    }
    hash_data = {"certificateHashData": entry["certificateHashData"]}
    assert await csms.ask("DeleteCertificate", hash_data, "4") == [3, "4", {"status": "Accepted"}]
    assert runtime.certificates == {}
    assert await csms.ask("DeleteCertificate", hash_data, "5") == [3, "5", {"status": "NotFound"}]


@pytest.mark.parametrize(
    ("model", "flagged"),
    [
        ({"brand_name": "ABB", "model_name": "Terra 184", "connector_count": 2}, False),
        ({"ocpp16_security": True}, True),
    ],
)
async def test_a_16_charge_point_speaks_the_whitepaper_only_when_its_model_does(
    model: dict[str, Any], flagged: bool
) -> None:
    station, connection, _ = station_16({"connector_count": 1, **model})
    csms = Csms(connection)
    async with receiving(station):
        answer = await csms.ask("ExtendedTriggerMessage", {"requestedMessage": "SignChargePointCertificate"})
        if not flagged:
            assert answer[:3] == [4, "1", "NotImplemented"]
            install = {"certificateType": "CentralSystemRootCertificate", "certificate": CA.certificate}
            assert (await csms.ask("InstallCertificate", install, "2"))[:3] == [4, "2", "NotImplemented"]
            return
        assert answer == [3, "1", {"status": "Accepted"}]
        frame = await csms.expect_call("SignCertificate", {"csr": ANY})
        assert subject(frame[3]["csr"]) == ("CP-16", "t")
        chain = CA.sign_csr(frame[3]["csr"])
        assert await csms.ask("CertificateSigned", {"certificateChain": chain}, "2") == [3, "2", {"status": "Accepted"}]
        heartbeat = await csms.ask("ExtendedTriggerMessage", {"requestedMessage": "Heartbeat"}, "3")
        assert heartbeat == [3, "3", {"status": "Accepted"}]
        await csms.expect_call("Heartbeat", {}, {"currentTime": "2025-01-02T03:04:05.000Z"})


async def test_firmware_signatures_and_installs_are_noted_as_security_events(cs: Wire) -> None:
    station, csms, _, _ = cs
    key = ec.generate_private_key(ec.SECP256R1())
    signature, certificate = signed(b"image", key)
    bad_signature, _ = signed(b"another image", key)
    with http_server({"/fw/signed-3.0.bin": b"image"}) as server:
        firmware = {"location": server.url("/fw/signed-3.0.bin"), "retrieveDateTime": NOW, "signature": bad_signature}
        firmware["signingCertificate"] = certificate
        await csms.ask("UpdateFirmware", {"requestId": 5, "retries": 0, "firmware": firmware})
        for step in ("Downloading", "Downloaded", "InvalidSignature"):
            await csms.expect_call("FirmwareStatusNotification", {"status": step, "requestId": 5})
        assert "does not verify" in station.pending_security_events["InvalidFirmwareSignature"]["tech_info"]
        firmware["signature"] = signature
        await csms.ask("UpdateFirmware", {"requestId": 6, "retries": 0, "firmware": firmware}, "2")
        for step in ("Downloading", "Downloaded", "SignatureVerified", "Installing", "InstallRebooting"):
            await csms.expect_call("FirmwareStatusNotification", {"status": step, "requestId": 6})
    assert "signed-3.0" in station.pending_security_events["FirmwareUpdated"]["tech_info"]  # sent after the reboot
    firmware["signingCertificate"] = "not a certificate"
    assert (await csms.ask("UpdateFirmware", {"requestId": 7, "firmware": firmware}, "3"))[2] == {
        "status": "InvalidCertificate"
    }
    assert "InvalidFirmwareSigningCertificate" in station.pending_security_events


async def test_a_booted_station_reports_a_security_event_right_after_its_answer(cs: Wire) -> None:
    station, csms, _, _ = cs
    station.ready = True
    install = {"certificateType": "CSMSRootCertificate", "certificate": CA.certificate}
    assert await csms.ask("InstallCertificate", install) == [3, "1", {"status": "Accepted"}]
    frame = await csms.expect_call(
        "SecurityEventNotification",
        {"type": "ReconfigurationOfSecurityParameters", "timestamp": ANY, "techInfo": ANY},
    )
    assert "CSMSRootCertificate" in frame[3]["techInfo"]
    await asyncio.sleep(0.05)
    assert station.pending_security_events == {}
