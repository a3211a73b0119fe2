"""What the command tests of charger state and of command records share: configuration keys per OCPP version,
the connector statuses a CSMS saw, the CSMS's own view of a charger's configuration and local list, and the
REST calls the tests repeat (commands-contract.md; api.md 6.5-6.11)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx
from ocpp.v16 import call as call16
from ocpp.v201 import call as call201

from adapters.csms.server import CsmsServer
from tests.e2e.conftest import Api, eventually

HEARTBEAT = 5
"""The test CSMS's heartbeat interval: the wire stays quiet while a test acts, and a charger whose stop races
with an answer in flight is let go by its next heartbeat (see test_simulator_csms_calls_16)."""

FAULT_ERROR_CODES = {
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
"""simulation.md: every fault type the API accepts, and the OCPP 1.6 errorCode its StatusNotification carries."""

START_FIRST = "start the charger first"


@dataclass(frozen=True)
class Keys:
    """Configuration keys of one OCPP version as the REST API names them (1.6 keys; 2.0.1 'Component.Variable')."""

    heartbeat: str
    writable: str  # a writable integer key that changes nothing on the wire
    read_only: str
    unknown: str
    other_version: str  # the heartbeat key as the other OCPP version names it: unknown here


KEYS = {
    "OCPP1.6": Keys(
        heartbeat="HeartbeatInterval",
        writable="ConnectionTimeOut",
        read_only="NumberOfConnectors",
        unknown="NoSuchKey",
        other_version="OCPPCommCtrlr.HeartbeatInterval",
    ),
    "OCPP2.0.1": Keys(
        heartbeat="OCPPCommCtrlr.HeartbeatInterval",
        writable="TxCtrlr.EVConnectionTimeOut",
        read_only="ChargingStation.SerialNumber",
        unknown="NoSuchCtrlr.Enabled",
        other_version="HeartbeatInterval",
    ),
}

TIME_VARYING = {"ClockCtrlr.DateTime"}
"""Keys whose value moves with the clock: left out when comparing configurations before and after."""


def command_version(version: str) -> str:
    """The spelling of an OCPP version on commands and proxy-message: ocpp1.6 / ocpp2.0.1."""
    return version.lower()


def connector(version: str, number: int = 1) -> dict[str, int]:
    """Selects connector `number` (1.6) / EVSE `number` (2.0.1, its connector 1)."""
    return {"connector_id": number} if version == "OCPP1.6" else {"evse_id": number, "connector_id": 1}


# -- the wire as the CSMS saw it ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Status:
    """One StatusNotification, whatever the version: `connector` is the 1.6 connectorId or the 2.0.1 evseId."""

    connector: int
    status: str
    error_code: str | None
    payload: dict[str, Any]


def statuses(csms: CsmsServer, identity: str) -> list[Status]:
    found = []
    for _, payload in csms.received(identity, "StatusNotification"):
        if "connectorStatus" in payload:
            found.append(Status(payload["evseId"], payload["connectorStatus"], None, payload))
        else:
            found.append(Status(payload["connectorId"], payload["status"], payload.get("errorCode"), payload))
    return found


async def wait_status(
    csms: CsmsServer, identity: str, connector_number: int, status: str, after: int = 0, timeout: float = 10.0
) -> Status:
    """The first StatusNotification `status` of the connector among those after the first `after`."""

    def found() -> Status | None:
        return next(
            (s for s in statuses(csms, identity)[after:] if s.connector == connector_number and s.status == status),
            None,
        )

    return await eventually(found, timeout, f"StatusNotification {status} of connector {connector_number}")


def calls_after(csms: CsmsServer, identity: str, seen: int) -> list[tuple[str, dict[str, Any]]]:
    """The CALLs the charger sent after the first `seen` ones."""
    return csms.received(identity)[seen:]


def transaction_events(csms: CsmsServer, identity: str, event_type: str) -> list[dict[str, Any]]:
    return [payload for _, payload in csms.received(identity, "TransactionEvent") if payload["eventType"] == event_type]


async def wait_transaction_started(csms: CsmsServer, identity: str, version: str) -> None:
    if version == "OCPP1.6":
        await csms.wait_for(identity, "StartTransaction")
    else:
        await eventually(lambda: transaction_events(csms, identity, "Started"), what="TransactionEvent Started")


def stop_index(csms: CsmsServer, identity: str, version: str) -> int | None:
    """The index (among every CALL the charger sent) of its first transaction stop: StopTransaction or
    TransactionEvent Ended."""
    for index, (action, payload) in enumerate(csms.received(identity)):
        if action == "StopTransaction" or (action == "TransactionEvent" and payload["eventType"] == "Ended"):
            return index
    return None


def stop_reason(csms: CsmsServer, identity: str, version: str) -> str | None:
    index = stop_index(csms, identity, version)
    if index is None:
        return None
    _, payload = csms.received(identity)[index]
    return payload.get("reason") if version == "OCPP1.6" else payload["transactionInfo"].get("stoppedReason")


async def csms_local_list_version(csms: CsmsServer, identity: str, version: str) -> int:
    """GetLocalListVersion, asked by the CSMS."""
    if version == "OCPP1.6":
        return (await csms.call(identity, call16.GetLocalListVersion())).list_version
    return (await csms.call(identity, call201.GetLocalListVersion())).version_number


async def csms_config_value(csms: CsmsServer, identity: str, version: str, key: str) -> str | None:
    """One key's value as the CSMS reads it: GetConfiguration (1.6) / GetVariables (2.0.1)."""
    if version == "OCPP1.6":
        answer = await csms.call(identity, call16.GetConfiguration(key=[key]))
        return answer.configuration_key[0]["value"]
    component, variable = key.split(".", 1)
    answer = await csms.call(
        identity,
        call201.GetVariables(get_variable_data=[{"component": {"name": component}, "variable": {"name": variable}}]),
    )
    return answer.get_variable_result[0].get("attribute_value")


# -- REST -----------------------------------------------------------------------------------------------------


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json()


def detail(response: httpx.Response, status: int) -> str:
    """The string detail of an error answer (api.md 3)."""
    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.text}"
    body = response.json()
    assert isinstance(body, dict) and isinstance(body.get("detail"), str) and body["detail"], body
    return body["detail"]


def validation_items(response: httpx.Response, where: str, field: str) -> list[dict[str, Any]]:
    """FastAPI's 422 shape with at least one item at [where, field]."""
    assert response.status_code == 422, f"{response.request.method} {response.request.url}: {response.text}"
    items = response.json()["detail"]
    assert isinstance(items, list) and items, items
    for item in items:
        assert isinstance(item["loc"], list) and isinstance(item["msg"], str) and isinstance(item["type"], str), item
    assert any(item["loc"][:2] == [where, field] for item in items), items
    return items


async def configuration(api: Api, charger_id: str, keys: list[str] | None = None) -> dict[str, str | None]:
    """GET /chargers/{id}/configuration as {key: value}."""
    params = {"keys": ",".join(keys)} if keys is not None else None
    body = ok(await api.http.get(f"/chargers/{charger_id}/configuration", params=params))
    return {entry["key"]: entry.get("value") for entry in body["configuration"]}


async def stable_configuration(api: Api, charger_id: str) -> dict[str, str | None]:
    return {k: v for k, v in (await configuration(api, charger_id)).items() if k not in TIME_VARYING}


async def local_list(api: Api, charger_id: str, **params: Any) -> dict[str, Any]:
    return ok(await api.http.get(f"/chargers/{charger_id}/local-auth-list", params=params))


async def command_ids(api: Api, charger_id: str) -> list[str]:
    """The ids of every command record of the charger (GET /chargers/{id}/commands, all pages)."""
    ids: list[str] = []
    page = 1
    while True:
        body = ok(await api.http.get(f"/chargers/{charger_id}/commands", params={"page": page, "limit": 100}))
        ids += [doc["id"] for doc in body["data"]]
        if len(ids) >= body["total"] or not body["data"]:
            return ids
        page += 1


async def requested_commands(api: Api) -> int:
    """How many commands the tenant's event log says were requested."""
    body = ok(await api.http.get("/events", params={"type": "Command.Requested", "limit": 1000}))
    return len(body["data"])


async def command_event_types(api: Api, command_id: str) -> list[str]:
    """The types of a command's events, in log order (GET /events?aggregate_id=)."""
    body = ok(await api.http.get("/events", params={"aggregate_id": command_id, "limit": 100}))
    return [record["type"] for record in body["data"]]


async def wait_status_in_view(
    api: Api, charger_id: str, connector_number: int, status: str, timeout: float = 10.0
) -> dict[str, Any]:
    """Waits until the charger's `connectors` (extension field) show the connector (1.6) / EVSE (2.0.1) in
    `status`."""

    def matches(doc: dict[str, Any]) -> bool:
        for entry in doc.get("connectors") or []:
            number = entry.get("evse_id") if doc["ocpp_version"] == "OCPP2.0.1" else entry.get("connector_id")
            if number == connector_number and entry.get("status") == status:
                return True
        return False

    return await api.wait_charger(charger_id, matches, timeout, f"connector {connector_number} {status} in the view")


def elapsed_since(start: float) -> float:
    return time.monotonic() - start
