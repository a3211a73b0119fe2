"""Fixtures of the simulator's end-to-end tests: real gateway processes, real CSMS servers, bounded waits.

Every test talks HTTP (httpx) to a real gateway process and watches the wire through a real `CsmsServer` on
127.0.0.1. Most tests share one `serve` process on SQLite (each test in its own tenant, with its own chargers,
deleted afterwards); tests that restart the gateway, or run another store or process layout, get their own
deployment. Every wait is bounded; every process and server is stopped in teardown, also on failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest

from adapters.csms.central_systems import REFUSED_ON_PURPOSE
from adapters.csms.server import CALL, CALL_ERROR, CALL_RESULT, CsmsFrame, CsmsServer, Verdicts
from tests.support import ROOT, GatewayProcess, token

WAIT = 10.0
"""The bound of every wait for something that should happen (a boot, a reconnect, a status in the view)."""

RECONNECT = 4.0
"""The bound of a reconnect that should come at once (a reset) or after the first backoff step (1 s +-20 %)."""

QUIET = 3.0
"""How long a test watches for something that must NOT happen (a reconnect of a stopped charger...)."""

VERSIONS = ("OCPP1.6", "OCPP2.0.1")

AC: dict[str, str] = {"brand_slug": "wallbox", "model_slug": "wallbox-pulsar-plus", "connector_type": "Type2"}
"""One Type2 connector (22 kW AC)."""

DC: dict[str, str] = {"brand_slug": "abb", "model_slug": "terra-184", "connector_type": "CCS2"}
"""Two connectors (180 kW DC)."""

SITE: dict[str, Any] = {
    "name": "E2E Charging Hub",
    "address": "1 Rue du Test",
    "city": "Paris",
    "country": "FR",
    "coordinates": {"latitude": 48.8566, "longitude": 2.3522},
}


# -- the catalog, as the chargers' BootNotification must report it -----------------------------------------


@dataclass(frozen=True)
class CatalogModel:
    vendor: str
    model: str
    firmware_version: str
    connectors: int


def catalog_model(model: dict[str, str]) -> CatalogModel:
    catalog = json.loads((ROOT / "adapters" / "catalog" / "catalog.json").read_text())
    brand = next(b for b in catalog["brands"] if b["slug"] == model["brand_slug"])
    entry = next(m for m in brand["models"] if m["slug"] == model["model_slug"])
    return CatalogModel(brand["name"], entry["name"], entry["firmware_version"], entry["connector_count"])


def reported_connectors(version: str, model: dict[str, str]) -> int:
    """How many StatusNotifications a boot sends: 1.6 adds connector 0 (the whole charge point)."""
    count = catalog_model(model).connectors
    return count + 1 if version == "OCPP1.6" else count


def new_identity(prefix: str = "CP") -> str:
    return f"{prefix}-{uuid4().hex[:12]}"


# -- waiting --------------------------------------------------------------------------------------------------


async def eventually(predicate: Callable[[], Any], timeout: float = WAIT, what: str = "condition") -> Any:
    """Polls a (sync) predicate until it is truthy; its value. Fails after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout} s")
        await asyncio.sleep(0.05)


async def never(predicate: Callable[[], Any], duration: float = QUIET, what: str = "condition") -> None:
    """Watches a (sync) predicate for `duration`: it must stay falsy."""
    deadline = time.monotonic() + duration
    while time.monotonic() < deadline:
        assert not predicate(), f"unexpected: {what}"
        await asyncio.sleep(0.05)


# -- the wire as the CSMS saw it ------------------------------------------------------------------------------


def parsed(frame: CsmsFrame) -> Any:
    try:
        return json.loads(frame.raw)
    except ValueError:
        return None


def frames_of(csms: CsmsServer, identity: str) -> list[CsmsFrame]:
    return [frame for frame in csms.frames if frame.identity == identity]


def calls_from_cp(csms: CsmsServer, identity: str, action: str | None = None) -> list[CsmsFrame]:
    """The CALL frames the charger sent, in order (optionally of one action)."""
    found = []
    for frame in frames_of(csms, identity):
        message = parsed(frame)
        if (
            frame.direction == "cp_to_csms"
            and isinstance(message, list)
            and message[:1] == [CALL]
            and (action is None or message[2] == action)
        ):
            found.append(frame)
    return found


def answers_from_cp(csms: CsmsServer, identity: str) -> list[list[Any]]:
    """The CALLRESULT / CALLERROR frames the charger sent, parsed, in order."""
    answers = []
    for frame in frames_of(csms, identity):
        message = parsed(frame)
        if (
            frame.direction == "cp_to_csms"
            and isinstance(message, list)
            and message[:1] in ([CALL_RESULT], [CALL_ERROR])
        ):
            answers.append(message)
    return answers


def gaps(frames: list[CsmsFrame]) -> list[float]:
    return [b.at - a.at for a, b in itertools.pairwise(frames)]


async def next_heartbeat(csms: CsmsServer, identity: str, timeout: float = WAIT) -> None:
    """Waits until one more Heartbeat than so far was received and answered: a quiet moment on the wire follows."""
    seen = len(csms.received(identity, "Heartbeat"))
    await csms.wait_for(identity, "Heartbeat", count=seen + 1, timeout=timeout)


async def csms_calls_after(
    csms: CsmsServer, identity: str, marker: CsmsFrame, action: str, count: int = 1, timeout: float = WAIT
) -> list[Any]:
    """Waits for `count` CALLs of `action` the charger sent after `marker`; their payloads."""

    def found() -> list[Any]:
        frames = frames_of(csms, identity)
        index = next(i for i, frame in enumerate(frames) if frame is marker)
        payloads = [
            message[3]
            for frame in frames[index + 1 :]
            if frame.direction == "cp_to_csms"
            and isinstance(message := parsed(frame), list)
            and message[:1] == [CALL]
            and message[2] == action
        ]
        return payloads if len(payloads) >= count else []

    return await eventually(found, timeout, f"{count} {action} after the marker")


def last_frame(csms: CsmsServer, identity: str) -> CsmsFrame:
    return frames_of(csms, identity)[-1]


# -- processes ------------------------------------------------------------------------------------------------


@dataclass
class Process:
    """One `python -m adapters.cli ...` process; its output goes to a file (a full pipe would block it)."""

    args: list[str]
    env: dict[str, str]
    log_path: Path
    popen: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "adapters.cli", *self.args],
                env=self.env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def tail(self, size: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-size:]
        except OSError:
            return ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        """Signals the process and waits for it (killed after `timeout`); its exit code."""
        assert self.popen is not None
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.send_signal(signal.SIGUSR1)  # the gateway prints its asyncio tasks' stacks: what it waits for
            time.sleep(1)
            self.popen.kill()
            self.popen.wait(5)
            raise RuntimeError(
                f"{self.args[0]} did not stop within {timeout} s; its log ends with:\n{self.tail()}"
            ) from None


def wait_healthy(base_url: str, process: Process, timeout: float = 20.0) -> None:
    """Waits until the API process answers /health (blocking); fails at once if it exits."""
    deadline = time.monotonic() + timeout
    while True:
        if not process.running:
            raise RuntimeError(f"{process.args[0]} exited at start:\n{process.tail()}")
        try:
            if httpx.get(f"{base_url}/health", timeout=0.5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the gateway did not become healthy within {timeout} s:\n{process.tail()}")
        time.sleep(0.05)


@dataclass
class Deployment:
    """One gateway installation on a data dir (and maybe a PostgreSQL database): `serve` runs the API and the
    simulator in one process; `split` runs `api` and `simulator` as two processes on the same store."""

    data_dir: Path
    database_url: str | None = None
    layout: str = "serve"  # "serve" | "split"
    gateway: GatewayProcess = field(init=False)
    processes: list[Process] = field(default_factory=list)
    generation: int = 0

    def __post_init__(self) -> None:
        self.gateway = GatewayProcess(self.data_dir, self.database_url, "serve" if self.layout == "serve" else "api")

    @property
    def base_url(self) -> str:
        return self.gateway.base_url

    @property
    def running(self) -> bool:
        return any(process.running for process in self.processes)

    def start(self, timeout: float = 20.0) -> Deployment:
        """Starts the process(es); returns once the API answers /health (blocking: run it in a thread).
        A start that fails kills what it started."""
        try:
            return self._start(timeout)
        except BaseException:
            for process in self.processes:
                if process.running:
                    process.stop(signal.SIGKILL)
            raise

    def _start(self, timeout: float) -> Deployment:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.generation += 1
        env = self.gateway.env()
        if os.environ.get("E2E_GATEWAY_LOG_LEVEL"):  # e.g. INFO, to see what the gateway did in its log files
            env["OCPPLAB_LOG_LEVEL"] = os.environ["E2E_GATEWAY_LOG_LEVEL"]
        api = Process(
            [self.gateway.command, "--port", str(self.gateway.port)],
            env,
            self.data_dir.parent / f"{self.gateway.command}-{self.generation}.log",
        )
        self.processes = [api]
        api.start()
        wait_healthy(self.base_url, api, timeout)
        if self.layout == "split":  # after the API: starting both at once races on creating the store's tables
            simulator = Process(["simulator"], env, self.data_dir.parent / f"simulator-{self.generation}.log")
            self.processes.append(simulator)
            simulator.start()
            time.sleep(0.5)  # no port to ask: it must at least still be running a moment later
            if not simulator.running:
                raise RuntimeError(f"the simulator process exited at start:\n{simulator.tail()}")
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> list[int]:
        """Stops the simulator first (chargers close cleanly), then the API; the exit codes, in start order.
        A process that does not exit within `timeout` is killed, and that fails."""
        codes: dict[int, int] = {}
        for index in reversed(range(len(self.processes))):
            if self.processes[index].popen is not None:
                codes[index] = self.processes[index].stop(sig, timeout)
        return [codes[index] for index in sorted(codes)]

    def logs(self) -> str:
        return "\n".join(f"--- {p.args[0]} ---\n{p.tail()}" for p in self.processes)


# -- the HTTP API ---------------------------------------------------------------------------------------------


@dataclass
class Charger:
    id: str
    identity: str
    version: str
    model: dict[str, str]
    doc: dict[str, Any]


class Api:
    """The gateway's HTTP API as one tenant sees it, with bounded polling helpers."""

    def __init__(self, base_url: str, org: str | None = None) -> None:
        self.org = org or f"org-{uuid4().hex[:8]}"
        self.http = httpx.AsyncClient(
            base_url=base_url, headers={"Authorization": f"Bearer {token(self.org)}"}, timeout=WAIT
        )
        self.created: list[str] = []
        self._location: str | None = None

    async def aclose(self) -> None:
        await self.http.aclose()

    async def cleanup(self) -> None:
        """Deletes the chargers this test created (they would otherwise keep running in a shared gateway)."""
        for charger_id in self.created:
            with contextlib.suppress(httpx.HTTPError):
                await self.http.delete(f"/chargers/{charger_id}")

    # -- locations and chargers ----------------------------------------------------------------------------

    async def create_location(self, **fields: Any) -> str:
        response = await self.http.post("/locations", json={**SITE, **fields})
        assert response.status_code == 201, response.text
        return response.json()["id"]

    async def location(self) -> str:
        if self._location is None:
            self._location = await self.create_location()
        return self._location

    async def create_charger(
        self,
        ws_url: str,
        version: str = "OCPP1.6",
        model: dict[str, str] | None = None,
        *,
        identity: str | None = None,
        location_id: str | None = None,
        **fields: Any,
    ) -> Charger:
        model = model or AC
        identity = identity or new_identity()
        body = {
            "identity": identity,
            **model,
            "ws_url": ws_url,
            "ocpp_version": version,
            "location_id": location_id or await self.location(),
            **fields,
        }
        response = await self.http.post("/chargers", json=body)
        assert response.status_code == 201, response.text
        doc = response.json()
        self.created.append(doc["id"])
        return Charger(doc["id"], identity, version, model, doc)

    async def charger(self, charger_id: str) -> dict[str, Any]:
        response = await self.http.get(f"/chargers/{charger_id}")
        assert response.status_code == 200, response.text
        return response.json()

    async def wait_charger(
        self, charger_id: str, predicate: Callable[[dict], bool], timeout: float = WAIT, what: str = "charger state"
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            doc = await self.charger(charger_id)
            if predicate(doc):
                return doc
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} not reached within {timeout} s; the charger is {doc}")
            await asyncio.sleep(0.1)

    async def wait_runtime(self, charger_id: str, status: str, timeout: float = WAIT) -> dict[str, Any]:
        return await self.wait_charger(
            charger_id, lambda doc: doc["runtime_status"] == status, timeout, f"runtime_status {status!r}"
        )

    async def update_charger(self, charger_id: str, **changes: Any) -> dict[str, Any]:
        response = await self.http.put(f"/chargers/{charger_id}", json=changes)
        assert response.status_code == 200, response.text
        return response.json()

    async def delete_charger(self, charger_id: str) -> None:
        response = await self.http.delete(f"/chargers/{charger_id}")
        assert response.status_code in (200, 204), response.text

    # -- lifecycle and commands ------------------------------------------------------------------------------

    async def lifecycle(self, charger_id: str, action: str, expect: int = 200) -> dict[str, Any]:
        """POST /chargers/{id}/{start-charger|stop-charger|reset-charger}."""
        response = await self.http.post(f"/chargers/{charger_id}/{action}", json={})
        assert response.status_code == expect, response.text
        return response.json()

    async def location_lifecycle(
        self, location_id: str, action: str, charger_ids: list[str] | None = None
    ) -> dict[str, Any]:
        """POST /locations/{id}/chargers/{start-chargers|stop-chargers|reset-chargers}."""
        body = {} if charger_ids is None else {"charger_ids": charger_ids}
        response = await self.http.post(f"/locations/{location_id}/chargers/{action}", json=body)
        assert response.status_code == 200, response.text
        return response.json()

    async def command(self, command_id: str) -> dict[str, Any]:
        response = await self.http.get(f"/commands/{command_id}")
        assert response.status_code == 200, response.text
        return response.json()

    async def wait_command(self, command_id: str, timeout: float = WAIT) -> dict[str, Any]:
        """Waits until the command is no longer queued or sent; its record."""
        deadline = time.monotonic() + timeout
        while True:
            doc = await self.command(command_id)
            if doc["status"] not in ("queued", "sent"):
                return doc
            if time.monotonic() > deadline:
                raise AssertionError(f"command {command_id} still {doc['status']} after {timeout} s: {doc}")
            await asyncio.sleep(0.1)

    async def commands(self, charger_id: str) -> dict[str, Any]:
        response = await self.http.get(f"/chargers/{charger_id}/commands", params={"limit": 100})
        assert response.status_code == 200, response.text
        return response.json()

    # -- the log ---------------------------------------------------------------------------------------------

    async def logs(self, charger_id: str, **params: Any) -> dict[str, Any]:
        response = await self.http.get(f"/chargers/{charger_id}/logs", params=params)
        assert response.status_code == 200, response.text
        return response.json()

    async def full_log(self, charger_id: str) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = []
        while True:
            page = await self.logs(charger_id, limit=1000, offset=len(entries))
            entries += page["data"]
            if not page["data"] or len(entries) >= page["total"]:
                return entries

    async def wait_logged(self, charger_id: str, frames: list[CsmsFrame], timeout: float = 5.0) -> list[dict]:
        """Waits until the charger's log starts with exactly these frames (raw text and direction, in order);
        the log may hold later frames too. Returns the whole log."""
        expected = [(frame.direction, frame.raw) for frame in frames]
        deadline = time.monotonic() + timeout
        while True:
            log = await self.full_log(charger_id)
            logged = [(entry["direction"], entry["message"]) for entry in log][: len(expected)]
            if logged == expected:
                return log
            if time.monotonic() > deadline:
                assert logged == expected, "the log does not hold the frames the CSMS saw, in order"
            await asyncio.sleep(0.1)


# -- fixtures -------------------------------------------------------------------------------------------------


CsmsFactory = Callable[..., Awaitable[CsmsServer]]
DeploymentFactory = Callable[..., Awaitable[Deployment]]


@pytest.fixture(params=VERSIONS, ids=["ocpp16", "ocpp201"])
def version(request: pytest.FixtureRequest) -> str:
    """Runs a test once per OCPP version."""
    return request.param


@pytest.fixture(scope="session")
def shared_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """One `serve` process on SQLite for the tests that do not restart or reconfigure the gateway."""
    deployment = Deployment(tmp_path_factory.mktemp("shared-gateway") / "data").start()
    try:
        yield deployment
    finally:
        deployment.stop()


@pytest.fixture
async def api(shared_gateway: Deployment, csms_factory: CsmsFactory) -> AsyncIterator[Api]:
    """The shared gateway's API as this test's own tenant; the test's chargers are deleted afterwards (before the
    test's CSMS servers stop, so they do not start reconnecting first)."""
    client = Api(shared_gateway.base_url)
    try:
        yield client
    finally:
        try:
            await client.cleanup()
        finally:
            await client.aclose()
    assert shared_gateway.running, f"the shared gateway died:\n{shared_gateway.logs()}"


@pytest.fixture
async def csms_factory() -> AsyncIterator[CsmsFactory]:
    """Starts CSMS servers on 127.0.0.1 (port 0: a free one); all are stopped afterwards. Every frame a charger
    sent them must have been schema-valid: a CallError from a CSMS fails the test."""
    servers: list[CsmsServer] = []

    async def start(heartbeat_interval: int = 1, port: int = 0, **verdicts: Any) -> CsmsServer:
        server = CsmsServer(port=port, verdicts=Verdicts(heartbeat_interval=heartbeat_interval, **verdicts))
        servers.append(server)
        await server.start()
        return server

    try:
        yield start
    finally:
        for server in servers:
            await server.stop()
    refused = [
        (frame.identity, frame.raw)
        for server in servers
        for frame in server.frames
        if frame.direction == "csms_to_cp"
        and isinstance(message := parsed(frame), list)
        and message[:1] == [CALL_ERROR]
        and REFUSED_ON_PURPOSE not in message
    ]
    assert refused == [], "the CSMS refused frames a charger sent (schema-invalid or unknown CALLs)"


@pytest.fixture
async def csms(csms_factory: CsmsFactory) -> CsmsServer:
    """A CSMS that accepts every boot with a 1 s heartbeat interval."""
    return await csms_factory(heartbeat_interval=1)


@pytest.fixture
async def deployments(tmp_path: Path, csms_factory: CsmsFactory) -> AsyncIterator[DeploymentFactory]:
    """Starts this test's own gateway deployments; whatever still runs is stopped afterwards (before the test's
    CSMS servers stop, so chargers close cleanly)."""
    started: list[Deployment] = []

    async def start(database_url: str | None = None, layout: str = "serve", name: str = "gateway") -> Deployment:
        deployment = Deployment(tmp_path / name / "data", database_url, layout)
        started.append(deployment)
        return await asyncio.to_thread(deployment.start)

    try:
        yield start
    finally:
        for deployment in started:
            if deployment.running:
                await asyncio.to_thread(deployment.stop)


@pytest.fixture
async def api_for() -> AsyncIterator[Callable[[Deployment], Api]]:
    """API clients for this test's own deployments (one new tenant each), closed afterwards."""
    clients: list[Api] = []

    def connect(deployment: Deployment) -> Api:
        clients.append(Api(deployment.base_url))
        return clients[-1]

    try:
        yield connect
    finally:
        for client in clients:
            await client.aclose()


async def boot(
    api: Api, csms: CsmsServer, version: str = "OCPP1.6", model: dict[str, str] | None = None, **fields: Any
) -> Charger:
    """Creates a charger on `csms` and waits until its boot sequence (BootNotification, every
    StatusNotification) was answered."""
    charger = await api.create_charger(csms.url(), version, model, **fields)
    try:
        await csms.wait_for(charger.identity, "BootNotification")
        await csms.wait_for(charger.identity, "StatusNotification", count=reported_connectors(version, charger.model))
    except TimeoutError as error:
        doc = await api.charger(charger.id)
        state = {key: doc.get(key) for key in ("desired_state", "runtime_status", "connected_at", "last_frame_at")}
        raise AssertionError(
            f"{error}; {csms.connection_count(charger.identity)} connection(s); the gateway says {state}"
        ) from None
    return charger


def sent_by_csms(csms: CsmsServer, identity: str, action: str) -> list[Any]:
    """The CALLs of `action` the CSMS sent to the charger, parsed, in order."""
    return [
        message
        for frame in frames_of(csms, identity)
        if frame.direction == "csms_to_cp"
        and isinstance(message := parsed(frame), list)
        and message[:1] == [CALL]
        and message[2] == action
    ]


def answer_frame(csms: CsmsServer, identity: str, message_id: str, direction: str = "cp_to_csms") -> CsmsFrame:
    """The CALLRESULT / CALLERROR frame answering `message_id` in `direction`."""
    for frame in frames_of(csms, identity):
        message = parsed(frame)
        if (
            frame.direction == direction
            and isinstance(message, list)
            and message[:1] in ([CALL_RESULT], [CALL_ERROR])
            and message[1] == message_id
        ):
            return frame
    raise AssertionError(f"no answer to {message_id} ({direction})")


def charger_answer_to_last(csms: CsmsServer, identity: str, action: str) -> CsmsFrame:
    """The charger's answer to the last CALL of `action` the CSMS sent it."""
    return answer_frame(csms, identity, sent_by_csms(csms, identity, action)[-1][1])


def csms_answer_to(csms: CsmsServer, identity: str, call: CsmsFrame) -> list[Any]:
    """The CSMS's answer to a CALL the charger sent, parsed."""
    message = parsed(answer_frame(csms, identity, parsed(call)[1], direction="csms_to_cp"))
    assert isinstance(message, list)
    return message


async def send_raw_answered(csms: CsmsServer, identity: str, raw: str, timeout: float = 5.0) -> CsmsFrame:
    """Puts `raw` on the wire and waits for the next frame the charger sends (its answer); that frame."""
    await csms.send_raw(identity, raw)
    sent = len(frames_of(csms, identity))

    def answer() -> CsmsFrame | None:
        return next((f for f in frames_of(csms, identity)[sent:] if f.direction == "cp_to_csms"), None)

    return await eventually(answer, timeout, f"an answer to {raw!r}")
