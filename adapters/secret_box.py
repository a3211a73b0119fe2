"""AES-GCM sealing of secrets kept in events, with a key generated once into the data dir (mode 0600)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from adapters.private_file import read_or_create
from adapters.settings import Settings

PREFIX = "aesgcm:"


class AesSecretBox:
    """Implements the application's SecretBox port."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)
        self._key = key

    def chain_key(self) -> bytes:
        """A key of its own for the event store's hash chain, derived from the secret key."""
        return hmac.new(self._key, b"ocpplab event chain v1", hashlib.sha256).digest()

    def export_key(self) -> bytes:
        """A key of its own for signing audit exports, derived from the secret key."""
        return hmac.new(self._key, b"ocpplab audit export v1", hashlib.sha256).digest()

    def ticket_key(self) -> bytes:
        """A key of its own for signing live-stream tickets (every process of a deployment shares it)."""
        return hmac.new(self._key, b"ocpplab stream ticket v1", hashlib.sha256).digest()

    @classmethod
    def for_settings(cls, settings: Settings) -> AesSecretBox:
        if settings.secret_key:
            return cls(base64.urlsafe_b64decode(settings.secret_key.encode() + b"=="))
        encoded = read_or_create(
            settings.data_dir / "secret-key",
            lambda: base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("="),
        )
        return cls(base64.urlsafe_b64decode(encoded + "=="))

    def seal(self, secret: str) -> str:
        nonce = secrets.token_bytes(12)
        sealed = self._aead.encrypt(nonce, secret.encode(), None)
        return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()

    def unseal(self, sealed: str) -> str:
        raw = base64.urlsafe_b64decode(sealed.removeprefix(PREFIX))
        return self._aead.decrypt(raw[:12], raw[12:], None).decode()
