"""proxy-message: one charge-point-to-CSMS message, built from snake_case fields as the `ocpp` library names them and
checked against the official schema of the charger's OCPP version before anything is sent."""

from __future__ import annotations

import importlib
from dataclasses import asdict
from typing import Any

from ocpp.charge_point import remove_nones, snake_to_camel_case
from ocpp.exceptions import OCPPError
from ocpp.messages import Call, _validate_payload

PROXY_ACTIONS = (
    "authorize",
    "boot_notification",
    "data_transfer",
    "diagnostics_status_notification",
    "firmware_status_notification",
    "heartbeat",
    "meter_values",
    "notify_customer_information",
    "notify_event",
    "notify_report",
    "publish_firmware_status_notification",
    "report_charging_profiles",
    "reservation_status_update",
    "security_event_notification",
    "start_transaction",
    "status_notification",
    "stop_transaction",
    "transaction_event",
)
PROXY_VERSIONS = {"ocpp1.6": "OCPP1.6", "ocpp2.0.1": "OCPP2.0.1"}
_MODULES = {"OCPP1.6": ("ocpp.v16.call", "1.6"), "OCPP2.0.1": ("ocpp.v201.call", "2.0.1")}


class InvalidMessage(ValueError):
    """The action does not exist in the version, or the payload does not fit its schema."""


def action_name(action: str) -> str:
    """boot_notification -> BootNotification."""
    return "".join(part.capitalize() for part in action.split("_"))


def build_call(ocpp_version: str, action: str, payload: dict[str, Any]) -> Any:
    """The ocpp library's call payload for `action`, validated against the official JSON schema."""
    module_name, schema_version = _MODULES[ocpp_version]
    name = action_name(action)
    cls = getattr(importlib.import_module(module_name), name, None)
    if cls is None:
        raise InvalidMessage(f"{action} is not a charge point message of {ocpp_version}")
    try:
        message = cls(**payload)
    except TypeError as error:
        raise InvalidMessage(f"payload does not fit {name} ({ocpp_version}): {_plain(error)}") from None
    frame = Call(unique_id="proxy", action=name, payload=remove_nones(snake_to_camel_case(asdict(message))))
    try:
        _validate_payload(frame, schema_version)
    except OCPPError as error:
        cause = (error.details or {}).get("cause") if isinstance(error.details, dict) else None
        first_line = str(cause or error.description).split("\n")[0]
        raise InvalidMessage(f"payload does not fit the {ocpp_version} {name} schema: {first_line}") from None
    return message


def _plain(error: TypeError) -> str:
    return str(error).replace("__init__() ", "")
