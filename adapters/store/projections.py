"""Pure folds from domain events to the documents the REST routes serve.

Each fold takes the current document (or None) and one event and returns the next document (or None when
the resource is gone). They are the single definition of what a view row means, shared by the live
projection, `replay` and tests.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from adapters.certificates import certificate_facts
from domain.security import effective_profile

TENANT_TOPIC = "domain.tenant:Tenant.Registered"
LOCATION_PREFIX = "domain.location:Location."
CHARGER_PREFIX = "domain.charger:Charger."
RUNTIME_PREFIX = "domain.runtime:ChargerRuntime."
COMMAND_PREFIX = "domain.command:Command."
FRAME_TOPIC = "domain.frames:FrameRecorded"


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
            "has_authorization_key": bool(getattr(event, "authorization_key", None)),
            **_tls_view(
                {
                    "security_profile": getattr(event, "security_profile", None),
                    "csms_ca_certificate": getattr(event, "csms_ca_certificate", None),
                    "client_certificate": getattr(event, "client_certificate", None),
                    "client_private_key": getattr(event, "client_private_key", None),
                }
            ),
            "created_at": at,
            "updated_at": at,
        }
    if doc is None:
        return None
    if name == "Updated":
        changes = dict(event.changes)
        if "authorization_key" in changes:  # sealed: the view only says whether there is one
            changes["has_authorization_key"] = bool(changes.pop("authorization_key"))
        changes.update(_tls_view(changes))
        return {**doc, **changes, "updated_at": at}
    if name == "RuntimeWanted":
        return {**doc, "desired_state": "running" if event.running else "stopped", "updated_at": at}
    if name == "Moved":
        return {**doc, "location_id": str(event.location_id), "updated_at": at}
    if name == "Deleted":
        return None
    return doc


def present_charger(doc: dict) -> dict:
    """A charger's document as the API serves it, live or as of a moment: the security profile it runs (the one
    set, else what its URL implies)."""
    return {**doc, "security_profile": effective_profile(doc.get("security_profile"), doc["ws_url"])}


def _tls_view(fields: dict[str, Any]) -> dict[str, Any]:
    """What the view shows of TLS settings (popped from `fields`): the explicit profile (the read side adds the
    default), whether there is a CA bundle, and the client certificate's facts; never the (sealed) key."""
    shown: dict[str, Any] = {}
    if "security_profile" in fields:
        shown["security_profile"] = fields.pop("security_profile")
    if "csms_ca_certificate" in fields:
        shown["has_csms_ca_certificate"] = bool(fields.pop("csms_ca_certificate"))
    fields.pop("client_private_key", None)
    if "client_certificate" in fields:
        certificate = fields.pop("client_certificate")
        shown["has_client_certificate"] = bool(certificate)
        try:
            shown.update(certificate_facts(certificate))
        except ValueError:
            shown.update(certificate_facts(None))
    return shown


def fold_runtime(doc: dict | None, event: Any) -> dict | None:
    """The observed state a charger shows next to its desired state (runtime_status, connectors)."""
    name = event_name(event)
    if name == "Opened":
        return {
            "charger_id": str(event.charger_id),
            "runtime_status": "stopped",
            "connected_at": None,
            "heartbeat_interval": None,
            "connectors": {},
        }
    if doc is None:
        return None
    if name == "Connecting":
        return {**doc, "runtime_status": "connecting", "connected_at": None}
    if name == "Connected":
        return {**doc, "runtime_status": "connected", "connected_at": event.at, "runtime_error": None}
    if name == "ConnectFailed":
        return {**doc, "runtime_error": event.error}
    if name == "Disconnected":
        return {**doc, "runtime_status": "connecting", "connected_at": None}
    if name == "BootAnswered":
        status = {"Accepted": "booted", "Rejected": "rejected"}.get(event.status, "connected")
        return {**doc, "runtime_status": status, "heartbeat_interval": event.interval}
    if name == "ConnectorStatusChanged":
        key = f"{event.evse_id}/{event.connector_id}"
        connector = {
            "evse_id": event.evse_id,
            "connector_id": event.connector_id,
            "status": event.status,
            "error_code": event.error_code,
        }
        previous = doc["connectors"].get(key, {})
        connector["transaction_id"] = previous.get("transaction_id")
        return {**doc, "connectors": {**doc["connectors"], key: connector}}
    if name in ("TransactionStarted", "TransactionEnded"):
        key = f"{event.evse_id}/{event.connector_id}"
        connector = {
            "evse_id": event.evse_id,
            "connector_id": event.connector_id,
            "status": None,
            "error_code": None,
            **doc["connectors"].get(key, {}),
            "transaction_id": event.transaction_id if name == "TransactionStarted" else None,
        }
        return {**doc, "connectors": {**doc["connectors"], key: connector}}
    if name == "Stopped":
        return {**doc, "runtime_status": "stopped", "connected_at": None}
    return doc


def fold_command(doc: dict | None, event: Any) -> dict | None:
    """A command record: the QueuedCommandResponse fields plus its lifecycle."""
    name = event_name(event)
    at = iso(event.timestamp)
    if name == "Requested":
        return {
            "id": str(event.originator_id),
            "event_type": event.kind,
            "ocpp_version": event.ocpp_version,
            "payload": event.payload,
            "charger_id": str(event.charger_id),
            "status": "queued",
            "result": None,
            "reason": None,
            "message_id": None,
            "created_at": at,
            "updated_at": at,
        }
    if doc is None:
        return None
    if name == "Sent":
        return {**doc, "status": "sent", "message_id": event.message_id, "updated_at": at}
    if name == "Completed":
        return {**doc, "status": "completed", "result": event.result, "updated_at": at}
    if name == "Failed":
        return {**doc, "status": "failed", "reason": event.reason, "result": event.result, "updated_at": at}
    if name == "Expired":
        return {
            **doc,
            "status": "expired",
            "reason": "expired: the charger did not come online in time",
            "updated_at": at,
        }
    return doc


ENVELOPE = frozenset({"originator_id", "originator_version", "timestamp", "meta", "originator_topic"})


def jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float)):
        return value
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    return value


def event_record(position: int, event: Any) -> dict[str, Any]:
    """An event as auditors read it: where it sits in the log, what it is, who caused it, what it says."""
    meta = getattr(event, "meta", None) or {}
    actor = meta.get("actor") or {}
    return audit_record(
        position,
        type(event).__qualname__,
        str(event.originator_id),
        event.originator_version,
        iso(event.timestamp),
        meta.get("tenant_id", ""),
        actor.get("sub"),
        actor.get("role"),
        meta.get("request_id") or None,
        vars(event),
    )


def audit_record(
    position: int,
    kind: str,
    aggregate_id: str,
    version: int,
    timestamp: str,
    tenant_id: str,
    actor_sub: str | None,
    actor_role: str | None,
    request_id: str | None,
    state: dict[str, Any],
) -> dict[str, Any]:
    """The one shape of an event for auditors (GET /events, histories, exports)."""
    return {
        "position": position,
        "id": f"{aggregate_id}:{version}",  # unique: one version per aggregate
        "type": kind,
        "aggregate_type": kind.rpartition(".")[0] or "FrameLog",
        "aggregate_id": aggregate_id,
        "version": version,
        "timestamp": timestamp,
        "tenant_id": tenant_id,
        "actor": {"sub": actor_sub, "role": actor_role},
        "request_id": request_id,
        "data": {k: jsonable(v) for k, v in state.items() if k not in ENVELOPE},
    }
