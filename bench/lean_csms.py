"""A lean OCPP 1.6J CSMS for the simulator benchmarks: plain `websockets`, answers written by hand.

It answers BootNotification (Accepted, with the current heartbeat interval), Heartbeat, StatusNotification,
Authorize and StartTransaction (Accepted, transaction ids counted up), MeterValues and StopTransaction (and any other
CALL) with a minimal valid CALLRESULT, without schema validation, so it costs far less than the charge points it
serves and is never the bottleneck. It counts what it sees per group (the identity up to its first "-":
"GW-000001" is in group "GW"), and answers plain HTTP on the same port for the benchmark:

  GET /_stats                       every group's counters as JSON
  GET /_interval?seconds=S          the interval later BootNotification answers carry
  GET /_push?group=G&seconds=S      sends ChangeConfiguration HeartbeatInterval=S to every open connection of G
  GET /_call?group=G&action=A&payload=JSON
                                    sends the CALL A with that payload to every open connection of G; the answers'
                                    statuses are counted per action ("answers": {"A:Accepted": n, ...})

Run: `python -m bench.lean_csms PORT [INTERVAL]`; SIGTERM stops it. Binds 127.0.0.1 only; no compression, no pings.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import signal
import ssl
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

HOST = "127.0.0.1"
BACKLOG = 4096  # a fleet connects all at once: asyncio's default backlog (100) would drop SYNs and add 1 s retries
PUSH_TIMEOUT = 10.0
CALL, CALL_RESULT, CALL_ERROR = 2, 3, 4


@dataclass
class Group:
    """Counters of one group of charge points."""

    connections: int = 0  # opened since start
    open: int = 0
    boots: int = 0
    heartbeats: int = 0
    statuses: int = 0
    other_calls: int = 0
    transactions: int = 0  # StartTransactions answered (Accepted)
    stops: int = 0
    meter_values: int = 0
    powers: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))  # Power.Active.Import samples
    answers: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))  # "action:status" of pushed calls
    results: int = 0  # CALLRESULTs received (answers to pushed calls)
    call_errors: int = 0
    bad_frames: int = 0
    frames: int = 0  # text frames received and sent, all kinds
    last_boot_at: float = 0.0  # time.time() of the latest BootNotification
    booted: set[str] = field(default_factory=set)
    heartbeated: set[str] = field(default_factory=set)
    sockets: set[ServerConnection] = field(default_factory=set)

    def snapshot(self) -> dict[str, Any]:
        return {
            "connections": self.connections,
            "open": self.open,
            "boots": self.boots,
            "heartbeats": self.heartbeats,
            "statuses": self.statuses,
            "other_calls": self.other_calls,
            "transactions": self.transactions,
            "stops": self.stops,
            "meter_values": self.meter_values,
            "powers": dict(self.powers),
            "answers": dict(self.answers),
            "results": self.results,
            "call_errors": self.call_errors,
            "bad_frames": self.bad_frames,
            "frames": self.frames,
            "last_boot_at": self.last_boot_at,
            "booted": len(self.booted),
            "heartbeated": len(self.heartbeated),
        }


class LeanCsms:
    def __init__(self, interval: int) -> None:
        self.interval = interval
        self.groups: defaultdict[str, Group] = defaultdict(Group)
        self._ids = itertools.count(1)
        self._transaction_ids = itertools.count(1)
        self._pushed: dict[str, str] = {}  # message id of a pushed call -> its action, until answered
        self._clock: tuple[int, str] = (0, "")

    def current_time(self) -> str:
        """OCPP's currentTime, formatted once per second."""
        second = int(time.time())
        if self._clock[0] != second:
            self._clock = (second, datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"))
        return self._clock[1]

    async def handle(self, websocket: ServerConnection) -> None:
        identity = urlsplit(websocket.request.path if websocket.request else "/").path.rstrip("/").rsplit("/", 1)[-1]
        group = self.groups[identity.split("-", 1)[0]]
        group.connections += 1
        group.open += 1
        group.sockets.add(websocket)
        try:
            async for raw in websocket:
                group.frames += 1
                answer = self.answer(group, identity, raw)
                if answer is not None:
                    await websocket.send(answer)
                    group.frames += 1
        except ConnectionClosed:
            pass
        finally:
            group.open -= 1
            group.sockets.discard(websocket)

    def answer(self, group: Group, identity: str, raw: str | bytes) -> str | None:
        try:
            message = json.loads(raw)
            kind, message_id = message[0], message[1]
        except (ValueError, TypeError, IndexError, KeyError):
            group.bad_frames += 1
            return None
        if kind == CALL_RESULT:
            group.results += 1
            payload = message[2] if len(message) > 2 and isinstance(message[2], dict) else {}
            group.answers[f"{self._pushed.pop(message_id, '?')}:{payload.get('status', '-')}"] += 1
            return None
        if kind != CALL:
            group.call_errors += kind == CALL_ERROR
            self._pushed.pop(message_id, None)
            return None
        action = message[2]
        quoted = json.dumps(message_id)
        if action == "Heartbeat":
            group.heartbeats += 1
            group.heartbeated.add(identity)
            return f'[3,{quoted},{{"currentTime":"{self.current_time()}"}}]'
        if action == "StatusNotification":
            group.statuses += 1
            return f"[3,{quoted},{{}}]"
        if action == "BootNotification":
            group.boots += 1
            group.booted.add(identity)
            group.last_boot_at = time.time()
            return (
                f'[3,{quoted},{{"status":"Accepted","currentTime":"{self.current_time()}","interval":{self.interval}}}]'
            )
        if action == "MeterValues":
            group.meter_values += 1
            self.count_powers(group, message[3])
            return f"[3,{quoted},{{}}]"
        if action == "Authorize":
            return f'[3,{quoted},{{"idTagInfo":{{"status":"Accepted"}}}}]'
        if action == "StartTransaction":
            group.transactions += 1
            transaction_id = next(self._transaction_ids)
            return f'[3,{quoted},{{"transactionId":{transaction_id},"idTagInfo":{{"status":"Accepted"}}}}]'
        if action == "StopTransaction":
            group.stops += 1
            return f"[3,{quoted},{{}}]"
        group.other_calls += 1
        return f"[3,{quoted},{{}}]"

    @staticmethod
    def count_powers(group: Group, payload: Any) -> None:
        """Counts the MeterValues' Power.Active.Import samples by value (what the meters delivered)."""
        try:
            for meter_value in payload["meterValue"]:
                for sampled in meter_value["sampledValue"]:
                    if sampled.get("measurand") == "Power.Active.Import":
                        group.powers[sampled["value"]] += 1
        except (KeyError, TypeError):
            group.bad_frames += 1

    async def push_interval(self, group: Group, seconds: int) -> int:
        """ChangeConfiguration HeartbeatInterval to every open connection of the group; returns how many got it."""
        return await self.push_call(group, "ChangeConfiguration", {"key": "HeartbeatInterval", "value": str(seconds)})

    async def push_call(self, group: Group, action: str, payload: dict[str, Any]) -> int:
        """The CALL to every open connection of the group; returns how many got it (answers count in `answers`)."""

        async def send(websocket: ServerConnection) -> bool:
            message_id = f"push-{next(self._ids)}"
            self._pushed[message_id] = action
            try:
                await websocket.send(json.dumps([CALL, message_id, action, payload]))
            except ConnectionClosed:
                self._pushed.pop(message_id, None)
                return False
            group.frames += 1
            return True

        async with asyncio.timeout(PUSH_TIMEOUT):
            sent = await asyncio.gather(*(send(websocket) for websocket in list(group.sockets)))
        return sum(sent)

    async def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        """The control routes (plain HTTP on the same port); anything else goes on to the websocket handshake."""
        url = urlsplit(request.path)
        if not url.path.startswith("/_"):
            return None
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        if url.path == "/_stats":
            body: Any = {name: group.snapshot() for name, group in self.groups.items()}
        elif url.path == "/_interval":
            self.interval = int(query["seconds"])
            body = {"interval": self.interval}
        elif url.path == "/_push":
            body = {"sent": await self.push_interval(self.groups[query["group"]], int(query["seconds"]))}
        elif url.path == "/_call":
            group = self.groups[query["group"]]
            body = {"sent": await self.push_call(group, query["action"], json.loads(query["payload"]))}
        else:
            return connection.respond(HTTPStatus.NOT_FOUND, "unknown control route\n")
        return connection.respond(HTTPStatus.OK, json.dumps(body))


def listen(csms: LeanCsms, port: int, context: ssl.SSLContext | None = None) -> serve:
    """One listener of the CSMS: plain, or TLS with `context` (the same handler and counters either way)."""
    return serve(
        csms.handle,
        HOST,
        port,
        subprotocols=[Subprotocol("ocpp1.6")],
        compression=None,
        ping_interval=None,
        close_timeout=1,
        process_request=csms.process_request,
        backlog=BACKLOG,
        ssl=context,
    )


async def run(
    port: int,
    interval: int,
    csms_class: type[LeanCsms] = LeanCsms,
    *,
    csms: LeanCsms | None = None,
    tls: tuple[int, ssl.SSLContext] | None = None,
) -> None:
    """Serves until SIGTERM/SIGINT on `port` (plain), and on a second port with TLS when `tls` is given."""
    csms = csms or csms_class(interval)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with contextlib.AsyncExitStack() as listeners:
        await listeners.enter_async_context(listen(csms, port))
        if tls is not None:
            await listeners.enter_async_context(listen(csms, *tls))
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(run(int(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 30))
