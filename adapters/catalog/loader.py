"""The catalog, kept as data (catalog.json) and loaded once into value objects."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from uuid import NAMESPACE_URL, UUID, uuid5

from domain.catalog import Brand, ChargerModel
from domain.errors import NotFound

CATALOG_FILE = Path(__file__).with_name("catalog.json")
PUBLISHED_AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


class JsonCatalog:
    """Implements the application's Catalog port over a JSON file."""

    def __init__(self, path: Path = CATALOG_FILE) -> None:
        data = json.loads(path.read_text())
        self._brands: dict[str, Brand] = {}
        self._models: dict[str, dict[str, ChargerModel]] = {}
        for entry in sorted(data["brands"], key=lambda b: b["slug"]):
            brand = Brand(slug=entry["slug"], name=entry["name"], image_url=entry.get("image_url"))
            self._brands[brand.slug] = brand
            self._models[brand.slug] = {
                m["slug"]: ChargerModel(
                    brand=brand,
                    slug=m["slug"],
                    name=m["name"],
                    current_type=m["current_type"],
                    connector_count=m["connector_count"],
                    connector_types=tuple(m["connector_types"]),
                    supported_kw=tuple(m["supported_kwh"]),
                    max_power_w=m["max_power_w"],
                    phases=m.get("phases", 0),
                    firmware_version=m.get("firmware_version", "1.0.0"),
                    image_url=m.get("image_url"),
                    ocpp16_security=bool(m.get("ocpp16_security", False)),
                )
                for m in sorted(entry["models"], key=lambda m: m["slug"])
            }

    def brands(self) -> list[Brand]:
        return list(self._brands.values())

    def models_of(self, brand_slug: str) -> list[ChargerModel]:
        if brand_slug not in self._models:
            raise NotFound("brand", brand_slug)
        return list(self._models[brand_slug].values())

    def model(self, brand_slug: str, model_slug: str) -> ChargerModel:
        if brand_slug not in self._models:
            raise NotFound("brand", brand_slug)
        try:
            return self._models[brand_slug][model_slug]
        except KeyError:
            raise NotFound("model", f"{brand_slug}/{model_slug}") from None


def brand_id(brand: Brand) -> UUID:
    return uuid5(NAMESPACE_URL, f"/catalog/brands/{brand.slug}")


def model_id(model: ChargerModel) -> UUID:
    return uuid5(NAMESPACE_URL, f"/catalog/brands/{model.brand.slug}/models/{model.slug}")


@cache
def default_catalog() -> JsonCatalog:
    return JsonCatalog()
