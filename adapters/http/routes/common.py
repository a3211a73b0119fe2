"""Small helpers shared by the resource routes: path ids, pages, read-your-writes."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from adapters.http.context import run, services
from adapters.http.errors import HttpError
from adapters.store.views import Page
from application.ports import Actor
from application.results import Queued, Written


def page_body(found: Page, page: int, limit: int) -> dict:
    return {"data": found.rows, "total": found.total, "page": page, "limit": limit}


def parse_uuid(value: str) -> UUID | None:
    try:
        return UUID(value)
    except ValueError:
        return None


def location_uuid(location_id: str) -> UUID:
    """A path location id; anything that is not one of ours is simply not found."""
    parsed = parse_uuid(location_id)
    if parsed is None:
        raise HttpError(404, "Location not found")
    return parsed


async def charger_uuid(actor: Actor, key: str) -> UUID:
    """A path charger key: the charger id, or else its identity (resolved in the event store)."""
    parsed = parse_uuid(key)
    if parsed is not None:
        return parsed
    found = await run(services().gateway.charger_id_for_identity, actor, key)
    if found is None:
        raise HttpError(404, "Charger not found")
    return found


async def written_doc(kind: str, actor: Actor, written: Written) -> dict:
    """The view row of what was just written (read-your-writes: the view first reaches the write)."""
    views = services().views
    await views.catch_up(written.position)
    lookup = views.location if kind == "location" else views.charger
    doc = await lookup(actor.tenant_id, str(written.id))
    if doc is None:
        raise HttpError(404, f"{kind.capitalize()} not found")
    return doc


async def served_charger(actor: Actor, key: str) -> dict:
    """The charger the API serves for an id or identity of the actor's tenant; 404 when there is none."""
    doc = await services().views.charger(actor.tenant_id, key)
    if doc is None:
        raise HttpError(404, "Charger not found")
    return doc


def queued_body(queued: Queued) -> dict[str, Any]:
    command = queued.command
    return {
        "id": str(command.id),
        "event_type": command.kind,
        "ocpp_version": command.ocpp_version,
        "payload": command.payload,
        "status": command.status,
        "charger_id": str(command.charger_id),
    }
