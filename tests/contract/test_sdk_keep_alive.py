"""The SDK keeps one httpx connection alive across calls: a refused request must not break the next one.

A client that sends a request body after its headers (as httpcore does, in its own write) may see the
answer before the body is on the wire. If the server then closes the connection, it must say so with
`Connection: close` (RFC 9112, 9.6); otherwise the SDK reuses the dead connection and its next call fails
with `httpx.RemoteProtocolError: Server disconnected without sending a response`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from ocpplab import OcpplabApi
from ocpplab.errors import ForbiddenError, UnauthorizedError, UnprocessableEntityError

from tests.contract.sdk import NO_RETRY, SDK_TIMEOUT, SITE, new_org
from tests.support import GatewayProcess, token


class LateBody(httpx.SyncByteStream):
    def __init__(self, body: httpx.SyncByteStream) -> None:
        self.body = body

    def __iter__(self) -> Iterator[bytes]:
        time.sleep(0.1)
        yield from self.body


class LateBodyTransport(httpx.HTTPTransport):
    """Sends every request body 100 ms after its headers (a slow network, made repeatable) and counts the
    TCP connections it opens."""

    def __init__(self) -> None:
        super().__init__()
        self.connections = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.extensions["trace"] = self._trace
        if request.method != "GET":
            request.stream = LateBody(request.stream)  # type: ignore[arg-type]
        return super().handle_request(request)

    def _trace(self, event: str, info: dict[str, Any]) -> None:
        if event == "connection.connect_tcp.complete":
            self.connections += 1


@pytest.fixture
def transport() -> Iterator[LateBodyTransport]:
    late = LateBodyTransport()
    yield late
    late.close()


def sdk_over(server: GatewayProcess, transport: LateBodyTransport, **options: Any) -> OcpplabApi:
    http = httpx.Client(transport=transport, timeout=SDK_TIMEOUT)
    return OcpplabApi(base_url=server.base_url, httpx_client=http, **options)


def connection_after(refusal: Any, sdk: OcpplabApi, transport: LateBodyTransport) -> str:
    """What became of the refused call's connection: 'kept', 'closed as announced' or 'closed silently'."""
    announced = str(refusal.headers.get("connection", "")).lower() == "close"
    time.sleep(0.05)  # a closing server's FIN arrives, so the pool opens a new connection instead of failing
    assert sdk.health.health_check(request_options=NO_RETRY)["status"] == "ok"
    if transport.connections == 1:
        return "kept"
    return "closed as announced" if announced else "closed silently"


def test_a_post_refused_by_validation_keeps_its_connection(
    sqlite_server: GatewayProcess, transport: LateBodyTransport
) -> None:
    sdk = sdk_over(sqlite_server, transport, token=token(new_org()))

    with pytest.raises(UnprocessableEntityError) as raised:
        sdk.locations.create_location(**{**SITE, "country": "France"}, request_options=NO_RETRY)

    assert connection_after(raised.value, sdk, transport) in ("kept", "closed as announced")


def test_a_post_refused_for_lack_of_a_token_keeps_its_connection_or_announces_the_close(
    sqlite_server: GatewayProcess, transport: LateBodyTransport
) -> None:
    sdk = sdk_over(sqlite_server, transport)

    with pytest.raises(UnauthorizedError) as raised:
        sdk.locations.create_location(**SITE, request_options=NO_RETRY)

    assert connection_after(raised.value, sdk, transport) in ("kept", "closed as announced")


def test_a_post_refused_for_a_foreign_organization_keeps_its_connection_or_announces_the_close(
    sqlite_server: GatewayProcess, transport: LateBodyTransport
) -> None:
    sdk = sdk_over(sqlite_server, transport, token=token(new_org()), organization_id=new_org())

    with pytest.raises(ForbiddenError) as raised:
        sdk.locations.create_location(**SITE, request_options=NO_RETRY)

    assert connection_after(raised.value, sdk, transport) in ("kept", "closed as announced")
