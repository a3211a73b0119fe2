"""The landing page and the reachability check (no token needed)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from quart import Blueprint

from adapters.http.context import services
from adapters.http.validation import responds

bp = Blueprint("root", __name__)

LANDING = """<!doctype html>
<html><head><meta charset="utf-8"><title>OCPPLAB Gateway</title></head>
<body><h1>OCPPLAB Gateway</h1>
<p>An OCPP fleet simulation gateway: simulated charge points, driven over REST, talking to your CSMS.</p>
<ul><li><a href="/openapi.json">/openapi.json</a> (the API)</li><li><a href="/docs">/docs</a></li>
<li><a href="/health">/health</a></li></ul></body></html>
"""


@bp.get("/")
async def landing() -> tuple[str, int, dict[str, str]]:
    return LANDING, 200, {"Content-Type": "text/html; charset=utf-8"}


class HealthResponse(BaseModel):
    """Every value a string: the SDK parses Dict[str, str]."""

    model_config = ConfigDict(extra="allow")
    status: str
    version: str


@bp.get("/health")
@responds(HealthResponse, errors=())
async def health() -> dict[str, str]:
    """Every value is a string (the SDK parses Dict[str, str])."""
    return {"status": "ok", "version": services().version}
