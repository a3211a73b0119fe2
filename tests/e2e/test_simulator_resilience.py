"""Connections that fail or drop: backoff, refused handshakes, a CSMS that closes, commands that wait, hard crashes."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import signal
import time
from collections.abc import Callable

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from adapters.csms.server import CsmsServer, Verdicts
from tests.e2e.conftest import (
    AC,
    DC,
    RECONNECT,
    Api,
    CsmsFactory,
    Deployment,
    DeploymentFactory,
    boot,
    frames_of,
    never,
    reported_connectors,
)
from tests.support import free_port


async def test_a_connection_the_csms_drops_is_reconnected_after_a_backoff_and_boots_again(
    api: Api, csms: CsmsServer, version: str
) -> None:
    charger = await boot(api, csms, version, AC)
    await csms.disconnect(charger.identity, code=1011)
    dropped_at = time.monotonic()

    await csms.wait_connected(charger.identity, count=2, timeout=RECONNECT)
    assert time.monotonic() - dropped_at >= 0.7  # 1 s +-20 %, not a hot loop
    await csms.wait_for(charger.identity, "BootNotification", count=2)
    await csms.wait_for(charger.identity, "StatusNotification", count=2 * reported_connectors(version, AC))
    await api.wait_charger(
        charger.id, lambda doc: doc["runtime_status"] == "booted" and doc["connected_at"] is not None
    )


async def test_refused_connects_are_retried_with_a_backoff_that_starts_at_1_s_and_doubles(
    api: Api, version: str
) -> None:
    refused_at: list[float] = []
    csms = CsmsServer(
        verdicts=Verdicts(accept_identities=set()),  # nobody may connect: 404 at the handshake
        log=lambda line: refused_at.append(time.monotonic()) if " refused: HTTP 404" in line else None,
    )
    await csms.start()
    try:
        charger = await api.create_charger(csms.url(), version, AC)
        deadline = time.monotonic() + 6
        while len(refused_at) < 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert len(refused_at) >= 3, refused_at
        first, second = [b - a for a, b in itertools.pairwise(refused_at[:3])]
        assert 0.75 <= first <= 1.3, refused_at
        assert 1.55 <= second <= 2.6, refused_at
        assert (await api.charger(charger.id))["runtime_status"] == "connecting"
        assert csms.connection_count(charger.identity) == 0
    finally:
        await csms.stop()


async def test_a_csms_that_answers_without_the_ocpp_subprotocol_is_a_failed_connect(api: Api, version: str) -> None:
    connections: list[ServerConnection] = []
    received: list[str | bytes] = []

    async def handler(websocket: ServerConnection) -> None:
        connections.append(websocket)
        with contextlib.suppress(ConnectionClosed):
            async for message in websocket:
                received.append(message)

    async with serve(handler, "127.0.0.1", 0, close_timeout=1) as server:  # negotiates no subprotocol
        port = server.sockets[0].getsockname()[1]
        charger = await api.create_charger(f"ws://127.0.0.1:{port}/ocpp", version, AC)
        deadline = time.monotonic() + 4
        while len(connections) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert len(connections) >= 2  # the charger gave up on the first and tried again after a backoff
        assert received == []  # never a BootNotification over a connection without the OCPP subprotocol
        assert connections[0].close_code == 1002
        assert (await api.charger(charger.id))["runtime_status"] == "connecting"
        await api.delete_charger(charger.id)


async def test_stopping_a_charger_that_cannot_connect_ends_its_retries(
    api: Api, csms_factory: CsmsFactory, version: str
) -> None:
    port = free_port()
    charger = await api.create_charger(f"ws://127.0.0.1:{port}/ocpp", version, AC)
    await api.wait_runtime(charger.id, "connecting")
    await api.lifecycle(charger.id, "stop-charger")
    await api.wait_runtime(charger.id, "stopped")

    csms = await csms_factory(port=port)
    await never(lambda: csms.connection_count(charger.identity), duration=2.5, what="a stopped charger connected")


async def test_a_reset_asked_while_the_charger_cannot_connect_waits_queued_and_runs_once_it_is_connected(
    api: Api, csms_factory: CsmsFactory, version: str
) -> None:
    port = free_port()
    charger = await api.create_charger(f"ws://127.0.0.1:{port}/ocpp", version, AC)
    await api.wait_runtime(charger.id, "connecting")
    queued = await api.lifecycle(charger.id, "reset-charger")
    await asyncio.sleep(0.5)
    assert (await api.command(queued["id"]))["status"] in ("queued", "sent")

    csms = await csms_factory(port=port)
    await csms.wait_connected(charger.identity, count=2, timeout=8)
    await csms.wait_for(charger.identity, "BootNotification", count=2)
    command = await api.wait_command(queued["id"])
    assert command["status"] == "completed", command
    await api.wait_runtime(charger.id, "booted")


async def test_after_a_hard_crash_the_log_keeps_every_frame_older_than_the_flush_interval_and_chargers_come_back(
    csms_factory: CsmsFactory, deployments: DeploymentFactory, api_for: Callable[[Deployment], Api]
) -> None:
    csms = await csms_factory(heartbeat_interval=30)
    gateway = await deployments()
    api = api_for(gateway)
    chargers = [await boot(api, csms, "OCPP1.6", AC), await boot(api, csms, "OCPP2.0.1", DC)]
    await asyncio.sleep(0.5)  # > the 100 ms flush interval: everything so far must be durable

    frames = {charger.identity: list(frames_of(csms, charger.identity)) for charger in chargers}
    codes = await asyncio.to_thread(gateway.stop, signal.SIGKILL)
    assert codes == [-signal.SIGKILL]
    await asyncio.to_thread(gateway.start)

    for charger in chargers:
        await csms.wait_connected(charger.identity, count=2)
        await csms.wait_for(charger.identity, "BootNotification", count=2)
        await api.wait_logged(charger.id, frames[charger.identity])
        await api.wait_runtime(charger.id, "booted")


async def test_stopping_a_charger_whose_csms_stopped_answering_does_not_hold_up_other_chargers(
    api: Api, csms: CsmsServer
) -> None:
    async def frozen(websocket: ServerConnection) -> None:  # accepts, then never reads (nor answers) again
        websocket.transport.pause_reading()
        await websocket.wait_closed()  # the server's close aborts it after its close_timeout

    async with serve(frozen, "127.0.0.1", 0, subprotocols=["ocpp1.6"], close_timeout=0.5) as server:
        port = server.sockets[0].getsockname()[1]
        stuck = await api.create_charger(f"ws://127.0.0.1:{port}/ocpp", "OCPP1.6", AC)
        await api.wait_runtime(stuck.id, "connected")

        await api.lifecycle(stuck.id, "stop-charger")
        asked_at = time.monotonic()
        other = await boot(api, csms, "OCPP1.6", AC)
        assert time.monotonic() - asked_at < 3, "another charger's stop held up this charger's start"
        await api.wait_runtime(other.id, "booted")
