"""AES-GCM sealing of secrets kept in events, with a key generated once into the data dir (mode 0600)."""

from __future__ import annotations

import base64
import os
import secrets

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from adapters.settings import Settings

PREFIX = "aesgcm:"


class AesSecretBox:
    """Implements the application's SecretBox port."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    @classmethod
    def for_settings(cls, settings: Settings) -> AesSecretBox:
        if settings.secret_key:
            return cls(base64.urlsafe_b64decode(settings.secret_key.encode() + b"=="))
        path = settings.data_dir / "secret-key"
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return cls(base64.urlsafe_b64decode(path.read_text().strip() + "=="))
        with os.fdopen(fd, "w") as handle:
            handle.write(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("="))
        return cls(base64.urlsafe_b64decode(path.read_text().strip() + "=="))

    def seal(self, secret: str) -> str:
        nonce = secrets.token_bytes(12)
        sealed = self._aead.encrypt(nonce, secret.encode(), None)
        return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()

    def unseal(self, sealed: str) -> str:
        raw = base64.urlsafe_b64decode(sealed.removeprefix(PREFIX))
        return self._aead.decrypt(raw[:12], raw[12:], None).decode()
