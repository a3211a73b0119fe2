"""A command: what a user asked a charger to do, and what became of it (queued, sent, completed or failed)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import Conflict, InvalidValue
from domain.instants import instant

TERMINAL = frozenset({"completed", "failed", "expired"})
LIFECYCLE_KINDS = frozenset({"start_charger", "stop_charger", "reset_charger"})
LOCAL_KINDS = frozenset({"set_configuration", "reset_cache", "send_local_list", "clear_local_list"})
"""Commands that change the charge point's own state only: they apply whether it runs or not."""
WIRE_KINDS = frozenset(
    {
        "plug_connector",
        "unplug_connector",
        "unlock_connector",
        "start_session",
        "stop_session",
        "start_transaction",
        "stop_transaction",
        "authorize_id_tag",
        "ev_requests_energy",
        "ev_stops_energy",
        "power_update",
        "proxy_message",
        "inject_fault",
        "clear_fault",
        "reserve_now",
        "cancel_reservation",
    }
)
"""Commands a connected charge point carries out on the wire: a stopped charger refuses them."""
DRIVER_KINDS = WIRE_KINDS - {"authorize_id_tag", "proxy_message"}
"""What happens at the charge point itself (a driver, the EV, the hardware): carried out at once also while the CSMS
is unreachable; its transaction messages wait in the charge point's queue. The others need the CSMS's answer."""
FAULT_ERROR_CODES = {  # fault type -> OCPP 1.6 ChargePointErrorCode
    "GroundFault": "GroundFailure",
    "OverCurrent": "OverCurrentFailure",
    "OverVoltage": "OverVoltage",
    "UnderVoltage": "UnderVoltage",
    "OverTemperature": "HighTemperature",
    "InternalError": "InternalError",
    "ConnectorLockFailure": "ConnectorLockFailure",
    "EVCommunicationError": "EVCommunicationError",
    "PowerMeterFailure": "PowerMeterFailure",
    "WeakSignal": "WeakSignal",
}
ID_TAG_LIMITS = {"OCPP1.6": 20, "OCPP2.0.1": 36}  # idTag CiString20 / idToken string[36]


def select_connector(ocpp_version: str, connector_count: int, evse_id: int | None, connector_id: int | None) -> dict:
    """The connector a command addresses, as its payload names it: 1.6 {connector_id} (connector 1 unless given),
    2.0.1 {evse_id, connector_id} (EVSE 1, connector 1 unless given; each EVSE has one connector)."""
    if ocpp_version == "OCPP1.6":
        number = connector_id if connector_id is not None else (evse_id if evse_id is not None else 1)
        if not 1 <= number <= connector_count:
            raise InvalidValue("connector_id", f"the charger has no connector {number} (it has {connector_count})")
        return {"connector_id": number}
    if evse_id is None and connector_id is not None:
        evse_id, connector_id = connector_id, 1  # each EVSE has one connector: "connector n" is EVSE n
    evse = evse_id if evse_id is not None else 1
    if not 1 <= evse <= connector_count:
        raise InvalidValue("evse_id", f"the charger has no EVSE {evse} (it has {connector_count})")
    if connector_id not in (None, 1):
        raise InvalidValue("connector_id", f"EVSE {evse} has no connector {connector_id} (each EVSE has connector 1)")
    return {"evse_id": evse, "connector_id": 1}


def check_id_tag(ocpp_version: str, id_tag: str) -> str:
    limit = ID_TAG_LIMITS.get(ocpp_version, 20)
    if not id_tag or len(id_tag) > limit:
        raise InvalidValue("id_tag", f"must be 1 to {limit} characters for {ocpp_version}")
    return id_tag


SELECTING_KINDS = WIRE_KINDS - {"stop_transaction", "authorize_id_tag", "proxy_message", "cancel_reservation"}
MAX_INT = 2**31 - 1


def command_payload(kind: str, ocpp_version: str, connector_count: int, body: dict[str, Any]) -> dict[str, Any]:
    """A command's payload as the charge point will carry it out: the connector named in the charger's OCPP
    terms, and every input checked (InvalidValue otherwise)."""
    payload: dict[str, Any] = {}
    if kind == "reserve_now" and 0 in (body.get("connector_id"), body.get("evse_id")):
        payload["connector_id" if ocpp_version == "OCPP1.6" else "evse_id"] = 0  # the charger, any connector
    elif kind in SELECTING_KINDS:
        payload.update(select_connector(ocpp_version, connector_count, body.get("evse_id"), body.get("connector_id")))
    if kind in ("start_session", "start_transaction", "authorize_id_tag", "reserve_now"):
        payload["id_tag"] = check_id_tag(ocpp_version, body.get("id_tag") or "")
    if kind == "reserve_now":
        payload.update(_reservation_fields(ocpp_version, body))
    if kind == "cancel_reservation":
        payload["reservation_id"] = _reservation_id(body.get("reservation_id"), required=True)
    if kind == "power_update":
        payload["power_w"] = int(body["power_w"])
    if kind == "stop_transaction":
        payload["transaction_id"] = body.get("transaction_id")
    if kind == "inject_fault":
        if body.get("fault_type") not in FAULT_ERROR_CODES:
            raise InvalidValue("fault_type", f"must be one of {', '.join(FAULT_ERROR_CODES)}")
        payload["fault_type"] = body["fault_type"]
    if kind in LOCAL_KINDS or kind == "proxy_message":
        payload.update(body)
    if kind == "send_local_list":
        tags = [entry["id_tag"] for entry in body["entries"]]
        if len(set(tags)) != len(tags):
            raise InvalidValue("entries", "an id_tag appears more than once")
    return payload


def _reservation_fields(ocpp_version: str, body: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    expiry = body.get("expiry_date")
    if expiry is not None:
        moment = expiry if isinstance(expiry, datetime) else _moment(str(expiry))
        fields["expiry_date"] = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()
    if body.get("reservation_id") is not None:
        fields["reservation_id"] = _reservation_id(body["reservation_id"])
    if body.get("parent_id_tag"):
        fields["parent_id_tag"] = check_id_tag(ocpp_version, body["parent_id_tag"])
    return fields


def _moment(text: str) -> datetime:
    try:
        return instant(text)
    except ValueError:
        raise InvalidValue("expiry_date", "must be an ISO 8601 date and time") from None


def _reservation_id(value: Any, required: bool = False) -> int:
    if (value is None and required) or (value is not None and not (isinstance(value, int) and 0 <= value <= MAX_INT)):
        raise InvalidValue("reservation_id", f"must be an integer from 0 to {MAX_INT}")
    return int(value)


class Command(Aggregate):
    """Created by the API when a command is queued; the simulator records its outcome."""

    @event("Requested")
    def __init__(self, tenant_id: str, charger_id: UUID, kind: str, payload: dict[str, Any], ocpp_version: str) -> None:
        self.tenant_id = tenant_id
        self.charger_id = charger_id
        self.kind = kind
        self.payload = payload
        self.ocpp_version = ocpp_version
        self.status = "queued"
        self.result: dict[str, Any] | None = None
        self.reason: str | None = None
        self.message_id: str | None = None

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    def mark_sent(self, message_id: str | None) -> None:
        self._check_open()
        if self.status == "queued":
            self._sent(message_id=message_id)

    @event("Sent")
    def _sent(self, message_id: str | None) -> None:
        self.status = "sent"
        self.message_id = message_id

    def complete(self, result: dict[str, Any]) -> None:
        self._check_open()
        self._completed(result=result)

    @event("Completed")
    def _completed(self, result: dict[str, Any]) -> None:
        self.status = "completed"
        self.result = result

    def fail(self, reason: str, result: dict[str, Any] | None = None) -> None:
        self._check_open()
        self._failed(reason=reason, result=result)

    @event("Failed")
    def _failed(self, reason: str, result: dict[str, Any] | None) -> None:
        self.status = "failed"
        self.reason = reason
        self.result = result

    def expire(self) -> None:
        self._check_open()
        self._expired()

    @event("Expired")
    def _expired(self) -> None:
        self.status = "expired"
        self.reason = "expired: the charger did not come online in time"

    def _check_open(self) -> None:
        if self.done:
            raise Conflict(f"command already {self.status}")
