"""TLS client contexts of the simulated charge points (OCPP security profiles 2 and 3).

A context is built once per distinct (CA bundle, client certificate, key) and shared by every charger that has
the same material, so 1,000 chargers of one tenant hold one context, and a reconnect builds nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import ssl
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import serialization

from domain.chargepoint.certificates import STATION_CERTIFICATE, CertificateStore, parse_chain
from domain.security import effective_profile, is_tls
from simulator.model import ChargerSpec

if TYPE_CHECKING:
    from domain.runtime import ChargerRuntime

INVALID_CSMS_CERTIFICATE = "InvalidCsmsCertificate"
RAM_DIR = Path("/dev/shm")  # noqa: S108 - RAM-backed when present: the (encrypted) key file never reaches a disk


def build_context(
    ca_bundle: str | None, certificate: str | None = None, key: str | None = None, installed_roots: str | None = None
) -> ssl.SSLContext:
    """A client context verifying the CSMS (against `ca_bundle`, else the system CAs, and the CSMS root
    certificates the CSMS installed) and hostname; with a certificate and key, it presents them (profile 3)."""
    context = ssl.create_default_context(cadata=ca_bundle) if ca_bundle else ssl.create_default_context()
    if installed_roots:
        context.load_verify_locations(cadata=installed_roots)
    if certificate and key:
        load_chain(context, certificate, key)
    return context


def load_chain(context: ssl.SSLContext, certificate: str, key: str) -> None:
    """`load_cert_chain` reads files only: the key goes to a private temporary file (mode 0600, in RAM when
    /dev/shm exists) encrypted with a one-time password held in memory only, and is deleted right after loading."""
    password = secrets.token_bytes(32)
    loaded = serialization.load_pem_private_key(key.encode(), password=None)
    sealed = loaded.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(password),
    )
    directory = RAM_DIR if RAM_DIR.is_dir() and os.access(RAM_DIR, os.W_OK) else None
    handle, name = tempfile.mkstemp(prefix="ocpplab-chain-", suffix=".pem", dir=directory)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(certificate.encode().rstrip() + b"\n" + sealed)
        context.load_cert_chain(name, password=password)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)


class TlsContexts:
    """The contexts of a fleet, by the digest of their material (the clear key is not kept as a dict key)."""

    def __init__(self) -> None:
        self._contexts: dict[str, ssl.SSLContext] = {}

    def for_spec(self, spec: ChargerSpec, client_key: str | None) -> ssl.SSLContext | None:
        """The context a charger connects with (None for ws://); `client_key`: its unsealed private key.
        Raises ValueError (or ssl.SSLError) when the material does not load."""
        if not is_tls(spec.ws_url):
            return None
        profile = effective_profile(spec.security_profile, spec.ws_url)
        certificate = spec.client_certificate if profile == 3 else None
        key = client_key if certificate else None
        if profile == 3 and not (certificate and key):
            raise ValueError("security profile 3 needs a client certificate and its private key")
        digest = hashlib.sha256(
            b"\0".join(part.encode() for part in (spec.csms_ca_certificate or "", certificate or "", key or ""))
        ).hexdigest()
        context = self._contexts.get(digest)
        if context is None:
            context = self._contexts[digest] = build_context(spec.csms_ca_certificate, certificate, key)
        return context

    def forget_unused(self, used: set[int]) -> None:
        """Drops the contexts no runner holds any more (`used`: the id() of the contexts in use)."""
        self._contexts = {k: c for k, c in self._contexts.items() if id(c) in used}


def digest(text: str | None) -> str | None:
    """A short fingerprint of a PEM text (None for none), to notice that a configured certificate changed."""
    return hashlib.sha256(text.encode()).hexdigest()[:32] if text else None


def held_station_certificate(spec: ChargerSpec, runtime: ChargerRuntime, now: datetime) -> dict[str, Any] | None:
    """The station certificate the CSMS had signed (A02), when the next connection presents it: on profile 3, once
    valid, and while the charger's configured client certificate is the one it replaced (a newer one wins)."""
    held = runtime.station_certificates.get(STATION_CERTIFICATE)
    if not held or effective_profile(spec.security_profile, spec.ws_url) != 3:
        return None
    if held.get("superseded") != digest(spec.client_certificate):
        return None
    leaf = parse_chain(held["chain"])[0]
    return held if leaf.not_valid_before_utc <= now < leaf.not_valid_after_utc else None


class HeldTls:
    """The TLS context of what a charge point holds beyond its settings: CSMS root certificates the CSMS installed,
    and a station certificate it had signed. One per runner, rebuilt only when that material changes."""

    def __init__(self) -> None:
        self._digest: str | None = None
        self._context: ssl.SSLContext | None = None

    def context(
        self, spec: ChargerSpec, runtime: ChargerRuntime, unseal: Callable[[str], str] | None
    ) -> ssl.SSLContext | None:
        """The context for the next attempt, or None when the charger holds nothing beyond its settings (then its
        settings' context applies). Raises ValueError (or ssl.SSLError) when the material does not load."""
        roots = "".join(CertificateStore(runtime.certificates, spec.ocpp_version).csms_roots())
        station = held_station_certificate(spec, runtime, datetime.now(UTC)) if unseal is not None else None
        if not roots and station is None:
            return None
        certificate, key = None, None
        if station is not None and unseal is not None:
            certificate, key = station["chain"], unseal(station["sealed_key"])
        elif effective_profile(spec.security_profile, spec.ws_url) == 3 and spec.client_private_key and unseal:
            certificate, key = spec.client_certificate, unseal(spec.client_private_key)
        material = b"\0".join(
            part.encode() for part in (spec.csms_ca_certificate or "", roots, certificate or "", key or "")
        )
        fingerprint = hashlib.sha256(material).hexdigest()
        if fingerprint != self._digest or self._context is None:
            self._context = build_context(spec.csms_ca_certificate, certificate, key, roots)
            self._digest = fingerprint
        return self._context
