"""The OpenAPI document: quart-schema's, plus what its decorators cannot say (204 answers, public routes, answers
that are not JSON: the live stream's events, the dashboard's files)."""

from __future__ import annotations

from typing import Any

from quart_schema import OpenAPIProvider

from adapters.http.auth import PUBLIC_PATHS, PUBLIC_PREFIXES

NOT_JSON = {
    "/stream": (
        "text/event-stream",
        "Server-sent events: hello, locations, chargers, removed, meters, commands, frames, ready (docs/stream.md)",
    ),
    "/ui/": ("text/html", "The dashboard's page"),
    "/ui/{filename}": ("application/octet-stream", "The dashboard's static files (HTML, CSS, JavaScript modules)"),
}


class GatewayOpenAPI(OpenAPIProvider):
    def schema(self) -> dict[str, Any]:
        document = super().schema()
        for path, operations in document["paths"].items():
            for method, operation in operations.items():
                responses = operation.setdefault("responses", {})
                if method == "delete" and not any(str(code).startswith("2") for code in responses):
                    responses[204] = {"description": "Deleted (no content)"}
                if path in NOT_JSON and not any(str(code).startswith("2") for code in responses):
                    media, description = NOT_JSON[path]
                    responses[200] = {"description": description, "content": {media: {"schema": {"type": "string"}}}}
                if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
                    operation["security"] = []  # reachable without a token
        return document
