"""The charger catalog: brands and models (read-only)."""

from __future__ import annotations

from datetime import datetime

from adapters.http.models.common import Response


class BrandResponse(Response):
    id: str
    slug: str
    name: str
    image_url: str | None = None
    created_at: datetime | None = None


class BrandListResponse(Response):
    data: list[BrandResponse]
    total: int
    page: int
    limit: int


class ModelResponse(Response):
    id: str
    slug: str
    name: str
    brand_slug: str | None = None
    brand_id: str | None = None
    image_url: str | None = None
    connector_count: int | None = None
    current_type: str | None = None
    supported_kwh: list[float] | None = None
    connector_types: list[str] | None = None
    created_at: datetime | None = None


class ModelListResponse(Response):
    data: list[ModelResponse]
    total: int
    page: int
    limit: int
