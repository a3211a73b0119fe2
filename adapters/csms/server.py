"""A small OCPP 1.6J / 2.0.1 central system over websockets, built on the `ocpp` library.

It answers every charge-point-initiated action with a schema-valid payload (the library validates every
incoming CALL and every answer against the official JSON schemas), records every frame in both
directions with its exact text, and can call the charge points. The demo CSMS and the end-to-end test
harness both use it.
"""

from __future__ import annotations

import asyncio
import hmac
import itertools
import json
import logging
import ssl
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote, urlsplit

from cryptography import x509
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed, InvalidHeader
from websockets.headers import build_www_authenticate_basic, parse_authorization_basic
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from adapters.csms.central_systems import CentralSystem16, CentralSystem201

LOGGER = logging.getLogger(__name__)

CP_TO_CSMS = "cp_to_csms"
CSMS_TO_CP = "csms_to_cp"
SUBPROTOCOLS = ("ocpp1.6", "ocpp2.0.1")
CALL, CALL_RESULT, CALL_ERROR = 2, 3, 4
CLOSE_TIMEOUT = 2.0


@dataclass
class CsmsFrame:
    """One frame on the wire, as the CSMS saw it."""

    identity: str
    direction: str  # "cp_to_csms" (received by the CSMS) | "csms_to_cp" (sent by it)
    raw: str  # exact text of the frame
    at: float  # time.time()


@dataclass
class Verdicts:
    """How the CSMS answers; tests change these between calls."""

    boot_status: str = "Accepted"  # Accepted | Pending | Rejected
    heartbeat_interval: int = 60
    authorize_status: str = "Accepted"  # idTagInfo/idTokenInfo status: Authorize, StartTransaction, TransactionEvent
    accept_identities: set[str] | None = None  # None: everyone; else only these identities may connect (others: 404)
    basic_auth: dict[str, str] | None = None  # identity -> password; when set, HTTP Basic auth is required (401)
    refuse: dict[str, int] = field(default_factory=dict)  # action -> how many of its next CALLs get a CallError
    csr_signer: Callable[[str], str] | None = None  # a CA: PEM signing request -> PEM chain (then CertificateSigned)


@dataclass
class ReceivedCall:
    """A CALL a charge point sent; `answered` once the CSMS's answer is on the wire (or the connection ended)."""

    action: str
    payload: Any
    message_id: str
    answered: bool = False


@dataclass
class Session:
    """One websocket connection of one charge point."""

    identity: str
    ocpp_version: str  # "ocpp1.6" | "ocpp2.0.1"
    charge_point: CentralSystem16 | CentralSystem201
    websocket: ServerConnection
    connected_at: float
    connection: RecordingConnection
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    client_certificate_subject: str | None = None  # RFC 4514, when the charge point presented a TLS certificate


def identity_from_path(path: str) -> str:
    """The charge point identity: the last non-empty segment of the request path (query ignored)."""
    segments = [segment for segment in urlsplit(path).path.split("/") if segment]
    return unquote(segments[-1]) if segments else ""


def parse_frame(raw: str) -> list[Any] | None:
    """The OCPP-J message array of a frame, or None when the text is no such array."""
    try:
        message = json.loads(raw)
    except ValueError:
        return None
    if isinstance(message, list) and len(message) >= 3 and isinstance(message[0], int):
        return message
    return None


class RecordingConnection:
    """The websocket as the ocpp library sees it: records every frame in order, then delegates."""

    def __init__(self, server: CsmsServer, identity: str, websocket: ServerConnection) -> None:
        self.server = server
        self.identity = identity
        self.websocket = websocket
        self.pending: dict[str, ReceivedCall] = {}  # CALLs received and not yet answered, by message id

    async def send(self, text: str) -> None:
        self.server._record(self.identity, CSMS_TO_CP, text)
        await self.websocket.send(text)
        message = parse_frame(text)
        if message is not None and message[0] in (CALL_RESULT, CALL_ERROR):
            answered = self.pending.pop(str(message[1]), None)
            if answered is not None:
                answered.answered = True
                self.server._notify()

    async def recv(self) -> str:
        data = await self.websocket.recv()
        text = data if isinstance(data, str) else data.decode("utf-8", errors="replace")
        self.server._record(self.identity, CP_TO_CSMS, text)
        message = parse_frame(text)
        if message is not None and message[0] == CALL and len(message) >= 4 and isinstance(message[2], str):
            received = ReceivedCall(action=message[2], payload=message[3], message_id=str(message[1]))
            self.pending[received.message_id] = received
            self.server._received_call(self.identity, received)
        return text

    def abandon_pending(self) -> None:
        """The connection ended: CALLs that got no answer count as received all the same."""
        for received in self.pending.values():
            received.answered = True
        self.pending.clear()


class CsmsServer:
    """A websocket CSMS on `host:port` (port 0: a free one) for OCPP 1.6J and 2.0.1 charge points."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        verdicts: Verdicts | None = None,
        log: Callable[[str], None] | None = None,
        *,
        history: int | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """`log` gets one line per received CALL and per connection event; `history` bounds what is kept
        (frames, and received CALLs per identity) for long runs: None keeps everything. `ssl_context`: a server
        context makes it a wss:// CSMS (OCPP security profiles 2 and 3: with verify_mode CERT_REQUIRED and the
        charge points' CA loaded, it demands a client certificate and records its subject per connection)."""
        self.host = host
        self.ssl_context = ssl_context
        self.client_subjects: dict[str, list[str | None]] = {}  # identity -> subject presented, per connection
        self.client_certificates: dict[str, list[x509.Certificate | None]] = {}  # the same, the whole certificate
        self.signed: dict[str, list[str]] = {}  # identity -> the charge point's answers to CertificateSigned
        self.history = history
        self._requested_port = port
        self.verdicts = verdicts if verdicts is not None else Verdicts()
        self.log = log
        self.frames: list[CsmsFrame] = []
        self.sessions: dict[str, Session] = {}
        self._calls: dict[str, list[ReceivedCall]] = {}
        self._connections: Counter[str] = Counter()
        self._transaction_ids = itertools.count(1)
        self._changed = asyncio.Event()
        self._server: Server | None = None

    # -- lifecycle -----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Listens; returns once the socket is bound."""
        self._server = await serve(
            self._serve_connection,
            self.host,
            self._requested_port,
            subprotocols=[Subprotocol(name) for name in SUBPROTOCOLS],
            process_request=self._check_request,
            process_response=self._log_refusal,
            close_timeout=CLOSE_TIMEOUT,
            ssl=self.ssl_context,
        )

    @property
    def port(self) -> int:
        """The bound port."""
        if self._server is None:
            raise RuntimeError("the CSMS is not started")
        return int(self._server.sockets[0].getsockname()[1])

    def url(self, path: str = "ocpp") -> str:
        """The URL chargers use, without their identity: ws://HOST:PORT/ocpp (wss:// with TLS)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "wss" if self.ssl_context is not None else "ws"
        return f"{scheme}://{host}:{self.port}/{path.strip('/')}"

    async def stop(self) -> None:
        """Closes every connection (1001) and the listening socket; bounded in time."""
        if self._server is None:
            return
        server, self._server = self._server, None
        server.close()
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT * 2 + 1):
                await server.wait_closed()
        except TimeoutError:
            LOGGER.warning("the CSMS did not close within its bound; connections are abandoned")

    # -- what was received ---------------------------------------------------------------------------

    def received(self, identity: str, action: str | None = None) -> list[tuple[str, dict[str, Any]]]:
        """(action, payload) of every CALL received from `identity`, in order, across its connections."""
        return [
            (received.action, received.payload)
            for received in self._calls.get(identity, [])
            if action is None or received.action == action
        ]

    def call_errors(self, identity: str) -> list[list[Any]]:
        """The CALLERROR frames this CSMS sent to `identity` (schema-invalid traffic shows up here), parsed."""
        errors = []
        for frame in self.frames:
            if frame.identity == identity and frame.direction == CSMS_TO_CP:
                message = parse_frame(frame.raw)
                if message is not None and message[0] == CALL_ERROR:
                    errors.append(message)
        return errors

    async def wait_for(self, identity: str, action: str, count: int = 1, timeout: float = 10.0) -> list[dict]:
        """Waits until `count` CALLs of `action` from `identity` were received and answered; their payloads.

        Payloads are camelCase dicts exactly as on the wire. A CALL counts once the CSMS's answer is sent
        (so the answer is already in `frames`) or its connection ended.
        """

        def done() -> list[dict]:
            return [c.payload for c in self._calls.get(identity, []) if c.action == action and c.answered]

        try:
            await self._wait_until(lambda: len(done()) >= count, timeout)
        except TimeoutError:
            seen = [name for name, _ in self.received(identity)]
            raise TimeoutError(
                f"{identity}: {len(done())} of {count} {action} within {timeout}s; received {seen}"
            ) from None
        return done()[:count]

    async def wait_connected(self, identity: str, count: int = 1, timeout: float = 10.0) -> Session:
        """Waits until `identity` has connected `count` times in all and is connected; its session."""
        try:
            await self._wait_until(lambda: self._connections[identity] >= count and identity in self.sessions, timeout)
        except TimeoutError:
            raise TimeoutError(
                f"{identity}: {self._connections[identity]} of {count} connections within {timeout}s"
            ) from None
        return self.sessions[identity]

    def connection_count(self, identity: str) -> int:
        """How many times `identity` has connected so far."""
        return self._connections[identity]

    # -- acting on a charge point ----------------------------------------------------------------------

    async def call(self, identity: str, payload: Any, timeout: float = 10.0) -> Any:
        """A CSMS-initiated call (an ocpp.v16.call.X / ocpp.v201.call.X object); the call_result object.

        Raises the OCPPError of a CallError, TimeoutError when no answer comes, LookupError when
        `identity` is not connected, ValueError when the payload is of the other OCPP version.
        """
        session = self._session(identity)
        module = type(payload).__module__
        expected = "ocpp.v16." if session.ocpp_version == "ocpp1.6" else "ocpp.v201."
        if not module.startswith(expected):
            raise ValueError(f"{identity} speaks {session.ocpp_version}; {module}.{type(payload).__name__} is not")
        answer = asyncio.ensure_future(session.charge_point.call(payload, suppress=False))
        closed = asyncio.ensure_future(session.closed.wait())
        try:
            await asyncio.wait({answer, closed}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            closed.cancel()
            if not answer.done():
                answer.cancel()
        if answer.done() and not answer.cancelled():
            return answer.result()
        if closed.done() and not closed.cancelled():
            raise ConnectionError(f"{identity} disconnected before answering {type(payload).__name__}")
        raise TimeoutError(f"{identity}: no answer to {type(payload).__name__} within {timeout}s")

    async def sign(self, central: Any, csr: str, certificate_signed: Callable[[str], Any]) -> None:
        """After accepting a SignCertificate: the signing request goes to `csr_signer`, its chain back to the charge
        point in a CertificateSigned, whose answer is kept in `signed`."""
        signer = self.verdicts.csr_signer
        if signer is None:
            return
        try:
            answer = await central.call(certificate_signed(signer(csr)), suppress=False)
        except Exception as error:  # noqa: BLE001 - a request the CA refuses, a call error: logged, not raised
            self._log(f"{central.id} CertificateSigned failed: {error!r}")
            return
        self.signed.setdefault(central.id, []).append(answer.status)
        self._notify()

    async def send_raw(self, identity: str, text: str) -> None:
        """Puts arbitrary text on the wire to `identity` (recorded in `frames`)."""
        await self._session(identity).connection.send(text)

    async def disconnect(self, identity: str, code: int = 1011, reason: str = "") -> None:
        """Closes `identity`'s connection with `code`; returns once its session has ended (bounded)."""
        session = self._session(identity)
        async with asyncio.timeout(CLOSE_TIMEOUT * 2 + 1):
            await session.websocket.close(code, reason)
            await session.closed.wait()

    # -- internals -------------------------------------------------------------------------------------

    def _session(self, identity: str) -> Session:
        session = self.sessions.get(identity)
        if session is None:
            raise LookupError(f"{identity} is not connected")
        return session

    async def _wait_until(self, predicate: Callable[[], bool], timeout: float) -> None:
        async with asyncio.timeout(timeout):
            while not predicate():
                await self._changed.wait()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def _record(self, identity: str, direction: str, raw: str) -> None:
        self.frames.append(CsmsFrame(identity=identity, direction=direction, raw=raw, at=time.time()))
        if self.history is not None and len(self.frames) > 2 * self.history:
            del self.frames[: -self.history]

    def _received_call(self, identity: str, received: ReceivedCall) -> None:
        calls = self._calls.setdefault(identity, [])
        calls.append(received)
        if self.history is not None and len(calls) > 2 * self.history:
            del calls[: -self.history]
        self._log(f"{identity} {received.action} {json.dumps(received.payload)}")
        self._notify()

    def _log(self, line: str) -> None:
        if self.log is None:
            return
        stamp = datetime.now().isoformat(sep=" ", timespec="milliseconds")
        try:
            self.log(f"{stamp} {line}")
        except Exception:
            LOGGER.exception("the CSMS log callback failed")

    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        """Identity from the path, allowed identities (404), HTTP Basic auth (401)."""
        identity = identity_from_path(request.path)
        verdicts = self.verdicts
        if not identity:
            return connection.respond(HTTPStatus.NOT_FOUND, "No charge point identity in the path\n")
        if verdicts.accept_identities is not None and identity not in verdicts.accept_identities:
            return connection.respond(HTTPStatus.NOT_FOUND, f"Unknown charge point {identity}\n")
        if verdicts.basic_auth is not None and not _authorized(request.headers, identity, verdicts.basic_auth):
            response = connection.respond(HTTPStatus.UNAUTHORIZED, "Invalid or missing credentials\n")
            response.headers["WWW-Authenticate"] = build_www_authenticate_basic("OCPP")
            return response
        return None

    def _log_refusal(self, connection: ServerConnection, request: Request, response: Response) -> None:
        if response.status_code != HTTPStatus.SWITCHING_PROTOCOLS:
            body = response.body.decode(errors="replace").strip()
            self._log(f"{identity_from_path(request.path) or '-'} refused: HTTP {response.status_code} {body}")

    async def _serve_connection(self, websocket: ServerConnection) -> None:
        assert websocket.request is not None  # the handshake is done
        identity = identity_from_path(websocket.request.path)
        version = str(websocket.subprotocol)
        connection = RecordingConnection(self, identity, websocket)
        central = CentralSystem16 if version == "ocpp1.6" else CentralSystem201
        charge_point = central(identity, connection, self)
        session = Session(identity, version, charge_point, websocket, time.time(), connection)
        peer = _peer_certificate(websocket)
        session.client_certificate_subject = peer.subject.rfc4514_string() if peer is not None else None
        self.client_subjects.setdefault(identity, []).append(session.client_certificate_subject)
        self.client_certificates.setdefault(identity, []).append(peer)
        self.sessions[identity] = session
        self._connections[identity] += 1
        self._log(f"{identity} connected ({version})")
        self._notify()
        try:
            await charge_point.start()
        except ConnectionClosed:
            pass
        finally:
            connection.abandon_pending()
            if self.sessions.get(identity) is session:
                del self.sessions[identity]
            session.closed.set()
            self._log(f"{identity} disconnected (code {websocket.close_code})")
            self._notify()


def _peer_certificate(websocket: ServerConnection) -> x509.Certificate | None:
    """The TLS client certificate the peer presented (None: plain ws://, or none presented)."""
    ssl_object = websocket.transport.get_extra_info("ssl_object")
    der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    return x509.load_der_x509_certificate(der) if der else None


def _authorized(headers: Headers, identity: str, passwords: dict[str, str]) -> bool:
    """HTTP Basic auth as OCPP security profile 1 has it: user = identity, password = its key."""
    header = headers.get("Authorization")
    expected = passwords.get(identity)
    if header is None or expected is None:
        return False
    try:
        username, password = parse_authorization_basic(header)
    except InvalidHeader:
        return False
    return username == identity and hmac.compare_digest(
        password.encode(errors="surrogateescape"), expected.encode(errors="surrogateescape")
    )
