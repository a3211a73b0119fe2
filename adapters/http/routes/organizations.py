"""Tenants, for admin tokens (an extension of ours)."""

from __future__ import annotations

from quart import Blueprint, g

from adapters.http.auth import require_admin
from adapters.http.context import run, services
from adapters.http.models.organizations import OrganizationListResponse, OrganizationRequest, OrganizationResponse
from adapters.http.validation import body, responds
from application.ports import Actor

bp = Blueprint("organizations", __name__)


@bp.get("/organizations")
@responds(OrganizationListResponse, errors=(401, 403))
async def list_organizations() -> dict:
    require_admin()
    tenants = await services().views.tenants()
    return {"data": tenants, "total": len(tenants)}


@bp.post("/organizations")
@body(OrganizationRequest)
@responds(OrganizationResponse, 201, errors=(401, 403, 422))
async def register_organization(data: OrganizationRequest) -> tuple[dict, int]:
    """Registers a tenant ahead of its first user token, so admin tokens can act for it."""
    admin = require_admin()
    actor = Actor(sub=admin.sub, role=admin.role, tenant_id=data.id, request_id=g.request_id)
    position = await run(services().gateway.ensure_tenant, actor)
    await services().views.catch_up(position or await run(services().gateway.position))
    tenant = next(t for t in await services().views.tenants() if t["id"] == data.id)
    return tenant, 201 if position else 200
