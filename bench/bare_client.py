"""The simulator's baseline: a plain `websockets` client process, no compression, no pings, no ocpp library.

Two ways to use it, both against the lean CSMS:
- idle connections (memory): `open N` on stdin opens connections until N are open and answers `ok N` on stdout;
  nothing runs per connection beyond what websockets itself keeps.
- bare charge points (boot time, idle CPU, heartbeats): `--boot N` at start connects N identities at once, each
  sending BootNotification, two StatusNotifications, then a Heartbeat every interval (the boot answer's, changed by
  a ChangeConfiguration HeartbeatInterval from the CSMS, which it answers). Frames are written by hand.

Run: `python -m bench.bare_client URL PREFIX [--boot N] [--ca PEM_FILE] [--key KEY]`; prints `ready` once started;
`quit` (or EOF, or SIGTERM) ends it. Every wait is bounded. For a wss:// URL, `--ca` is the CA that verifies the
CSMS (one SSLContext for every connection, as the simulator shares one); `--key` sends HTTP Basic credentials
`identity:KEY` (security profiles 1 and 2, the TLS benchmark).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import itertools
import json
import ssl
import sys
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

OPEN_CONCURRENCY = 200  # idle connections opened at a time
OPEN_TIMEOUT = 30.0
CALL_TIMEOUT = 30.0
CLOSE_TIMEOUT = 10.0
BOOT = {
    "chargePointVendor": "Bench",
    "chargePointModel": "BareClient",
    "chargePointSerialNumber": "0",
    "firmwareVersion": "1.0.0",
}


@dataclass(frozen=True)
class Security:
    """What every connection of the client presents: a TLS context (wss://) and an HTTP Basic password."""

    context: ssl.SSLContext | None = None
    key: str | None = None

    def headers(self, identity: str) -> dict[str, str]:
        if not self.key:
            return {}
        return {"Authorization": "Basic " + base64.b64encode(f"{identity}:{self.key}".encode()).decode()}


async def open_connection(url: str, identity: str, security: Security) -> ClientConnection:
    return await connect(
        f"{url}/{identity}",
        additional_headers=security.headers(identity),
        ssl=security.context,
        subprotocols=[Subprotocol("ocpp1.6")],
        compression=None,
        ping_interval=None,
        open_timeout=OPEN_TIMEOUT,
        close_timeout=2,
        proxy=None,
    )


class BareChargePoint:
    """One OCPP 1.6J charge point reduced to boot, status and heartbeat."""

    def __init__(self, websocket: ClientConnection, identity: str) -> None:
        self.websocket = websocket
        self.identity = identity
        self.interval = 60
        self.changed = asyncio.Event()
        self.pending: dict[str, asyncio.Future[Any]] = {}
        self.ids = itertools.count(1)

    async def call(self, action: str, payload: dict[str, Any]) -> Any:
        message_id = str(next(self.ids))
        answer = asyncio.get_running_loop().create_future()
        self.pending[message_id] = answer
        try:
            await self.websocket.send(json.dumps([2, message_id, action, payload], separators=(",", ":")))
            return await asyncio.wait_for(answer, CALL_TIMEOUT)
        finally:
            self.pending.pop(message_id, None)

    async def receive(self) -> None:
        async for raw in self.websocket:
            message = json.loads(raw)
            if message[0] == 3:
                answer = self.pending.get(str(message[1]))
                if answer is not None and not answer.done():
                    answer.set_result(message[2])
            elif message[0] == 2 and message[2] == "ChangeConfiguration":
                key, value = message[3].get("key"), message[3].get("value")
                await self.websocket.send(json.dumps([3, message[1], {"status": "Accepted"}]))
                if key == "HeartbeatInterval":
                    self.interval = int(value)
                    self.changed.set()
            elif message[0] == 2:
                await self.websocket.send(json.dumps([4, message[1], "NotImplemented", "", {}]))

    async def work(self) -> None:
        answer = await self.call("BootNotification", {**BOOT, "chargePointSerialNumber": self.identity[:25]})
        self.interval = int(answer.get("interval") or 60)
        for connector in (0, 1):
            status = {"connectorId": connector, "errorCode": "NoError", "status": "Available"}
            await self.call("StatusNotification", status)
        while True:
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), max(1, self.interval))
                continue
            await self.call("Heartbeat", {})

    async def run(self) -> None:
        receiving = asyncio.create_task(self.receive())
        working = asyncio.create_task(self.work())
        try:
            await asyncio.wait({receiving, working}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (receiving, working):
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed, TimeoutError):
                await asyncio.gather(receiving, working)


class BareClient:
    def __init__(self, url: str, prefix: str, security: Security) -> None:
        self.url = url.rstrip("/")
        self.prefix = prefix
        self.security = security
        self.connections: list[ClientConnection] = []
        self.tasks: set[asyncio.Task[None]] = set()
        self.failures = 0

    def identity(self, index: int) -> str:
        return f"{self.prefix}-{index:06d}"

    async def open(self, total: int) -> int:
        """Opens idle connections until `total` are open (OPEN_CONCURRENCY at a time)."""
        gate = asyncio.Semaphore(OPEN_CONCURRENCY)

        async def one(index: int) -> None:
            async with gate:
                try:
                    self.connections.append(await open_connection(self.url, self.identity(index), self.security))
                except (OSError, TimeoutError, ConnectionClosed) as error:
                    self.failures += 1
                    print(f"cannot connect {self.identity(index)}: {error!r}", file=sys.stderr)

        await asyncio.gather(*(one(index) for index in range(len(self.connections), total)))
        return len(self.connections)

    async def boot(self, count: int) -> None:
        """Connects `count` charge points at once; each boots as soon as it is connected."""

        async def one(index: int) -> None:
            identity = self.identity(index)
            try:
                websocket = await open_connection(self.url, identity, self.security)
            except (OSError, TimeoutError, ConnectionClosed) as error:
                self.failures += 1
                print(f"cannot connect {identity}: {error!r}", file=sys.stderr)
                return
            self.connections.append(websocket)
            await BareChargePoint(websocket, identity).run()

        for index in range(count):
            task = asyncio.create_task(one(index))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await asyncio.gather(*(ws.close() for ws in self.connections), return_exceptions=True)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("prefix")
    parser.add_argument("--boot", type=int, default=0)
    parser.add_argument("--ca", help="PEM file of the CA that verifies a wss:// CSMS")
    parser.add_argument("--key", help="HTTP Basic password")
    args = parser.parse_args()
    context = ssl.create_default_context(cafile=args.ca) if args.url.startswith("wss://") else None
    client = BareClient(args.url, args.prefix, Security(context, args.key))
    if args.boot:
        await client.boot(args.boot)
    print("ready", flush=True)
    try:
        while True:
            line = (await asyncio.to_thread(sys.stdin.readline)).split()
            if not line or line[0] == "quit":
                break
            if line[0] == "open":
                opened = await client.open(int(line[1]))
                print(f"ok {opened} failures {client.failures}", flush=True)
            else:
                print(f"error unknown command {line[0]}", flush=True)
    finally:
        await client.close()


if __name__ == "__main__":
    asyncio.run(main())
