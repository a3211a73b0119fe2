"""Create, update and delete one charger: shared by the charger routes and the location bulk routes."""

from __future__ import annotations

from uuid import UUID

from adapters.http.context import run, services
from adapters.http.errors import HttpError, domain_status
from adapters.http.models.chargers import CreateChargerRequest, UpdateChargerRequest
from adapters.http.routes.common import charger_uuid, parse_uuid, written_doc
from application.ports import Actor
from domain.errors import DomainError, NotFound


async def resolve_location(actor: Actor, location_id: str | None, location_name: str | None) -> UUID | None:
    """The location a body names, by id or by (unique) name; 400 when it names none of the tenant's."""
    if location_id is not None:
        parsed = parse_uuid(location_id)
        if parsed is None:
            raise HttpError(400, f"location '{location_id}' not found")
        return parsed
    if location_name is not None:
        ids = await services().views.location_ids_named(actor.tenant_id, location_name)
        if len(ids) != 1:
            problem = "not found" if not ids else "is ambiguous (several locations have that name)"
            raise HttpError(400, f"location named '{location_name}' {problem}")
        return UUID(ids[0])
    return None


def _as_bad_request(error: NotFound) -> HttpError:
    """A body that references a missing location, brand or model is a bad request, not a missing path."""
    return HttpError(400, f"{error.kind} '{error.key}' not found")


async def create_charger(
    actor: Actor, item: CreateChargerRequest, path_location: UUID | None = None
) -> tuple[dict, bool]:
    location = path_location or await resolve_location(actor, item.location_id, item.location_name)
    if location is None:
        raise HttpError(400, "location_id or location_name is required: every charger belongs to a location")
    try:
        written = await run(
            services().gateway.create_charger,
            actor,
            location,
            item.identity,
            item.brand_slug,
            item.model_slug,
            item.connector_type,
            item.ws_url,
            item.ocpp_version,
            item.charge_point_name,
            item.authorization_key,
            item.tls(),
        )
    except NotFound as error:
        raise _as_bad_request(error) from None
    return await written_doc("charger", actor, written), written.created


async def update_charger(actor: Actor, key: str, item: UpdateChargerRequest) -> dict:
    charger_id = await charger_uuid(actor, key)
    location = await resolve_location(actor, item.location_id, item.location_name)
    changes = {
        "name": item.name or item.charge_point_name,
        "connector_type": item.connector_type,
        "ocpp_version": item.ocpp_version,
        "ws_url": item.ws_url,
        "authorization_key": item.authorization_key,
        **item.tls(),
    }
    try:
        written = await run(services().gateway.update_charger, actor, charger_id, changes, location)
    except NotFound as error:
        if error.kind == "location":
            raise _as_bad_request(error) from None
        raise
    return await written_doc("charger", actor, written)


async def delete_charger(actor: Actor, key: str) -> str:
    charger_id = await charger_uuid(actor, key)
    written = await run(services().gateway.delete_charger, actor, charger_id)
    await services().views.catch_up(written.position)
    return str(charger_id)


def failure_text(error: Exception) -> str:
    """One bulk item's failure, as the detail its single-item route would have answered."""
    if isinstance(error, HttpError):
        return error.detail
    if isinstance(error, DomainError):
        return domain_status(error)[1]
    raise error
