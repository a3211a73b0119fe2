"""File transfers a charge point makes for its CSMS: firmware downloads (http, https, ftp) and diagnostics / log
uploads (http PUT, POST when PUT is refused with 405; ftp STOR), with retries.

The transfers use the standard library (urllib, ftplib) in worker threads: the event loop never blocks. Proxies
from the environment are ignored, like the charge point's websocket (a charger dials the CSMS's URL itself).
"""

from __future__ import annotations

import asyncio
import base64
import ftplib
import hashlib
import io
import logging
import re
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TypeVar
from urllib.parse import unquote, urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

log = logging.getLogger("ocpplab.simulator.transfers")
TIMEOUT = 10.0  # seconds: connecting, and every read or write of a transfer
DEFAULT_RETRIES = 1  # when the CSMS does not say: one more attempt
DEFAULT_RETRY_INTERVAL = 10  # seconds between attempts when the CSMS does not say
CHUNK = 64 * 1024
SCHEMES = ("http", "https", "ftp")
FIRMWARE_SUFFIXES = re.compile(r"(\.(tar|bin|img|fw|hex|zip|gz|tgz|bz2|xz|swu|pkg|signed|sig))+$", re.IGNORECASE)
T = TypeVar("T")


class TransferFailed(Exception):
    """A transfer that did not succeed (after its retries)."""


@dataclass(frozen=True)
class Download:
    """What a firmware download brought: its size and SHA-256 (the file itself is not kept)."""

    size: int
    sha256: bytes


def _opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _checked(url: str) -> tuple[str, str]:
    scheme = urlsplit(url).scheme.lower()
    if scheme not in SCHEMES:
        raise TransferFailed(f"unsupported location {url!r}: not http, https or ftp")
    return scheme, url


def _ftp(url: str) -> tuple[ftplib.FTP, PurePosixPath]:
    """A logged-in FTP session for the URL (anonymous without credentials) and the URL's path."""
    parts = urlsplit(url)
    ftp = ftplib.FTP(timeout=TIMEOUT)  # noqa: S321 (an OCPP location may name an ftp:// server)
    try:
        ftp.connect(parts.hostname or "", parts.port or 21)
        ftp.login(unquote(parts.username or "anonymous"), unquote(parts.password or "anonymous@"))
    except BaseException:
        ftp.close()
        raise
    return ftp, PurePosixPath(unquote(parts.path) or "/")


def _download(url: str) -> Download:
    scheme, _ = _checked(url)
    digest, size = hashlib.sha256(), 0
    if scheme == "ftp":
        ftp, path = _ftp(url)
        with ftp:

            def take(chunk: bytes) -> None:
                nonlocal size
                digest.update(chunk)
                size += len(chunk)

            ftp.retrbinary(f"RETR {path}", take, CHUNK)
    else:
        with _opener().open(url, timeout=TIMEOUT) as response:  # an HTTP error status raises HTTPError
            while chunk := response.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
    return Download(size, digest.digest())


def _upload(url: str, filename: str, body: bytes) -> str:
    """Uploads `body` as `filename`; the URL it went to."""
    scheme, _ = _checked(url)
    if scheme == "ftp":
        ftp, path = _ftp(url)
        with ftp:  # the location is a directory (OCPP): the file goes in it
            if str(path) != "/":
                ftp.cwd(str(path))
            ftp.storbinary(f"STOR {filename}", io.BytesIO(body))
        return f"{url.rstrip('/')}/{filename}"
    target = f"{url}{filename}" if urlsplit(url).path.endswith("/") else url
    headers = {"Content-Type": "text/plain; charset=utf-8", "Content-Disposition": f'attachment; filename="{filename}"'}
    try:
        _send(target, body, headers, "PUT")
    except urllib.error.HTTPError as error:
        if error.code != 405:
            raise
        _send(target, body, headers, "POST")
    return target


def _send(url: str, body: bytes, headers: dict[str, str], method: str) -> None:
    request = urllib.request.Request(url, data=body, headers=headers, method=method)  # noqa: S310 (scheme checked)
    with _opener().open(request, timeout=TIMEOUT) as response:
        response.read()


async def _attempts(what: str, work: Callable[[], T], retries: int | None, interval: float | None) -> T:
    """Runs `work` in a thread, 1 + retries times at most, `interval` seconds apart."""
    retries = DEFAULT_RETRIES if retries is None else max(0, retries)
    interval = DEFAULT_RETRY_INTERVAL if interval is None else max(0, interval)
    last: Exception | None = None
    for attempt in range(retries + 1):
        if attempt:
            await asyncio.sleep(interval)
        try:
            return await asyncio.to_thread(work)
        except (OSError, ftplib.Error, ValueError, TransferFailed) as error:  # URLError and HTTPError are OSErrors
            log.info("%s failed (attempt %d of %d): %s", what, attempt + 1, retries + 1, error)
            last = error
    raise TransferFailed(f"{what} failed: {last}")


async def download(url: str, retries: int | None = None, interval: float | None = None) -> Download:
    return await _attempts(f"download of {url}", lambda: _download(url), retries, interval)


async def upload(
    url: str, filename: str, body: bytes, retries: int | None = None, interval: float | None = None
) -> str:
    return await _attempts(f"upload to {url}", lambda: _upload(url, filename, body), retries, interval)


def firmware_version(url: str, fetched: Download) -> str:
    """The version a firmware file installs: its file name without the firmware suffixes (`acme-2.4.1.bin` ->
    `acme-2.4.1`); a file without a usable name installs `fw-` and the first 8 hex digits of its SHA-256."""
    name = PurePosixPath(unquote(urlsplit(url).path)).name
    stem = FIRMWARE_SUFFIXES.sub("", name).strip()
    return (stem or f"fw-{fetched.sha256.hex()[:8]}")[:50]


def load_certificate(pem: str) -> x509.Certificate | None:
    """The signing certificate the CSMS sent (PEM), or None when it is not one."""
    try:
        return x509.load_pem_x509_certificate(pem.encode())
    except ValueError:
        return None


def signature_valid(fetched: Download, signature_b64: str, certificate: x509.Certificate | None) -> bool:
    """Whether `signature_b64` (base64) signs the file's SHA-256 with the certificate's key (RSA PKCS#1 v1.5 or
    ECDSA, as OCPP 2.0.1 firmware signing uses)."""
    if certificate is None:
        return False
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        key = certificate.public_key()
        prehashed = utils.Prehashed(hashes.SHA256())
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, fetched.sha256, padding.PKCS1v15(), prehashed)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, fetched.sha256, ec.ECDSA(prehashed))
        else:
            return False
    except (InvalidSignature, ValueError):
        return False
    return True
