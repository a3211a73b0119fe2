"""The live stream (our additive route): server-sent events of a tenant's fleet, fed by the views' follower.

`GET /stream` answers `text/event-stream`: a snapshot (or, with `Last-Event-ID`, what changed since that
notification id), then coalesced updates as the views fold new events. Scripts authenticate with the bearer
header; a browser's EventSource cannot, so it trades the token for a short-lived ticket first
(`POST /stream/tickets`). See docs/stream.md for the events and their fields.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field
from quart import Blueprint, Response, g, request

from adapters.http.auth import UNAUTHORIZED, actor, principal
from adapters.http.context import Services, services
from adapters.http.errors import HttpError
from adapters.http.routes.common import served_charger
from adapters.http.validation import query, responds
from adapters.store import live_reads
from adapters.store.live import Changes
from adapters.store.views import Views
from adapters.stream_tickets import InvalidTicket
from application.ports import Actor

bp = Blueprint("stream", __name__)

COALESCE_SECONDS = 0.1  # after a change, gather what follows it for this long: one update per resource
KEEPALIVE_SECONDS = 15.0  # a comment line keeps proxies from closing an idle stream
RETRY_MS = 2000


class StreamTicketResponse(BaseModel):
    """A ticket for `GET /stream?ticket=...`, valid for one tenant until `expires_at` (epoch seconds)."""

    ticket: str
    expires_at: int
    expires_in: int


class StreamQuery(BaseModel):
    charger_id: str | None = Field(None, description="watch this charger (id or identity): its frames and commands")
    ticket: str | None = Field(None, description="a ticket from POST /stream/tickets, instead of the bearer header")
    last_event_id: int | None = Field(None, ge=0, description="resume after this id (as the Last-Event-ID header)")


@bp.post("/stream/tickets")
@responds(StreamTicketResponse, 201, errors=(401, 403, 404))
async def issue_ticket() -> tuple[dict, int]:
    """Trades the bearer token (and X-Organization-Id for admin tokens) for a ticket to open the stream with."""
    who = await actor()
    tickets = services().tickets
    ticket, expires_at = tickets.issue(who, principal().expires_at)
    return {"ticket": ticket, "expires_at": expires_at, "expires_in": tickets.ttl}, 201


@bp.get("/stream")
@query(StreamQuery)
@responds(None, errors=(401, 403, 404, 422))
async def stream(query: StreamQuery) -> Response:
    """Server-sent events of the tenant's locations, chargers, meter readings, and a watched charger's frames."""
    who, ends_at = await _stream_actor(query.ticket)
    watched = (await served_charger(who, query.charger_id))["id"] if query.charger_id else None
    last = _last_event_id(query.last_event_id)
    response = Response(
        _events(services(), who, watched, last, ends_at),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
    response.timeout = None  # a stream lasts as long as its client stays
    return response


@dataclass
class SentFrames:
    """The last frame sequence a stream sent: a frame both read back and queued live (they overlap while the
    stream starts) goes out once, in order."""

    sequence: int = 0

    def after(self, frames: list[dict]) -> list[dict]:
        fresh = [frame for frame in frames if frame["sequence"] > self.sequence]
        if fresh:
            self.sequence = fresh[-1]["sequence"]
        return fresh


async def _stream_actor(ticket: str | None) -> tuple[Actor, int | None]:
    """Who watches, and when the token they authenticated with expires (the stream ends then)."""
    if ticket is None or "Authorization" in request.headers:
        return await actor(), principal().expires_at
    try:
        found = services().tickets.verify(ticket)
    except InvalidTicket as error:
        raise HttpError(401, str(error), UNAUTHORIZED) from None
    who = Actor(sub=found.sub, role=found.role, tenant_id=found.tenant_id, request_id=g.request_id)
    return who, found.token_expires_at


def _last_event_id(from_query: int | None) -> int | None:
    header = request.headers.get("Last-Event-ID", "").strip()
    return int(header) if re.fullmatch(r"[0-9]{1,18}", header) else from_query


async def _events(
    svc: Services, who: Actor, watched: str | None, last: int | None, ends_at: int | None
) -> AsyncIterator[bytes]:
    """The stream's body; it runs outside the request's context, so it is handed the services."""
    feed, views = svc.feed, svc.views
    subscription = feed.subscribe(who.tenant_id, watched)  # before reading: nothing falls between the two
    sent = SentFrames()
    try:
        position = views.position
        resumed = last is not None and 0 < last <= position
        yield f"retry: {RETRY_MS}\n\n".encode()
        yield _message("hello", {"tenant_id": who.tenant_id, "charger_id": watched, "resumed": resumed})
        if resumed:
            assert last is not None
            changes, first_frame = await live_reads.changed_since(views, who.tenant_id, last, watched)
            for chunk in await _render(views, who.tenant_id, watched, sent, changes, first_frame, resumed=True):
                yield chunk
            position = max(position, changes.position)
        else:
            async for chunk in _snapshot(views, who.tenant_id, watched, sent):
                yield chunk
        yield _message("ready", {"position": position}, position)
        while not feed.closed:
            left = KEEPALIVE_SECONDS if ends_at is None else min(KEEPALIVE_SECONDS, ends_at - time.time())
            if left <= 0:
                yield _message("expired", {"detail": "the token expired: authenticate again"})
                break
            try:
                await asyncio.wait_for(subscription.ready.wait(), left)
            except TimeoutError:
                yield b": keepalive\n\n"
                continue
            if feed.closed:
                break
            await asyncio.sleep(COALESCE_SECONDS)
            changes = subscription.take()
            if changes:
                for chunk in await _render(views, who.tenant_id, watched, sent, changes):
                    yield chunk
    finally:
        feed.unsubscribe(subscription)


async def _snapshot(views: Views, tenant_id: str, watched: str | None, sent: SentFrames) -> AsyncIterator[bytes]:
    charging: list[dict] = []
    async for kind, docs in live_reads.snapshot(views, tenant_id):
        yield _message(kind, {kind: docs})
        if kind == "chargers":
            charging += docs
    readings = await live_reads.meters(views, tenant_id, charging)
    if readings:
        yield _message("meters", {"meters": readings})
    if watched:
        yield _message("commands", {"commands": await live_reads.recent_commands(views, tenant_id, watched)})
        frames = sent.after(await live_reads.frames(views, tenant_id, watched))
        yield _message("frames", {"charger_id": watched, "frames": frames, "dropped": 0})


async def _render(
    views: Views,
    tenant_id: str,
    watched: str | None,
    sent: SentFrames,
    changes: Changes,
    first_frame: int | None = None,
    resumed: bool = False,
) -> list[bytes]:
    """One flush: the current documents of what changed, the last message carrying the position as its id."""
    parts: list[tuple[str, dict[str, Any]]] = []
    removed: dict[str, list[str]] = {}
    if changes.locations:
        docs, gone = await live_reads.locations(views, tenant_id, changes.locations)
        if docs:
            parts.append(("locations", {"locations": docs}))
        if gone:
            removed["locations"] = gone
    if changes.chargers or changes.runtimes:
        docs, gone = await live_reads.chargers(views, tenant_id, changes)
        for start in range(0, len(docs), live_reads.CHUNK):
            parts.append(("chargers", {"chargers": docs[start : start + live_reads.CHUNK]}))
        if gone:
            removed["chargers"] = gone
        if resumed:
            for reading in await live_reads.meters(views, tenant_id, docs):
                changes.meters[(reading["charger_id"], reading["evse_id"], reading["connector_id"])] = reading
    if removed:
        parts.append(("removed", removed))
    if changes.meters:
        parts.append(("meters", {"meters": list(changes.meters.values())}))
    if watched and changes.commands:
        docs = await live_reads.commands(views, tenant_id, watched, changes.commands)
        if docs:
            parts.append(("commands", {"commands": docs}))
    frames: list[dict] = []
    if watched and (changes.frames or first_frame is not None):
        frames = changes.frames
        if first_frame is not None:  # resuming: the watched charger's frames from the first one missed
            frames = await live_reads.frames(views, tenant_id, watched, first_frame)
        frames = sent.after(frames)
    if watched and frames:
        parts.append(("frames", {"charger_id": watched, "frames": frames, "dropped": changes.frames_dropped}))
    if not parts:
        return []
    last = len(parts) - 1
    return [_message(kind, data, changes.position if i == last else None) for i, (kind, data) in enumerate(parts)]


def _message(event: str, data: dict[str, Any], event_id: int | None = None) -> bytes:
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()
