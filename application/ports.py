"""Ports the application needs from the outside world; adapters implement them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from domain.catalog import Brand, ChargerModel


@dataclass(frozen=True)
class Actor:
    """Who causes a change: the token's subject and role, the tenant acted for, the request it came with."""

    sub: str
    role: str
    tenant_id: str
    request_id: str

    def metadata(self) -> dict:
        """What every event records about its cause (read by the auditors)."""
        return {
            "tenant_id": self.tenant_id,
            "actor": {"sub": self.sub, "role": self.role},
            "request_id": self.request_id,
        }


class Catalog(Protocol):
    """The read-only catalog of charger hardware."""

    def brands(self) -> list[Brand]: ...

    def models_of(self, brand_slug: str) -> list[ChargerModel]: ...

    def model(self, brand_slug: str, model_slug: str) -> ChargerModel: ...


class SecretBox(Protocol):
    """Seals secrets (a charger's authorization key) so events never carry them in clear text."""

    def seal(self, secret: str) -> str: ...

    def unseal(self, sealed: str) -> str: ...
