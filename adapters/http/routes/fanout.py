"""Location fan-out: one command per targeted charger, with partial success (LocationCommandResponse)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

from adapters.http.context import run, services
from adapters.http.errors import HttpError
from adapters.http.routes.charger_ops import failure_text
from adapters.http.routes.common import location_uuid, queued_body
from application.ports import Actor
from application.results import Queued

FANOUT_CONCURRENCY = 32


async def targets(who: Actor, location_id: str, charger_ids: list[str] | None) -> tuple[list[dict], list[dict]]:
    """The location's chargers a fan-out addresses: (chargers found, failures for ids not in the location)."""
    location = location_uuid(location_id)
    views = services().views
    if await views.location(who.tenant_id, str(location)) is None:
        raise HttpError(404, "Location not found")
    if charger_ids is not None and not charger_ids:
        raise HttpError(400, "charger_ids is empty: omit it to address every charger of the location")
    found = (await views.chargers(who.tenant_id, 1, 10**6, str(location), charger_ids)).rows
    if charger_ids is None and not found:
        raise HttpError(400, "the location has no chargers")
    failures = []
    if charger_ids is not None:
        known = {key for doc in found for key in (doc["id"], doc["identity"])}
        failures = [
            {"identity": None, "error": "charger not in location"}
            for key in dict.fromkeys(charger_ids)
            if key not in known
        ]
    return found, failures


async def fan_out(
    who: Actor, location_id: str, charger_ids: list[str] | None, send: Callable[[dict], Awaitable[dict]]
) -> dict[str, Any]:
    """Queues one command per charger concurrently; each charger succeeds or fails on its own."""
    chargers, failed = await targets(who, location_id, charger_ids)
    gate = asyncio.Semaphore(FANOUT_CONCURRENCY)

    async def one(doc: dict) -> tuple[dict, dict | None, str | None]:
        async with gate:
            try:
                return doc, await send(doc), None
            except Exception as error:  # noqa: BLE001 - failure_text re-raises what is not a per-charger failure
                return doc, None, failure_text(error)

    return summary(chargers, failed, await asyncio.gather(*(one(doc) for doc in chargers)))


def summary(
    chargers: list[dict], failed: list[dict], outcomes: list[tuple[dict, dict | None, str | None]]
) -> dict[str, Any]:
    """LocationCommandResponse: each charger's command, or why it failed (ids not in the location count too)."""
    results = []
    for doc, command, error in outcomes:
        if command is not None:
            results.append({"charger_id": doc["id"], "identity": doc["identity"], "command": command})
        else:
            failed.append({"identity": doc["identity"], "error": error})
    return {
        "targeted_count": len(chargers) + sum(1 for f in failed if f["identity"] is None),
        "queued_count": len(results),
        "failed_count": len(failed),
        "results": results,
        "failed": failed,
    }


def charger_uuid_of(doc: dict) -> UUID:
    return UUID(doc["id"])


async def fan_out_commands(
    who: Actor, location_id: str, charger_ids: list[str] | None, kind: str, fields: dict[str, Any]
) -> dict[str, Any]:
    """One command per targeted charger, all written in one transaction; each charger accepts or refuses alone."""
    chargers, failed = await targets(who, location_id, charger_ids)
    ids = [UUID(doc["id"]) for doc in chargers]
    outcomes = await run(services().gateway.request_commands, who, ids, kind, fields)
    positions = [outcome.position for outcome in outcomes.values() if isinstance(outcome, Queued)]
    if positions:
        await services().views.catch_up(max(positions))
    return summary(
        chargers,
        failed,
        [
            (doc, queued_body(outcome), None) if isinstance(outcome, Queued) else (doc, None, failure_text(outcome))
            for doc, outcome in ((doc, outcomes[UUID(doc["id"])]) for doc in chargers)
        ],
    )
