"""Every failure leaves in the contract's shapes: {"detail": "..."} or FastAPI's 422 list."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError
from quart import Quart, jsonify
from werkzeug.exceptions import HTTPException

from domain.errors import Conflict, Contended, Deleted, DomainError, InvalidValue, NotFound

log = logging.getLogger("ocpplab.http")
SECRET_FIELDS = frozenset({"authorization_key", "client_private_key"})
"""Request fields a 422 answer never echoes (their input is left out)."""


class HttpError(Exception):
    """An error answer with a plain-string detail."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}


class RequestInvalid(Exception):
    """Request data failed validation: answered as 422 with FastAPI's item list."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        super().__init__("request validation failed")
        self.items = items


def validation_items(error: ValidationError, location: str) -> list[dict[str, Any]]:
    """pydantic errors in FastAPI's shape: loc prefixed with 'body' / 'query', JSON-safe ctx."""
    items = []
    for item in error.errors(include_url=False):
        entry: dict[str, Any] = {
            "type": item["type"],
            "loc": [location, *item["loc"]],
            "msg": item["msg"],
            "input": None if SECRET_FIELDS & set(map(str, item["loc"])) else _redacted(_json_safe(item.get("input"))),
        }
        if item.get("ctx"):
            entry["ctx"] = {k: _json_safe(v) for k, v in item["ctx"].items()}
        items.append(entry)
    return items


def _json_safe(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    return str(value)


def _redacted(value: Any) -> Any:
    """A JSON input with the secret fields of every object left out."""
    if isinstance(value, dict):
        return {k: _redacted(v) for k, v in value.items() if k not in SECRET_FIELDS}
    if isinstance(value, list):
        return [_redacted(v) for v in value]
    return value


def domain_status(error: DomainError) -> tuple[int, str]:
    if isinstance(error, (NotFound, Deleted)):
        kind = getattr(error, "kind", "resource")
        return 404, f"{kind.capitalize()} not found"
    if isinstance(error, Contended):
        return 409, str(error)  # the SDK retries a 409
    if isinstance(error, (Conflict, InvalidValue)):
        return 400, str(error)
    return 400, str(error)


def register_error_handlers(app: Quart) -> None:
    @app.errorhandler(HttpError)
    async def http_error(error: HttpError) -> Any:
        return jsonify({"detail": error.detail}), error.status, error.headers

    @app.errorhandler(RequestInvalid)
    async def invalid(error: RequestInvalid) -> Any:
        return jsonify({"detail": error.items}), 422

    @app.errorhandler(DomainError)
    async def domain_error(error: DomainError) -> Any:
        status, detail = domain_status(error)
        return jsonify({"detail": detail}), status

    @app.errorhandler(HTTPException)
    async def werkzeug_error(error: HTTPException) -> Any:
        detail = {
            404: "Not Found",
            405: "Method Not Allowed",
            413: "Request body too large (the limit is 1 MiB)",
        }.get(error.code or 500, error.name)
        return jsonify({"detail": detail}), error.code or 500

    @app.errorhandler(Exception)
    async def unexpected(error: Exception) -> Any:
        log.exception("unexpected error", exc_info=error)
        return jsonify({"detail": "Internal server error"}), 500
