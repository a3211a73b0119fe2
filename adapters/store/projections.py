"""Pure folds from domain events to the documents the REST routes serve.

Each fold takes the current document (or None) and one event and returns the next document (or None when
the resource is gone). They are the single definition of what a view row means, shared by the live
projection, `replay` and tests.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

TENANT_TOPIC = "domain.tenant:Tenant.Registered"
LOCATION_PREFIX = "domain.location:Location."
CHARGER_PREFIX = "domain.charger:Charger."


def iso(moment: datetime) -> str:
    """UTC timestamps as sortable ISO-8601 with a Z suffix and fixed microsecond precision."""
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def event_name(event: Any) -> str:
    return type(event).__qualname__.rsplit(".", 1)[-1]


def fold_location(doc: dict | None, event: Any) -> dict | None:
    name = event_name(event)
    at = iso(event.timestamp)
    if name == "Created":
        site = event.site
        return {
            "id": str(event.originator_id),
            "slug": site.get("slug"),
            "name": site.get("name"),
            "address": site.get("address"),
            "city": site.get("city"),
            "country": site.get("country"),
            "coordinates": site.get("coordinates"),
            "timezone": site.get("timezone"),
            "owner_name": site.get("owner_name"),
            "public": site.get("public", False),
            "status": site.get("status", "active"),
            "charger_count": 0,
            "created_at": at,
            "updated_at": at,
        }
    if doc is None:
        return None
    if name == "Updated":
        return {**doc, **event.changes, "updated_at": at}
    if name == "ChargerAttached":
        return {**doc, "charger_count": doc["charger_count"] + 1, "updated_at": at}
    if name == "ChargerDetached":
        return {**doc, "charger_count": max(0, doc["charger_count"] - 1), "updated_at": at}
    if name == "Deleted":
        return None
    return doc


def fold_charger(doc: dict | None, event: Any) -> dict | None:
    name = event_name(event)
    at = iso(event.timestamp)
    if name == "Registered":
        model = event.model
        return {
            "id": str(event.originator_id),
            "identity": event.identity,
            "name": event.name,
            "vendor_name": model["brand_name"],
            "model": model["model_name"],
            "image_url": model.get("image_url"),
            "ocpp_version": event.ocpp_version,
            "number_of_connectors": model["connector_count"],
            "max_charging_power": model["max_power_w"],
            "connector_type": event.connector_type,
            "location_id": str(event.location_id),
            "brand_slug": model["brand_slug"],
            "model_slug": model["model_slug"],
            "current_type": model["current_type"],
            "ws_url": event.ws_url,
            "desired_state": "running",
            "created_at": at,
            "updated_at": at,
        }
    if doc is None:
        return None
    if name == "Updated":
        return {**doc, **event.changes, "updated_at": at}
    if name == "Moved":
        return {**doc, "location_id": str(event.location_id), "updated_at": at}
    if name == "Deleted":
        return None
    return doc
