"""The dashboard: static files under /ui/ (HTML, CSS, ES modules), no build step, nothing from outside.

The page carries no secret: it asks for the token itself, so these files need none. A strict Content-Security-
Policy keeps every request of the page on this gateway (it must work air-gapped, and a token must never leave)."""

from __future__ import annotations

from pathlib import Path

from quart import Blueprint, Response, redirect, send_from_directory

UI_DIR = Path(__file__).resolve().parent.parent / "ui"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

bp = Blueprint("ui", __name__, static_folder=str(UI_DIR), static_url_path="/ui")


@bp.get("/ui")
async def ui_root() -> Response:
    return redirect("/ui/")  # type: ignore[return-value]


@bp.get("/ui/")
async def ui_index() -> Response:
    """The single page; its views live in the URL fragment (#/chargers/<id>), which never reaches a server."""
    return await send_from_directory(UI_DIR, "index.html")


@bp.after_request
async def protect(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-cache"
    return response
