"""The OpenAPI document: quart-schema's, plus what its decorators cannot say (204 answers, public routes)."""

from __future__ import annotations

from typing import Any

from quart_schema import OpenAPIProvider

from adapters.http.auth import PUBLIC_PATHS


class GatewayOpenAPI(OpenAPIProvider):
    def schema(self) -> dict[str, Any]:
        document = super().schema()
        for path, operations in document["paths"].items():
            for method, operation in operations.items():
                responses = operation.setdefault("responses", {})
                if method == "delete" and not any(str(code).startswith("2") for code in responses):
                    responses[204] = {"description": "Deleted (no content)"}
                if path in PUBLIC_PATHS:
                    operation["security"] = []  # reachable without a token
        return document
