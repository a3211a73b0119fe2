"""One charger's life on the wire: connect, boot, serve, and reconnect with backoff and jitter until stopped."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import random
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidMessage, InvalidStatus, InvalidURI

from domain.charger import TLS_FIELDS
from domain.configuration import Configuration16, DeviceModel201
from simulator.recorder import ObservationRecorder
from simulator.security_events import note_security_event
from simulator.station import ChargerSpec, now_iso
from simulator.tls import INVALID_CSMS_CERTIFICATE, HeldTls
from simulator.wire import FrameStream, RecordingConnection

if TYPE_CHECKING:
    from application.gateway import Gateway
    from domain.runtime import ChargerRuntime

log = logging.getLogger("ocpplab.simulator.runner")
MAX_BACKOFF = 60.0
_SYSTEM_CAS: ssl.SSLContext | None = None


def system_context() -> ssl.SSLContext:
    """One context verifying against the system CAs, shared by every wss:// charger without TLS settings."""
    global _SYSTEM_CAS
    if _SYSTEM_CAS is None:
        _SYSTEM_CAS = ssl.create_default_context()
    return _SYSTEM_CAS


def failure_text(error: BaseException, tls: bool = False) -> str:
    """Why a connection attempt failed, as the charger's runtime view shows it."""
    if tls and isinstance(error, InvalidMessage) and isinstance(error.__cause__, EOFError):
        # TLS 1.3: a CSMS refusing the client certificate (or its absence) alerts after the client's handshake
        # ended; the client only sees the connection close before any HTTP answer.
        return "TLS: the CSMS closed the connection during the handshake (did it require a client certificate?)"
    if not isinstance(error, ssl.SSLError) and isinstance(error.__cause__, ssl.SSLError):
        error = error.__cause__  # websockets wraps a TLS alert read during the handshake
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"TLS: the CSMS certificate did not verify ({error.verify_message or error.reason})"
    if isinstance(error, ssl.SSLError):
        return f"TLS: handshake failed ({error.reason or error})"
    return f"{type(error).__name__}: {error}"[:500]


def backoff_delay(attempt: int) -> float:
    """1 s doubling to 60 s, with +-20 % jitter so a fleet does not reconnect in lockstep."""
    return min(MAX_BACKOFF, 2.0 ** max(0, attempt - 1)) * random.uniform(0.8, 1.2)


def build_station(
    spec: ChargerSpec,
    connection: RecordingConnection | None,
    runtime: ChargerRuntime,
    recorder: ObservationRecorder,
    kept: dict[tuple[int, int], Any] | None = None,
) -> Any:
    """The charge point of the charger's OCPP version, behind the one Station interface (`connection`: None until
    its first connection)."""
    if spec.ocpp_version == "OCPP2.0.1":
        from simulator.v201 import ChargePoint201

        station: Any = ChargePoint201(
            spec.identity, connection, DeviceModel201(spec.model, spec.identity, runtime.configuration)
        )
    else:
        from simulator.v16 import ChargePoint16

        station = ChargePoint16(
            spec.identity, connection, Configuration16(spec.model, spec.identity, runtime.configuration)
        )
    station.setup_station(spec, runtime, recorder, kept)
    return station


class ChargerMemory:
    """What outlives a runner within this process: the runtime aggregate and the frame stream's numbering.

    A restarted runner (new ws_url, stop then start) must continue both, even before the last flush landed.
    """

    def __init__(self, spec: ChargerSpec) -> None:
        self.spec = spec
        self.runtime: ChargerRuntime | None = None
        self.stream: FrameStream | None = None
        self.auth_cache: dict[str, str] = {}  # id tag -> the CSMS's last verdict
        self.connectors: dict[tuple[int, int], Any] = {}  # the connectors and their meters, across reconnects
        self.security_events: dict[str, dict[str, str]] = {}  # type -> timestamp, techInfo: reported after boot
        self._loading = asyncio.Lock()

    async def load(self, gateway: Gateway, recorder: ObservationRecorder) -> tuple[ChargerRuntime, FrameStream]:
        async with self._loading:  # a runner and a local command may ask at once: one runtime for both
            if self.runtime is None or self.stream is None:
                spec = self.spec
                self.runtime = await asyncio.to_thread(gateway.runtime_for, spec.tenant_id, spec.charger_id)
                last_version = await asyncio.to_thread(gateway.last_frame_version, spec.charger_id)
                self.stream = FrameStream(spec.charger_id, spec.tenant_id, recorder, last_version)
            return self.runtime, self.stream


class ChargerRunner:
    """Keeps one simulated charge point connected while its charger is wanted running."""

    def __init__(
        self,
        spec: ChargerSpec,
        gateway: Gateway,
        recorder: ObservationRecorder,
        authorization_key: str | None,
        memory: ChargerMemory,
        compression: bool = False,
        delay: Callable[[int], float] = backoff_delay,
        *,
        ssl_context: ssl.SSLContext | None = None,
        tls_problem: str | None = None,
    ) -> None:
        """`ssl_context`: the charger's TLS context for wss:// (None: the system CAs); `tls_problem`: why its TLS
        material did not load (then it does not connect, and says so)."""
        self.spec = spec
        self.memory = memory
        self.gateway = gateway
        self.recorder = recorder
        self.authorization_key = authorization_key
        self.compression = compression
        self.delay = delay
        self.ssl_context = ssl_context
        self.tls_problem = tls_problem
        self.station: Any = None
        self._websocket: Any = None
        self._task: asyncio.Task | None = None
        self.runtime: ChargerRuntime | None = None
        self.held_tls = HeldTls()
        if any(getattr(memory.spec, name) != getattr(spec, name) for name in TLS_FIELDS):
            note_security_event(spec, memory.security_events, "ReconfigurationOfSecurityParameters", "TLS settings")
        memory.spec = spec

    def start(self, after: asyncio.Task | None = None) -> None:
        """Runs the charge point; `after`: the stop of its previous runner, which must close first."""
        self._task = asyncio.create_task(self._run(after), name=f"charger:{self.spec.identity}")

    async def stop(self, reason: str = "stopped") -> None:
        """Closes the connection cleanly (code 1000) and stays down."""
        if self._task is None:
            return
        self._task.cancel()
        await asyncio.wait({self._task})  # the runner's end, not its exception; our own cancellation goes through
        self._task = None
        if self.runtime is not None and self.runtime.status != "stopped":
            self.runtime.stopped(reason)
            self.recorder.observe(self.runtime)

    def reset(self) -> bool:
        """Closes the connection and reconnects at once (a reboot). False when not connected."""
        if self.station is None or not self.station.linked:
            return False
        self.station.request_close("reset")
        return True

    async def _run(self, after: asyncio.Task | None = None) -> None:
        if after is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(after)
        spec = self.spec
        self.runtime, stream = await self.memory.load(self.gateway, self.recorder)
        station = build_station(spec, None, self.runtime, self.recorder, self.memory.connectors)
        station.auth_cache = self.memory.auth_cache
        station.security_events = self.memory.security_events
        station.secrets = self.gateway.secrets
        self.memory.connectors = station.connectors
        station.start_station()
        self.station = station
        attempt = 0
        try:
            while True:
                self._observe("connecting", spec.url)
                websocket = await self._connect()
                if websocket is None:
                    station.lost_the_csms()
                    attempt += 1
                    await asyncio.sleep(self.delay(attempt))
                    continue
                attempt = 0
                self._observe("connected", websocket.subprotocol, now_iso())
                code, reason = await self._serve(websocket, stream)
                self._observe("disconnected", code, reason)
                if station.close_requested == "reset":  # a reboot reconnects at once
                    note_security_event(spec, self.memory.security_events, "ResetOrReboot", "reset")
                else:
                    attempt += 1
                    await asyncio.sleep(self.delay(attempt))
        finally:
            if self._websocket is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._websocket.close(1000, "charger stopped"), 5)
            await asyncio.shield(station.stop_station())
            self.station = None

    async def _connect(self) -> Any:
        spec = self.spec
        headers = {}
        if self.authorization_key:
            token = base64.b64encode(f"{spec.identity}:{self.authorization_key}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        tls = spec.url.lower().startswith("wss://")
        if tls and self.tls_problem:
            self._failed(f"TLS: {self.tls_problem}")
            return None
        try:
            websocket = await connect(
                spec.url,
                subprotocols=[spec.subprotocol],  # type: ignore[list-item]
                additional_headers=headers,
                compression="deflate" if self.compression else None,
                ssl=self._tls_context() if tls else None,
                proxy=None,
                open_timeout=10,
                ping_interval=None,
                close_timeout=5,
                user_agent_header=f"ocpplab-gateway {spec.model.get('brand_name', '')}".strip(),
            )
        except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as error:
            log.info("%s: cannot connect to %s: %s", spec.identity, spec.url, error)
            self._failed(failure_text(error, tls))
            pending = self.memory.security_events
            if isinstance(error, ssl.SSLCertVerificationError) or isinstance(
                error.__cause__, ssl.SSLCertVerificationError
            ):
                note_security_event(spec, pending, INVALID_CSMS_CERTIFICATE, failure_text(error))
            elif isinstance(error, InvalidStatus) and error.response.status_code == 401:
                note_security_event(spec, pending, "FailedToAuthenticateAtCsms", "HTTP 401 at the WebSocket upgrade")
            return None
        if websocket.subprotocol != spec.subprotocol:
            log.warning("%s: the CSMS did not accept subprotocol %s", spec.identity, spec.subprotocol)
            await websocket.close(1002, "subprotocol not accepted")
            return None
        return websocket

    async def _serve(self, websocket: Any, stream: FrameStream) -> tuple[int | None, str]:
        self._websocket = websocket
        station = self.station
        try:
            await station.run_session(RecordingConnection(websocket, stream))
        except ConnectionClosed:
            pass
        except Exception:
            log.warning("%s: session ended by an error", self.spec.identity, exc_info=True)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(websocket.close(1000, station.close_requested or ""), 5)
            self._websocket = None
        return websocket.close_code, websocket.close_reason or "connection lost"

    def _tls_context(self) -> ssl.SSLContext:
        """The context of this attempt: with the CSMS roots and the station certificate the charger holds (they
        change while it runs), else the one of its settings."""
        assert self.runtime is not None
        secrets = self.gateway.secrets
        try:
            held = self.held_tls.context(self.spec, self.runtime, secrets.unseal if secrets is not None else None)
        except Exception:  # material that does not load: the settings' context still may
            log.warning("%s: cannot use the certificates it holds", self.spec.identity, exc_info=True)
            held = None
        return held or self.ssl_context or system_context()

    def _failed(self, error: str) -> None:
        """Records why the connection failed, once per reason (a fleet retrying for hours adds no events)."""
        assert self.runtime is not None
        if self.runtime.last_error != error:
            self._observe("connect_failed", error)

    def _observe(self, observation: str, *details: Any) -> None:
        """Records an observation on the runtime aggregate (a ChargerRuntime method) for the next flush."""
        assert self.runtime is not None
        getattr(self.runtime, observation)(*details)
        self.recorder.observe(self.runtime)
