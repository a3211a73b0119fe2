"""The auditors' routes: the event history of a tenant or of one aggregate, and state as of a past moment."""

from __future__ import annotations

from datetime import UTC, datetime

from quart import Blueprint

from adapters.http.auth import actor
from adapters.http.context import run, services
from adapters.http.errors import HttpError
from adapters.http.models.audit import EventPage, EventQuery
from adapters.http.routes.common import charger_uuid, location_uuid
from adapters.http.validation import query, responds
from adapters.store.projections import fold_charger, fold_location, iso, present_charger
from application.ports import Actor
from domain.charger import Charger
from domain.location import Location

bp = Blueprint("audit", __name__)


def utc(moment: datetime | None) -> str | None:
    """A query moment (already in UTC, see the models) as the views store it."""
    return None if moment is None else iso(moment)


@bp.get("/events")
@query(EventQuery)
@responds(EventPage, errors=(401, 403, 422))
async def list_events(query: EventQuery) -> dict:
    """The tenant's events in log order; page with `after` = the previous page's `next_after`."""
    who = await actor()
    records = await services().views.events(
        who.tenant_id, query.after, query.limit, query.type, query.aggregate_id, utc(query.since), utc(query.until)
    )
    return {"data": records, "next_after": records[-1]["position"] if len(records) == query.limit else None}


async def _history(who: Actor, aggregate_id: str) -> dict:
    records = await services().views.events(who.tenant_id, 0, 100_000, aggregate_id=aggregate_id)
    return {"data": records, "next_after": None}


@bp.get("/chargers/<charger_id>/history")
@responds(EventPage, errors=(401, 403, 404))
async def charger_history(charger_id: str) -> dict:
    """Every event of the charger (desired state), deleted chargers included."""
    who = await actor()
    key = await charger_uuid(who, charger_id)
    await run(services().gateway.history, who, key, Charger)  # 404 unless one of the tenant's chargers
    return await _history(who, str(key))


@bp.get("/locations/<location_id>/history")
@responds(EventPage, errors=(401, 403, 404))
async def location_history(location_id: str) -> dict:
    who = await actor()
    key = location_uuid(location_id)
    await run(services().gateway.history, who, key, Location)
    return await _history(who, str(key))


async def state_as_of(who: Actor, kind: type, aggregate_id: object, moment: datetime) -> dict:
    """The resource as it was at `moment`: its own events up to then, folded like the live view."""
    events = await run(services().gateway.history, who, aggregate_id, kind)
    fold = fold_location if kind is Location else fold_charger
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    doc = None
    for event in events:
        if event.timestamp > moment:
            break
        doc = fold(doc, event)
    if doc is None:
        raise HttpError(404, f"{kind.__name__} not found at {iso(moment)}")
    return doc if kind is Location else present_charger(doc)
