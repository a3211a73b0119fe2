"""The lean CSMS (bench/lean_csms.py) on two ports, plain and TLS, for the TLS benchmark (bench/tls_suite.py).

Everything the lean CSMS does, plus what security profiles 1 and 2 need of a CSMS:
- a second listener with TLS, its certificate chain (server certificate + key, PEM) issued by the run's private CA
- every WebSocket handshake must carry HTTP Basic credentials `identity:KEY` (KEY: the run's authorization key);
  others are refused with 401, so a charger that does not send its key never boots
- per group, how each handshake arrived: `plain`, or the TLS version and cipher negotiated, and how many were refused

  GET /_transports      {group: {"plain" | "TLSv1.3 TLS_AES_256_GCM_SHA384" | ...: n, "refused": n}}

Run: `python -m bench.tls_csms PORT INTERVAL TLS_PORT CHAIN_PEM KEY`; SIGTERM stops it. Binds 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
import sys
from collections import Counter, defaultdict
from http import HTTPStatus
from urllib.parse import urlsplit

from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

from bench.lean_csms import LeanCsms, run


class TlsCsms(LeanCsms):
    def __init__(self, interval: int, key: str) -> None:
        super().__init__(interval)
        self.key = key
        self.transports: defaultdict[str, Counter[str]] = defaultdict(Counter)

    async def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        if url.path == "/_transports":
            return connection.respond(HTTPStatus.OK, json.dumps(self.transports))
        if url.path.startswith("/_"):
            return await super().process_request(connection, request)
        identity = url.path.rstrip("/").rsplit("/", 1)[-1]
        seen = self.transports[identity.split("-", 1)[0]]
        expected = "Basic " + base64.b64encode(f"{identity}:{self.key}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            seen["refused"] += 1
            return connection.respond(HTTPStatus.UNAUTHORIZED, "HTTP Basic credentials missing or wrong\n")
        tls = connection.transport.get_extra_info("ssl_object")
        seen["plain" if tls is None else f"{tls.version()} {tls.cipher()[0]}"] += 1
        return None


def server_context(chain: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain)
    return context


if __name__ == "__main__":
    port, interval, tls_port, chain, key = sys.argv[1:6]
    csms = TlsCsms(int(interval), key)
    asyncio.run(run(int(port), int(interval), csms=csms, tls=(int(tls_port), server_context(chain))))
