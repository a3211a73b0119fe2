"""The read-only catalog: authenticated, not tenant-scoped."""

from __future__ import annotations

from quart import Blueprint

from adapters.catalog.loader import PUBLISHED_AT, brand_id, model_id
from adapters.http.context import services
from adapters.http.models.catalog import BrandListResponse, ModelListResponse, ModelResponse
from adapters.http.models.common import PageQuery
from adapters.http.validation import query, responds
from adapters.store.projections import iso
from domain.catalog import Brand, ChargerModel

bp = Blueprint("catalog", __name__)


def brand_doc(brand: Brand) -> dict:
    return {
        "id": str(brand_id(brand)),
        "slug": brand.slug,
        "name": brand.name,
        "image_url": brand.image_url,
        "created_at": iso(PUBLISHED_AT),
    }


def model_doc(model: ChargerModel) -> dict:
    return {
        "id": str(model_id(model)),
        "slug": model.slug,
        "name": model.name,
        "brand_slug": model.brand.slug,
        "brand_id": str(brand_id(model.brand)),
        "image_url": model.image_url,
        "connector_count": model.connector_count,
        "current_type": model.current_type,
        "supported_kwh": list(model.supported_kw),
        "connector_types": list(model.connector_types),
        "max_power_w": model.max_power_w,
        "phases": model.phases,
        "created_at": iso(PUBLISHED_AT),
    }


def page_of(items: list, page: int, limit: int) -> dict:
    start = (page - 1) * limit
    return {"data": items[start : start + limit], "total": len(items), "page": page, "limit": limit}


@bp.get("/catalog/brands")
@query(PageQuery)
@responds(BrandListResponse, errors=(401, 403, 422))
async def list_brands(query: PageQuery) -> dict:
    return page_of([brand_doc(b) for b in services().catalog.brands()], query.page, query.limit)


@bp.get("/catalog/brands/<brand_slug>/models")
@query(PageQuery)
@responds(ModelListResponse, errors=(401, 403, 404, 422))
async def list_models(brand_slug: str, query: PageQuery) -> dict:
    return page_of([model_doc(m) for m in services().catalog.models_of(brand_slug)], query.page, query.limit)


@bp.get("/catalog/brands/<brand_slug>/models/<model_slug>")
@responds(ModelResponse, errors=(401, 403, 404))
async def get_model(brand_slug: str, model_slug: str) -> dict:
    return model_doc(services().catalog.model(brand_slug, model_slug))
