"""A charge point's certificates, as OCPP 2.0.1 (A02, M03-M05) and the 1.6 security whitepaper have them.

The rules only: what a certificate signing request says (CN = the identity, O = the organization name), the hash
data that names an installed certificate (SHA-256 of the issuer's DER name and of its public key, and the serial,
as OCSP computes them), which types a CSMS may install and how many, and whether a signed chain answers the
station's own key. `cryptography` does every computation; time comes in as an argument.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes, PublicKeyTypes
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID

STATION_CERTIFICATE = "ChargingStationCertificate"  # 1.6 calls it the Charge Point certificate
INSTALLABLE = {
    "OCPP2.0.1": ("V2GRootCertificate", "MORootCertificate", "CSMSRootCertificate", "ManufacturerRootCertificate"),
    "OCPP1.6": ("CentralSystemRootCertificate", "ManufacturerRootCertificate"),
}
CSMS_ROOTS = frozenset({"CSMSRootCertificate", "CentralSystemRootCertificate"})  # trusted to verify the CSMS
MAX_INSTALLED = 20  # certificates a charge point keeps (CertificateStoreMaxLength); one more is Rejected
HASHES = {"SHA256": hashes.SHA256, "SHA384": hashes.SHA384, "SHA512": hashes.SHA512}
SECURITY_EVENTS_16 = {  # the 1.6 whitepaper's names of the events 2.0.1 renamed
    "InvalidCsmsCertificate": "InvalidCentralSystemCertificate",
    "InvalidChargingStationCertificate": "InvalidChargePointCertificate",
    "FailedToAuthenticateAtCsms": "FailedToAuthenticateAtCentralSystem",
}
_SPKI = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo


def security_event_type(kind: str, ocpp_version: str) -> str:
    """A standard security event's type in the version's vocabulary (`kind`: its 2.0.1 name)."""
    return SECURITY_EVENTS_16.get(kind, kind) if ocpp_version == "OCPP1.6" else kind


def csr_subject(identity: str, organization: str) -> x509.Name:
    """The subject of the station certificate: O = the organization (2.0.1 SecurityCtrlr.OrganizationName, the
    operator), CN = the charge point's identity (its serial number here)."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization[:64]),
            x509.NameAttribute(NameOID.COMMON_NAME, identity[:64]),
        ]
    )


def signing_request(key: CertificateIssuerPrivateKeyTypes, identity: str, organization: str) -> str:
    """The PEM certificate signing request (RFC 2986) of the station's key, signed with SHA-256."""
    request = x509.CertificateSigningRequestBuilder().subject_name(csr_subject(identity, organization))
    return request.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()


@dataclass(frozen=True)
class HashData:
    """CertificateHashDataType: how OCPP names one certificate (hex digests, serial in hex without leading zeros)."""

    hash_algorithm: str
    issuer_name_hash: str
    issuer_key_hash: str
    serial_number: str

    @classmethod
    def of(cls, payload: Mapping[str, Any]) -> HashData:
        """From an OCPP payload (snake_case, as the ocpp library hands it over)."""
        return cls(
            str(payload["hash_algorithm"]),
            str(payload["issuer_name_hash"]).lower(),
            str(payload["issuer_key_hash"]).lower(),
            str(payload["serial_number"]).lower().lstrip("0") or "0",
        )

    def payload(self) -> dict[str, str]:
        return {
            "hash_algorithm": self.hash_algorithm,
            "issuer_name_hash": self.issuer_name_hash,
            "issuer_key_hash": self.issuer_key_hash,
            "serial_number": self.serial_number,
        }

    @property
    def key(self) -> str:
        """The store's key of a certificate (its SHA-256 hash data)."""
        return f"{self.issuer_name_hash}:{self.issuer_key_hash}:{self.serial_number}"


def hash_data(certificate: x509.Certificate, issuer: x509.Certificate | None, algorithm: str = "SHA256") -> HashData:
    """The certificate's hash data: the OCSP CertID of RFC 6960 (`issuer`: the certificate that signed it; a root
    is its own issuer; None when unknown, then the key hash is of the certificate's own key)."""
    request = ocsp.OCSPRequestBuilder().add_certificate(certificate, issuer or certificate, HASHES[algorithm]())
    built = request.build()
    return HashData(
        algorithm, built.issuer_name_hash.hex(), built.issuer_key_hash.hex(), format(built.serial_number, "x")
    )


def parse_chain(pem: str) -> list[x509.Certificate]:
    """The certificates of a PEM text, leaf first; ValueError when there is none or one does not parse."""
    if "-----BEGIN CERTIFICATE-----" not in pem:
        raise ValueError("no PEM certificate")
    return x509.load_pem_x509_certificates(pem.encode())


def issuer_among(certificate: x509.Certificate, candidates: Iterable[x509.Certificate]) -> x509.Certificate | None:
    """The candidate whose key signed `certificate` (the certificate itself when it is self-signed)."""
    for candidate in (certificate, *candidates):
        if candidate.subject == certificate.issuer:
            try:
                certificate.verify_directly_issued_by(candidate)
            except (ValueError, TypeError, InvalidSignature):
                continue
            return candidate
    return None


def chain_problem(chain: list[x509.Certificate], station_key: PublicKeyTypes, now: datetime) -> str | None:
    """Why a signed chain cannot become the station certificate (None: it can): its leaf must carry the key of the
    station's signing request, be valid now or later, and each certificate must be signed by the next."""
    if not chain:
        return "the chain holds no certificate"
    leaf = chain[0]
    if leaf.public_key().public_bytes(*_SPKI) != station_key.public_bytes(*_SPKI):
        return "the certificate is not of the key of the station's signing request"
    if leaf.not_valid_after_utc <= now:
        return f"the certificate expired at {leaf.not_valid_after_utc.isoformat()}"
    for child, parent in itertools.pairwise(chain):
        if issuer_among(child, [parent]) is not parent:
            return f"'{child.subject.rfc4514_string()}' is not signed by the next certificate of the chain"
    return None


@dataclass(frozen=True)
class Installed:
    """A certificate the CSMS installed: its type, PEM, and SHA-256 hash data."""

    certificate_type: str
    certificate: str
    hash_data: HashData


class CertificateStore:
    """The certificates a charge point holds (a fold of the recorded runtime's table, keyed by hash data)."""

    def __init__(self, recorded: Mapping[str, Mapping[str, Any]], ocpp_version: str) -> None:
        self.ocpp_version = ocpp_version
        self.installed = [
            Installed(entry["certificate_type"], entry["certificate"], HashData.of(entry["hash_data"]))
            for entry in recorded.values()
        ]

    def _certificates(self) -> list[x509.Certificate]:
        return [parse_chain(entry.certificate)[0] for entry in self.installed]

    def admit(self, certificate_type: str, pem: str, now: datetime) -> tuple[str, Installed | None]:
        """InstallCertificate's decision: ("Accepted", the entry to record, None when already held) or
        ("Rejected", None) for an unknown type, a text that is no certificate, an expired one or a full store."""
        if certificate_type not in INSTALLABLE[self.ocpp_version]:
            return "Rejected", None
        try:
            certificate = parse_chain(pem)[0]
        except ValueError:
            return "Rejected", None
        if not certificate.not_valid_before_utc <= now < certificate.not_valid_after_utc:
            return "Rejected", None
        issuer = issuer_among(certificate, self._certificates())
        entry = Installed(
            certificate_type,
            certificate.public_bytes(serialization.Encoding.PEM).decode(),
            hash_data(certificate, issuer),
        )
        held = next((e for e in self.installed if e.hash_data.key == entry.hash_data.key), None)
        if held is not None and held.certificate_type == certificate_type:
            return "Accepted", None
        if held is None and len(self.installed) >= MAX_INSTALLED:
            return "Rejected", None
        return "Accepted", entry

    def listed(self, types: Iterable[str] | None = None) -> list[Installed]:
        """GetInstalledCertificateIds: the certificates of these types (all when None), in installation order."""
        wanted = set(types) if types else None
        return [entry for entry in self.installed if wanted is None or entry.certificate_type in wanted]

    def find(self, wanted: HashData) -> Installed | None:
        """The installed certificate named by hash data of any of the algorithms OCPP allows."""
        for entry in self.installed:
            certificate = parse_chain(entry.certificate)[0]
            if wanted.hash_algorithm == entry.hash_data.hash_algorithm:
                if wanted.key == entry.hash_data.key:
                    return entry
            elif wanted.hash_algorithm in HASHES:
                issuer = issuer_among(certificate, self._certificates())
                if hash_data(certificate, issuer, wanted.hash_algorithm).key == wanted.key:
                    return entry
        return None

    def removal(self, wanted: HashData, station_chain: str | None) -> tuple[str, Installed | None]:
        """DeleteCertificate's decision: ("Accepted", the entry), ("NotFound", None), or ("Failed", None) for the
        station's own certificate (2.0.1 M04: it is never deleted through OCPP)."""
        if names_station_certificate(wanted, station_chain):
            return "Failed", None
        entry = self.find(wanted)
        return ("Accepted", entry) if entry is not None else ("NotFound", None)

    def csms_roots(self) -> list[str]:
        """The PEM certificates trusted, besides the charger's own CA bundle, to verify the CSMS."""
        return [entry.certificate for entry in self.installed if entry.certificate_type in CSMS_ROOTS]


def names_station_certificate(wanted: HashData, chain_pem: str | None) -> bool:
    """Whether hash data names the station's own certificate (which DeleteCertificate must not remove)."""
    if not chain_pem:
        return False
    chain = parse_chain(chain_pem)
    issuer = issuer_among(chain[0], chain[1:])
    algorithm = wanted.hash_algorithm if wanted.hash_algorithm in HASHES else "SHA256"
    return hash_data(chain[0], issuer, algorithm).key == wanted.key
