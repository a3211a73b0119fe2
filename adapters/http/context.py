"""What the routes reach for: the services of this process and the actor of this request."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from quart import current_app

from adapters.catalog.loader import JsonCatalog
from adapters.store.live import LiveFeed
from adapters.store.views import Views
from adapters.stream_tickets import StreamTickets
from adapters.tokens import TokenVerifier
from application.gateway import Gateway
from simulator.fleet import Fleet

T = TypeVar("T")


@dataclass
class Services:
    gateway: Gateway
    views: Views
    catalog: JsonCatalog
    verifier: TokenVerifier
    version: str
    fleet: Fleet | None = None  # the in-process simulator of `serve`; None for `api`
    feed: LiveFeed = field(default_factory=LiveFeed)  # what the views fold, for the live stream
    tickets: StreamTickets = field(default_factory=StreamTickets)  # a random key unless the composition root sets one


def services() -> Services:
    return current_app.extensions["ocpplab"]


async def run(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Runs a blocking use case (the event store has no asyncio API) in a worker thread."""
    return await asyncio.to_thread(func, *args, **kwargs)
