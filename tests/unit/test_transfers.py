"""The transfer mechanics against loopback HTTP and FTP servers: downloads, uploads, retries, signatures."""

from __future__ import annotations

import base64
import datetime
import hashlib
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from simulator import transfers
from simulator.transfers import Download, TransferFailed
from tests.file_servers import dead_url, ftp_server, http_server

FIRMWARE = b"\x7fELF firmware image" * 100


def signed(content: bytes, key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> tuple[str, str]:
    """(base64 signature of the content, PEM certificate of the key)."""
    if isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(content, padding.PKCS1v15(), hashes.SHA256())
    else:
        signature = key.sign(content, ec.ECDSA(hashes.SHA256()))
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "firmware signer")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return base64.b64encode(signature).decode(), certificate.public_bytes(serialization.Encoding.PEM).decode()


async def test_a_download_over_http_fetches_the_file() -> None:
    with http_server({"/fw/acme-2.4.1.bin": FIRMWARE}) as server:
        fetched = await transfers.download(server.url("/fw/acme-2.4.1.bin"), retries=0)
    assert fetched == Download(len(FIRMWARE), hashlib.sha256(FIRMWARE).digest())
    assert [(r.method, r.path) for r in server.requests] == [("GET", "/fw/acme-2.4.1.bin")]


async def test_a_download_over_ftp_fetches_the_file() -> None:
    with ftp_server({"/fw/acme-3.0.bin": FIRMWARE}) as server:
        fetched = await transfers.download(server.url("/fw/acme-3.0.bin", "ftp"), retries=0)
    assert fetched.sha256 == hashlib.sha256(FIRMWARE).digest()


async def test_an_http_error_fails_after_the_retries_with_the_interval_between() -> None:
    with http_server() as server:
        started = time.monotonic()
        with pytest.raises(TransferFailed):
            await transfers.download(server.url("/missing.bin"), retries=2, interval=0.2)
    assert len(server.received("GET")) == 3
    assert time.monotonic() - started >= 0.4


async def test_an_unreachable_location_or_another_scheme_fails() -> None:
    with pytest.raises(TransferFailed):
        await transfers.download(dead_url(), retries=0)
    with pytest.raises(TransferFailed):
        await transfers.upload("sftp://host/dir", "x.log", b"x", retries=0)


async def test_an_upload_puts_the_file_and_posts_when_put_is_refused() -> None:
    with http_server() as server:
        assert await transfers.upload(server.url("/up/"), "a.log", b"hello", retries=0) == server.url("/up/a.log")
        assert await transfers.upload(server.url("/exact"), "b.log", b"there", retries=0) == server.url("/exact")
    assert [(r.method, r.path, r.body) for r in server.requests] == [
        ("PUT", "/up/a.log", b"hello"),
        ("PUT", "/exact", b"there"),
    ]
    with http_server(refuse_put=True) as server:
        await transfers.upload(server.url("/up/"), "c.log", b"body", retries=0)
    assert [(r.method, r.path) for r in server.requests] == [("PUT", "/up/c.log"), ("POST", "/up/c.log")]
    assert server.requests[-1].headers["Content-Disposition"] == 'attachment; filename="c.log"'


async def test_an_upload_over_ftp_stores_the_file_in_the_directory() -> None:
    with ftp_server() as server:
        await transfers.upload(server.url("/incoming", "ftp").replace("ftp://", "ftp://user:pw@"), "d.log", b"log")
    assert server.files == {"/incoming/d.log": b"log"}


def test_the_installed_version_is_the_file_name_stem() -> None:
    fetched = Download(1, hashlib.sha256(b"x").digest())
    assert transfers.firmware_version("https://h/fw/acme-2.4.1.bin", fetched) == "acme-2.4.1"
    assert transfers.firmware_version("https://h/fw/v3.2.0.tar.gz?token=1", fetched) == "v3.2.0"
    assert transfers.firmware_version("https://h/", fetched) == f"fw-{fetched.sha256.hex()[:8]}"


@pytest.mark.parametrize("key", [rsa.generate_private_key(65537, 2048), ec.generate_private_key(ec.SECP256R1())])
def test_a_signature_verifies_against_the_signing_certificate(key) -> None:
    signature, pem = signed(FIRMWARE, key)
    certificate = transfers.load_certificate(pem)
    fetched = Download(len(FIRMWARE), hashlib.sha256(FIRMWARE).digest())
    assert transfers.signature_valid(fetched, signature, certificate)
    other = Download(1, hashlib.sha256(b"tampered").digest())
    assert not transfers.signature_valid(other, signature, certificate)
    assert not transfers.signature_valid(fetched, "not base64!", certificate)
    assert not transfers.signature_valid(fetched, signature, None)
    assert transfers.load_certificate("not a certificate") is None
