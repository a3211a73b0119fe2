"""The charge point's certificate rules (domain/chargepoint/certificates.py): signing requests, hash data, the
store, and whether a signed chain answers the station's key; each checked against an independent computation."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from domain.chargepoint.certificates import (
    MAX_INSTALLED,
    CertificateStore,
    HashData,
    chain_problem,
    hash_data,
    parse_chain,
    security_event_type,
    signing_request,
)
from domain.runtime import ChargerRuntime
from tests.pki import Authority


def now() -> datetime:
    """The test's own moment: certificates made in a test are valid from 5 minutes before it (a module-level
    instant falls before them when the suite runs long)."""
    return datetime.now(UTC)


def certificate(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode())


def expected_hash(cert: x509.Certificate, issuer: x509.Certificate) -> HashData:
    """OCPP's hash data by hand: SHA-256 of the issuer's DER name and of its EC point, the serial in hex."""
    point = issuer.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return HashData(
        "SHA256",
        hashlib.sha256(issuer.subject.public_bytes()).hexdigest(),
        hashlib.sha256(point).hexdigest(),
        format(cert.serial_number, "x"),
    )


def store(*entries: tuple[str, str], version: str = "OCPP2.0.1") -> CertificateStore:
    """A store holding these (type, PEM), as the runtime records them."""
    recorded: dict[str, dict] = {}
    for certificate_type, pem in entries:
        status, entry = CertificateStore(recorded, version).admit(certificate_type, pem, now())
        assert status == "Accepted" and entry is not None
        recorded[entry.hash_data.key] = {
            "certificate_type": entry.certificate_type,
            "certificate": entry.certificate,
            "hash_data": entry.hash_data.payload(),
        }
    return CertificateStore(recorded, version)


def test_the_signing_request_names_the_identity_and_the_organization_and_carries_the_station_key() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    request = x509.load_pem_x509_csr(signing_request(key, "CP-0042", "Acme Charging").encode())
    assert request.is_signature_valid
    assert request.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "CP-0042"
    assert request.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Acme Charging"
    assert request.public_key() == key.public_key()
    assert isinstance(request.signature_hash_algorithm, hashes.SHA256)


def test_hash_data_of_a_root_and_of_a_leaf_is_ocsps_cert_id() -> None:
    ca = Authority("Hash Root")
    root = certificate(ca.certificate)
    leaf = certificate(ca.issue("CP-1").certificate)
    assert hash_data(root, root) == expected_hash(root, root)
    assert hash_data(leaf, root) == expected_hash(leaf, root)
    assert hash_data(leaf, root, "SHA384").issuer_name_hash == hashlib.sha384(root.subject.public_bytes()).hexdigest()


def test_hash_data_from_the_wire_is_compared_without_case_or_leading_zeros() -> None:
    wire = {"hash_algorithm": "SHA256", "issuer_name_hash": "AB", "issuer_key_hash": "CD", "serial_number": "00F1"}
    assert HashData.of(wire) == HashData("SHA256", "ab", "cd", "f1")


def test_installing_lists_and_deleting_a_csms_root() -> None:
    root = Authority("CSMS Root")
    held = store(("CSMSRootCertificate", root.certificate), ("ManufacturerRootCertificate", Authority().certificate))
    [listed] = held.listed(["CSMSRootCertificate"])
    assert listed.hash_data == expected_hash(certificate(root.certificate), certificate(root.certificate))
    assert len(held.listed(None)) == 2
    assert held.csms_roots() == [listed.certificate]

    assert held.removal(listed.hash_data, None) == ("Accepted", listed)
    unknown = HashData("SHA256", "00", "00", "1")
    assert held.removal(unknown, None) == ("NotFound", None)


def test_a_certificate_is_found_by_hash_data_of_another_algorithm() -> None:
    root = certificate(Authority("SHA-512 Root").certificate)
    held = store(("V2GRootCertificate", root.public_bytes(serialization.Encoding.PEM).decode()))
    assert held.find(hash_data(root, root, "SHA512")) is not None


def test_installing_refuses_what_is_no_valid_certificate_of_an_installable_type() -> None:
    empty = CertificateStore({}, "OCPP2.0.1")
    root = Authority().certificate
    assert empty.admit("CSMSRootCertificate", "not a certificate", now()) == ("Rejected", None)
    assert empty.admit("V2GCertificateChain", root, now()) == ("Rejected", None)  # not installable
    assert empty.admit("CSMSRootCertificate", root, now() + timedelta(days=31)) == ("Rejected", None)  # expired
    assert CertificateStore({}, "OCPP1.6").admit("CSMSRootCertificate", root, now()) == ("Rejected", None)
    assert CertificateStore({}, "OCPP1.6").admit("CentralSystemRootCertificate", root, now())[0] == "Accepted"


def test_installing_the_same_certificate_again_records_nothing_and_a_full_store_refuses_more() -> None:
    roots = [Authority(f"Root {n}").certificate for n in range(MAX_INSTALLED)]
    full = store(*(("MORootCertificate", pem) for pem in roots))
    assert full.admit("MORootCertificate", roots[0], now()) == ("Accepted", None)
    assert full.admit("MORootCertificate", Authority("One too many").certificate, now()) == ("Rejected", None)


def test_the_station_certificate_is_never_deleted() -> None:
    ca = Authority("Operator CA")
    chain = ca.issue("CP-1").certificate + ca.certificate
    leaf, root = parse_chain(chain)
    assert CertificateStore({}, "OCPP2.0.1").removal(hash_data(leaf, root), chain) == ("Failed", None)


def test_a_signed_chain_must_carry_the_requested_key_be_valid_and_hold_together() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    ca = Authority("Signing CA")
    csr = signing_request(key, "CP-1", "Acme")
    chain = parse_chain(ca.sign_csr(csr))
    assert chain_problem(chain, key.public_key(), now()) is None

    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    assert "not of the key" in str(chain_problem(chain, other, now()))
    assert "expired" in str(chain_problem(chain, key.public_key(), now() + timedelta(days=8)))
    broken = [chain[0], certificate(Authority("Not the signer").certificate)]
    assert "not signed by the next" in str(chain_problem(broken, key.public_key(), now()))
    assert chain_problem([], key.public_key(), now()) == "the chain holds no certificate"


def test_the_16_whitepaper_names_the_renamed_security_events() -> None:
    assert security_event_type("InvalidCsmsCertificate", "OCPP1.6") == "InvalidCentralSystemCertificate"
    assert security_event_type("InvalidChargingStationCertificate", "OCPP1.6") == "InvalidChargePointCertificate"
    assert security_event_type("InvalidCsmsCertificate", "OCPP2.0.1") == "InvalidCsmsCertificate"
    assert security_event_type("ResetOrReboot", "OCPP1.6") == "ResetOrReboot"


def test_the_runtime_records_the_store_and_an_older_runtime_has_an_empty_one() -> None:
    runtime = ChargerRuntime(tenant_id="t", charger_id=uuid4())
    data = {"hash_algorithm": "SHA256", "issuer_name_hash": "aa", "issuer_key_hash": "bb", "serial_number": "1"}
    runtime.certificate_installed("CSMSRootCertificate", "PEM", data)
    runtime.certificate_requested("ChargingStationCertificate", "aesgcm:sealed")
    runtime.station_certificate_installed("ChargingStationCertificate", "CHAIN", "aesgcm:sealed", None)
    assert list(runtime.certificates) == ["aa:bb:1"]
    assert runtime.certificate_requests == {}
    assert runtime.station_certificates["ChargingStationCertificate"]["chain"] == "CHAIN"
    runtime.certificate_deleted("aa:bb:1")
    assert runtime.certificates == {}
    old = ChargerRuntime(tenant_id="t", charger_id=runtime.charger_id)
    for table in ("certificates", "certificate_requests", "station_certificates"):
        old.__dict__.pop(table, None)  # like a runtime (or a snapshot) recorded before these tables
    assert (old.certificates, old.station_certificates) == ({}, {})


@pytest.mark.parametrize("algorithm", ["SHA256", "SHA384", "SHA512"])
def test_hash_data_payload_round_trips(algorithm: str) -> None:
    root = certificate(Authority().certificate)
    data = hash_data(root, root, algorithm)
    assert HashData.of(data.payload()) == data
