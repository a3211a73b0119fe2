"""Bearer tokens and tenancy rules (api.md section 2): who is calling, and for which tenant."""

from __future__ import annotations

import re
import uuid

from quart import g, request

from adapters.http.context import run, services
from adapters.http.errors import HttpError
from adapters.tokens import InvalidToken, Principal
from application.ports import Actor
from domain import values
from domain.errors import InvalidValue

PUBLIC_PATHS = frozenset({"/", "/health", "/openapi.json", "/docs", "/redocs", "/scalar", "/ui"})
PUBLIC_PREFIXES = ("/ui/",)  # the dashboard's static files: the page asks for the token itself
TICKET_PATHS = frozenset({"/stream"})  # may authenticate with ?ticket= instead (EventSource sends no headers)
ORG_HEADER = "X-Organization-Id"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
UNAUTHORIZED = {"WWW-Authenticate": "Bearer"}


async def authenticate() -> None:
    """before_request: every route but the public ones needs a valid bearer token."""
    supplied = request.headers.get("X-Request-Id", "")
    g.request_id = supplied if _REQUEST_ID.match(supplied) else uuid.uuid4().hex
    if request.path in PUBLIC_PATHS or request.path.startswith(PUBLIC_PREFIXES) or request.method == "OPTIONS":
        return
    if request.path in TICKET_PATHS and "ticket" in request.args and "Authorization" not in request.headers:
        return  # the route verifies the ticket
    try:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise HttpError(401, "Not authenticated: send 'Authorization: Bearer <token>'", UNAUTHORIZED)
        try:
            g.principal = services().verifier.verify(token.strip())
        except InvalidToken as error:
            raise HttpError(401, f"Invalid token: {error}", UNAUTHORIZED) from None
        _check_org_header(g.principal)
    except HttpError:
        # Refusing before the body is read makes the server drop the keep-alive connection without saying so,
        # and a client's next request on it fails: read (at most 1 MiB of) the body first.
        await request.get_data()
        raise


def _check_org_header(principal: Principal) -> None:
    """A user token may repeat its own organization in the header; any other organization is forbidden."""
    header = request.headers.get(ORG_HEADER)
    if header is not None and principal.role == "user" and header != principal.org_id:
        raise HttpError(403, "X-Organization-Id does not match the token's organization")


def principal() -> Principal:
    return g.principal


def require_admin() -> Principal:
    who = principal()
    if who.role != "admin":
        raise HttpError(403, "admin role required")
    return who


async def actor() -> Actor:
    """The actor of a tenant-scoped request: its tenant is recorded the first time a user token names it."""
    who = principal()
    header = request.headers.get(ORG_HEADER)
    if who.role == "admin":
        if not header:
            raise HttpError(403, "X-Organization-Id required for admin tokens")
        org = _org(header)
        if not await run(services().gateway.tenant_exists, org):
            raise HttpError(404, "Organization not found")
    else:
        org = _org(who.org_id or "")
    current = Actor(sub=who.sub, role=who.role, tenant_id=org, request_id=g.request_id)
    if who.role == "user":
        gateway = services().gateway
        if not gateway.knows_tenant(org):
            position = await run(gateway.ensure_tenant, current)
            if position:
                await services().views.catch_up(position)
    return current


def _org(value: str) -> str:
    try:
        return values.org_id(value)
    except InvalidValue:
        raise HttpError(403, "the organization id is not valid") from None
