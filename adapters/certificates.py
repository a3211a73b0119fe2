"""PEM certificates and keys of chargers' TLS settings: parsed and checked with `cryptography`.

Only facts leave this module (subject, serial, expiry, whether a key fits a certificate); a private key is
parsed to check it and never kept.
"""

from __future__ import annotations

from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

MAX_BUNDLE = 65_536  # characters of a CA bundle
MAX_PEM = 16_384  # characters of a client certificate chain or private key
TLS_KEYS = (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)


def certificates(pem: str, what: str) -> list[x509.Certificate]:
    """The X.509 certificates of a PEM text; ValueError when there is none or one does not parse."""
    if "-----BEGIN CERTIFICATE-----" not in pem:
        raise ValueError(f"{what} must be PEM text with at least one -----BEGIN CERTIFICATE----- block")
    try:
        return x509.load_pem_x509_certificates(pem.encode())
    except ValueError as error:
        raise ValueError(f"{what} is not a valid PEM certificate ({error})") from None


def check_ca_bundle(pem: str) -> str:
    certificates(pem, "csms_ca_certificate")
    return pem.strip() + "\n"


def check_client_certificate(pem: str) -> str:
    certificates(pem, "client_certificate")
    return pem.strip() + "\n"


def check_private_key(pem: str) -> str:
    """A PEM private key without passphrase; ValueError (never quoting the key) otherwise."""
    if "PRIVATE KEY-----" not in pem:
        raise ValueError("client_private_key must be a PEM private key (-----BEGIN ... PRIVATE KEY-----)")
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        raise ValueError("client_private_key is not a valid unencrypted PEM private key") from None
    if not isinstance(key, TLS_KEYS):
        raise ValueError("client_private_key must be an RSA, EC or EdDSA key")
    return pem.strip() + "\n"


def key_fits_certificate(key_pem: str, certificate_pem: str) -> bool:
    """Whether the private key is the one of the chain's first (leaf) certificate."""
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    leaf = certificates(certificate_pem, "client_certificate")[0]
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return key.public_key().public_bytes(*spki) == leaf.public_key().public_bytes(*spki)


def certificate_facts(pem: str | None) -> dict[str, str | None]:
    """What a charger's view shows of its client certificate: the leaf's subject, serial (hex) and expiry."""
    if not pem:
        return {
            "client_certificate_subject": None,
            "client_certificate_serial": None,
            "client_certificate_expiry": None,
        }
    leaf = certificates(pem, "client_certificate")[0]
    expiry: datetime = leaf.not_valid_after_utc
    return {
        "client_certificate_subject": leaf.subject.rfc4514_string(),
        "client_certificate_serial": format(leaf.serial_number, "X"),
        "client_certificate_expiry": expiry.isoformat().replace("+00:00", "Z"),
    }
