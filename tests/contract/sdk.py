"""What the SDK contract tests share: request options, valid request fields, fresh tenant ids."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from ocpplab.types import Coordinates

SDK_TIMEOUT = 60.0
"""The SDK's own default timeout, for the httpx clients the tests hand it."""

NO_RETRY: Any = {"max_retries": 0}
"""request_options for calls expected to fail: an error answer must surface at once, never be replayed."""

SITE: dict[str, Any] = {
    "name": "La Defense Charging Hub",
    "address": "14 Rue de la Paix",
    "city": "Paris",
    "country": "FR",
    "coordinates": Coordinates(latitude=48.8566, longitude=2.3522),
}
"""The required fields of a location."""

PULSAR_PLUS: dict[str, Any] = {
    "brand_slug": "wallbox",
    "model_slug": "wallbox-pulsar-plus",
    "connector_type": "Type2",
    "ws_url": "ws://csms.example.test/ocpp",
}
"""A catalog model with one Type2 connector (22 kW AC), and a CSMS to connect to."""

TERRA_184: dict[str, Any] = {
    "brand_slug": "abb",
    "model_slug": "terra-184",
    "connector_type": "CCS2",
    "ws_url": "wss://csms.example.test/ocpp",
}
"""A catalog model with two connector types (CCS2 and CHAdeMO, 180 kW DC)."""


def new_org() -> str:
    return f"org-{uuid4().hex[:8]}"


RUNTIME_FIELDS = {
    "runtime_status",
    "runtime_error",
    "connected_at",
    "last_frame_at",
    "heartbeat_interval",
    "connectors",
}


def desired(charger: Any) -> dict[str, Any]:
    """A charger's desired state: what the API set, without what the simulator observes (it moves on its own)."""
    return {key: value for key, value in charger.model_dump().items() if key not in RUNTIME_FIELDS}
