"""GET /stream as a script reads it (docs/stream.md): authenticated by the bearer header or a stream ticket, scoped
to one tenant, a snapshot then live updates, and resumed from Last-Event-ID with only what changed since."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import httpx

from adapters.csms.server import CsmsServer
from tests.e2e.commands import TAG, command
from tests.e2e.conftest import WAIT, Api, Deployment, boot
from tests.support import token


@dataclass
class Message:
    event: str
    data: dict[str, Any]
    id: int | None


class Events:
    """The messages of one open stream, parsed as an EventSource would."""

    def __init__(self, response: httpx.Response) -> None:
        self._lines = response.aiter_lines()

    async def next(self) -> Message:
        event, data, ident = "message", "", None
        async for line in self._lines:
            if not line:
                if data:
                    return Message(event, json.loads(data), ident)
                continue
            field, _, value = line.partition(": ")
            if field == "event":
                event = value
            elif field == "data":
                data += value
            elif field == "id":
                ident = int(value)
        raise AssertionError("the stream ended")

    async def until(self, event: str, where: Any = None, timeout: float = WAIT) -> tuple[Message, list[Message]]:
        """Reads until a message of `event` (matching `where(data)`); it and every message before it."""
        seen: list[Message] = []

        async def read() -> Message:
            while True:
                message = await self.next()
                seen.append(message)
                if message.event == event and (where is None or where(message.data)):
                    return message

        return await asyncio.wait_for(read(), timeout), seen


@asynccontextmanager
async def opened(api: Api, **params: Any) -> AsyncIterator[Events]:
    headers = {"Last-Event-ID": str(params.pop("last_event_id"))} if "last_event_id" in params else {}
    async with api.http.stream("GET", "/stream", params=params, headers=headers) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        yield Events(response)


def identities(messages: list[Message]) -> set[str]:
    return {doc["identity"] for m in messages if m.event == "chargers" for doc in m.data["chargers"]}


async def test_the_stream_needs_a_token_or_a_valid_ticket(shared_gateway: Deployment):
    async with httpx.AsyncClient(base_url=shared_gateway.base_url) as http:
        assert (await http.get("/stream")).status_code == 401
        assert (await http.get("/stream", params={"ticket": "forged.ticket"})).status_code == 401
        assert (await http.post("/stream/tickets")).status_code == 401


async def test_a_ticket_opens_its_tenants_stream_and_no_other(api: Api, csms: CsmsServer, shared_gateway: Deployment):
    charger = await boot(api, csms)
    answer = await api.http.post("/stream/tickets")
    assert answer.status_code == 201 and answer.json()["expires_in"] == 60
    ticket = answer.json()["ticket"]
    async with (
        httpx.AsyncClient(base_url=shared_gateway.base_url, timeout=WAIT) as http,
        http.stream("GET", "/stream", params={"ticket": ticket}) as response,
    ):
        _, seen = await Events(response).until("ready")
    assert seen[0].data["tenant_id"] == api.org and identities(seen) == {charger.identity}
    other = Api(shared_gateway.base_url)
    try:
        async with opened(other) as events:
            _, seen = await events.until("ready")
        assert identities(seen) == set()
        assert (await other.http.get("/stream", params={"charger_id": charger.id})).status_code == 404
    finally:
        await other.aclose()


async def test_a_session_started_over_rest_reaches_the_stream_live(api: Api, csms: CsmsServer):
    charger = await boot(api, csms)
    async with opened(api) as events:
        await events.until("ready")
        await command(api, charger.id, "start-session", {"id_tag": TAG})

        def charging(data: dict) -> bool:
            return any(c["status"] == "Charging" for doc in data["chargers"] for c in doc["connectors"])

        message, _ = await events.until("chargers", charging)
    assert message.id is not None


async def test_a_resumed_stream_sends_only_what_changed_since_the_last_id(api: Api, csms: CsmsServer):
    quiet, busy = await boot(api, csms), await boot(api, csms)
    for charger in (quiet, busy):  # the boot's observations are folded before the id is taken
        await api.wait_charger(charger.id, lambda d: [c["status"] for c in d["connectors"]][-1:] == ["Available"])
    async with opened(api) as events:
        ready, _ = await events.until("ready")
    await api.lifecycle(busy.id, "stop-charger")
    await api.wait_runtime(busy.id, "stopped")
    async with opened(api, last_event_id=ready.id) as events:
        resumed, seen = await events.until("ready")
    assert seen[0].data["resumed"] is True
    assert identities(seen) == {busy.identity}, "only the charger that changed since the last id"
    assert quiet.identity not in identities(seen)
    assert resumed.id > ready.id


async def test_a_watched_charger_streams_its_frames_and_commands(api: Api, csms: CsmsServer):
    charger = await boot(api, csms)  # 1 s heartbeats
    async with opened(api, charger_id=charger.identity) as events:
        _, snapshot = await events.until("ready")  # the frames recorded so far (frames are flushed in batches)
        message, live = await events.until("frames", lambda d: any(f["action"] == "Heartbeat" for f in d["frames"]))
        frames = [f for m in snapshot + live if m.event == "frames" for f in m.data["frames"]]
        assert frames[0]["action"] == "BootNotification", "from the first frame on, none missing"
        assert [f["sequence"] for f in frames] == list(range(1, len(frames) + 1))
        assert message.data["charger_id"] == charger.id
        queued = await command(api, charger.id, "plug-connector", {"connector_id": 1})
        await events.until("commands", lambda d: any(c["id"] == queued["id"] for c in d["commands"]))


async def test_a_stream_ends_when_its_token_expires(shared_gateway: Deployment):
    headers = {"Authorization": f"Bearer {token(f'org-{uuid4().hex[:8]}', ttl=2)}"}
    async with (
        httpx.AsyncClient(base_url=shared_gateway.base_url, headers=headers, timeout=WAIT) as http,
        http.stream("GET", "/stream") as response,
    ):
        events = Events(response)
        await events.until("ready")
        expired, _ = await events.until("expired", timeout=5)
    assert "expired" in expired.data["detail"]
