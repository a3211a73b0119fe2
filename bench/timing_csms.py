"""The lean CSMS (bench/lean_csms.py) that also notes when each charge point's CALLs arrive, for the command
latency benchmark (bench/commands.py).

Everything the lean CSMS does, plus:
- every CALL other than BootNotification and Heartbeat is noted per identity with its arrival time (`time.time()`
  right after `websockets` hands the frame over, before it is parsed; the last KEEP per identity)
- Authorize is answered with idTagInfo Accepted (the lean CSMS's empty answer would fail the charge point's schema
  check of the CALLRESULT; the arrival is noted before any answer anyway)

  GET /_arrivals?group=G&since=T    {identity: [arrival time, action]} of each identity's first noted CALL at or
                                    after T (time.time() seconds), for the identities of group G that have one

Run: `python -m bench.timing_csms PORT [INTERVAL]`; SIGTERM stops it. Binds 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import defaultdict, deque
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from bench.lean_csms import CALL, Group, LeanCsms, run

KEEP = 16  # noted CALLs kept per identity
UNNOTED = frozenset({"BootNotification", "Heartbeat"})


class TimingCsms(LeanCsms):
    def __init__(self, interval: int) -> None:
        super().__init__(interval)
        self.arrivals: defaultdict[str, defaultdict[str, deque[tuple[float, str]]]] = defaultdict(
            lambda: defaultdict(lambda: deque(maxlen=KEEP))
        )

    async def handle(self, websocket: ServerConnection) -> None:
        """As the lean CSMS's, with the arrival time taken before anything else is done with the frame."""
        path = websocket.request.path if websocket.request else "/"
        identity = urlsplit(path).path.rstrip("/").rsplit("/", 1)[-1]
        prefix = identity.split("-", 1)[0]
        group, noted = self.groups[prefix], self.arrivals[prefix][identity]
        group.connections += 1
        group.open += 1
        group.sockets.add(websocket)
        try:
            async for raw in websocket:
                arrived = time.time()
                group.frames += 1
                answer = self.answer_noting(group, identity, raw, arrived, noted)
                if answer is not None:
                    await websocket.send(answer)
                    group.frames += 1
        except ConnectionClosed:
            pass
        finally:
            group.open -= 1
            group.sockets.discard(websocket)

    def answer_noting(
        self, group: Group, identity: str, raw: str | bytes, arrived: float, noted: deque[tuple[float, str]]
    ) -> str | None:
        try:
            message = json.loads(raw)
            kind, action = message[0], message[2] if message[0] == CALL else None
        except (ValueError, TypeError, IndexError, KeyError):
            return self.answer(group, identity, raw)  # counted as bad there
        if kind == CALL and action not in UNNOTED:
            noted.append((arrived, str(action)))
            if action == "Authorize":
                group.other_calls += 1
                return f'[3,{json.dumps(message[1])},{{"idTagInfo":{{"status":"Accepted"}}}}]'
        return self.answer(group, identity, raw)

    def first_arrivals(self, prefix: str, since: float) -> dict[str, list[Any]]:
        found: dict[str, list[Any]] = {}
        for identity, noted in self.arrivals.get(prefix, {}).items():
            for arrived, action in noted:
                if arrived >= since:
                    found[identity] = [arrived, action]
                    break
        return found

    async def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        if url.path != "/_arrivals":
            return await super().process_request(connection, request)
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        body = self.first_arrivals(query["group"], float(query.get("since", "0")))
        return connection.respond(HTTPStatus.OK, json.dumps(body))


if __name__ == "__main__":
    asyncio.run(run(int(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 30, TimingCsms))
