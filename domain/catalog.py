"""Catalog entries as the domain sees them: read-only facts about real charger hardware."""

from __future__ import annotations

from dataclasses import dataclass, field

from domain.errors import InvalidValue

CONNECTOR_TYPES = frozenset({"Type1", "Type2", "CCS1", "CCS2", "CHAdeMO", "GBT", "NACS"})


@dataclass(frozen=True)
class Brand:
    slug: str
    name: str
    image_url: str | None = None


@dataclass(frozen=True)
class ChargerModel:
    """One charger model of the catalog (brand, connectors, power)."""

    brand: Brand
    slug: str
    name: str
    current_type: str  # "ac" | "dc"
    connector_count: int
    connector_types: tuple[str, ...]
    supported_kw: tuple[float, ...]
    max_power_w: int
    phases: int = 0
    firmware_version: str = "1.0.0"
    image_url: str | None = None
    ocpp16_security: bool = False  # its OCPP 1.6 firmware implements the security whitepaper (certificates, events)
    extra: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if self.current_type not in ("ac", "dc"):
            raise InvalidValue("current_type", f"{self.slug}: must be 'ac' or 'dc'")
        if self.connector_count < 1 or not self.connector_types:
            raise InvalidValue("connector_count", f"{self.slug}: a charger has at least one connector")
        unknown = set(self.connector_types) - CONNECTOR_TYPES
        if unknown:
            raise InvalidValue("connector_types", f"{self.slug}: unknown connector types {sorted(unknown)}")
        if self.max_power_w <= 0:
            raise InvalidValue("max_power_w", f"{self.slug}: must be positive")

    def connector(self, connector_type: str) -> str:
        """The connector type, if this model has it; the catalog decides what fits."""
        if connector_type not in self.connector_types:
            raise InvalidValue(
                "connector_type",
                f"'{connector_type}' does not fit {self.brand.slug}/{self.slug} "
                f"(it has {', '.join(self.connector_types)})",
            )
        return connector_type

    def snapshot(self) -> dict:
        """What a charger records of its model when it is registered (the catalog may change later); the
        whitepaper flag only where it is set, so the snapshots of other models stay as they were."""
        snapshot = {
            "brand_slug": self.brand.slug,
            "brand_name": self.brand.name,
            "model_slug": self.slug,
            "model_name": self.name,
            "image_url": self.image_url,
            "current_type": self.current_type,
            "connector_count": self.connector_count,
            "connector_types": list(self.connector_types),
            "max_power_w": self.max_power_w,
            "firmware_version": self.firmware_version,
        }
        return {**snapshot, "ocpp16_security": True} if self.ocpp16_security else snapshot
