"""Stream tickets: a browser's EventSource cannot send an Authorization header, so it trades its bearer token
for a short-lived ticket (`POST /stream/tickets`) and puts that in the stream's URL instead. A ticket names the
caller and the one tenant it may watch, expires within a minute, and is useless on any other route; so a URL
that leaks into a log or a proxy's history grants nothing for long, and never the token itself."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from application.ports import Actor

TICKET_TTL = 60  # seconds: long enough to open the stream, short enough to be worthless in a log


class InvalidTicket(Exception):
    """The ticket is malformed, wrongly signed or expired."""


@dataclass(frozen=True)
class Ticket:
    sub: str
    role: str
    tenant_id: str
    expires_at: int
    token_expires_at: int | None  # the stream it opens ends when the token it was bought with expires


class StreamTickets:
    """Signs and verifies tickets (HMAC-SHA256 over a compact JSON body) with a key every process shares."""

    def __init__(self, key: bytes | None = None, ttl: int = TICKET_TTL) -> None:
        self._key = key or secrets.token_bytes(32)
        self.ttl = ttl

    def issue(self, actor: Actor, token_expires_at: int | None = None, now: float | None = None) -> tuple[str, int]:
        """A ticket for the actor's tenant and its expiry (epoch seconds; never after the token's own)."""
        expires_at = int(now if now is not None else time.time()) + self.ttl
        if token_expires_at is not None:
            expires_at = min(expires_at, token_expires_at)
        body = json.dumps(
            {
                "sub": actor.sub,
                "role": actor.role,
                "org": actor.tenant_id,
                "exp": expires_at,
                "texp": token_expires_at,
                "n": _nonce(),
            },
            separators=(",", ":"),
        ).encode()
        encoded = _b64(body)
        return f"{encoded}.{_b64(self._sign(encoded))}", expires_at

    def verify(self, ticket: str, now: float | None = None) -> Ticket:
        encoded, _, signature = ticket.partition(".")
        try:
            valid = hmac.compare_digest(_unb64(signature), self._sign(encoded))
            claims = json.loads(_unb64(encoded)) if valid else None
        except ValueError:
            raise InvalidTicket("the stream ticket is malformed") from None
        if not isinstance(claims, dict):
            raise InvalidTicket("the stream ticket's signature is invalid")
        if claims.get("exp", 0) < (now if now is not None else time.time()):
            raise InvalidTicket("the stream ticket expired: ask POST /stream/tickets for a new one")
        texp = claims.get("texp")
        return Ticket(
            str(claims["sub"]), str(claims["role"]), str(claims["org"]), int(claims["exp"]), int(texp) if texp else None
        )

    def _sign(self, encoded: str) -> bytes:
        return hmac.new(self._key, b"stream-ticket." + encoded.encode(), hashlib.sha256).digest()


def _nonce() -> str:
    return secrets.token_hex(4)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text.encode() + b"=" * (-len(text) % 4))
