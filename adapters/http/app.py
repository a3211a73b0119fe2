"""The Quart application: blueprints, auth, error shapes, OpenAPI, and the read side's lifecycle."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from quart import Quart, Response, g
from quart_schema import Info, QuartSchema

from adapters.http.auth import authenticate
from adapters.http.context import Services
from adapters.http.errors import register_error_handlers
from adapters.http.openapi import GatewayOpenAPI
from adapters.http.routes import (
    audit,
    catalog,
    charger_state,
    chargers,
    commands,
    locations,
    organizations,
    provisioning,
    root,
    runtime,
    stream,
    ui,
)

MAX_BODY_BYTES = 1024 * 1024


def create_app(services: Services, follow_interval: float = 0.25) -> Quart:
    app = Quart("ocpplab_gateway")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    QuartSchema(
        app,
        info=Info(
            title="OCPPLAB Gateway",
            version=services.version,
            description="OCPP fleet simulation gateway, wire-compatible with the OCPPLAB Gateway API (SDK 0.1.1).",
        ),
        security_schemes={"bearer": {"type": "http", "scheme": "bearer", "bearer_format": "JWT"}},
        security=[{"bearer": []}],
        openapi_provider_class=GatewayOpenAPI,
    )
    app.json.sort_keys = False  # type: ignore[attr-defined] - keep the contract's field order
    app.extensions["ocpplab"] = services
    app.before_request(authenticate)

    @app.after_request
    async def tag_request(response: Response) -> Response:
        request_id = g.get("request_id")
        if request_id:
            response.headers["X-Request-Id"] = request_id
        return response

    for module in (
        root,
        catalog,
        organizations,
        locations,
        chargers,
        provisioning,
        runtime,
        commands,
        charger_state,
        audit,
        stream,
        ui,
    ):
        app.register_blueprint(module.bp)
    register_error_handlers(app)

    background: dict[str, asyncio.Task[Any]] = {}

    @app.before_serving
    async def open_read_side() -> None:
        await services.views.open()
        await services.views.catch_up()
        background["follow"] = asyncio.create_task(services.views.follow(follow_interval))
        services.gateway.saved_listeners.append(services.views.wake)
        services.views.batch_listeners.append(services.feed.publish)
        if services.fleet is not None:
            await services.fleet.start()

    @app.after_serving
    async def close_read_side() -> None:
        try:
            if services.fleet is not None:
                await services.fleet.stop()  # chargers disconnect cleanly, buffered frames are flushed
        finally:
            task = background.pop("follow", None)
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            services.feed.close()
            await services.views.close()
            services.gateway.close()

    return app
