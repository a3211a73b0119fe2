"""Helpers of the command tests: posting commands (one charger or a location), reading the wire as calls since a
mark, and reading meter values of both OCPP versions the same way."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from adapters.csms.server import CsmsServer
from tests.e2e.conftest import WAIT, Api, calls_from_cp, csms_answer_to, eventually
from tests.support import ROOT

TAG = "TAG-RFID-001"
ENERGY = "Energy.Active.Import.Register"
POWER = "Power.Active.Import"
SAMPLE_INTERVAL_KEY = {"OCPP1.6": "MeterValueSampleInterval", "OCPP2.0.1": "SampledDataCtrlr.TxUpdatedInterval"}


def max_power_w(model: dict[str, str]) -> int:
    """The catalog's max power (W) of a model: what a session charges at unless power-update lowers it."""
    catalog = json.loads((ROOT / "adapters" / "catalog" / "catalog.json").read_text())
    brand = next(b for b in catalog["brands"] if b["slug"] == model["brand_slug"])
    return int(next(m for m in brand["models"] if m["slug"] == model["model_slug"])["max_power_w"])


# -- the REST side --------------------------------------------------------------------------------------------


async def command(
    api: Api,
    charger_id: str,
    path: str,
    body: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
    expect: int = 200,
) -> dict[str, Any]:
    """POST /chargers/{id}/{path} with a JSON body (`{}` when none); the answer's JSON."""
    response = await api.http.post(f"/chargers/{charger_id}/{path}", json=body or {}, params=params)
    assert response.status_code == expect, f"{path}: {response.status_code} {response.text}"
    return response.json()


async def location_command(
    api: Api, location_id: str, path: str, body: dict[str, Any] | None = None, expect: int = 200
) -> dict[str, Any]:
    """POST /locations/{id}/chargers/{path}; the LocationCommandResponse."""
    response = await api.http.post(f"/locations/{location_id}/chargers/{path}", json=body or {})
    assert response.status_code == expect, f"{path}: {response.status_code} {response.text}"
    return response.json()


async def completed(api: Api, queued: dict[str, Any], timeout: float = WAIT) -> dict[str, Any]:
    """Waits for a queued command to end; asserts it completed; its record."""
    record = await api.wait_command(queued["id"], timeout)
    assert record["status"] == "completed", record
    return record


async def run(api: Api, charger_id: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """Posts a command and waits until it completed; the queued answer."""
    queued = await command(api, charger_id, path, body)
    await completed(api, queued)
    return queued


async def configure(api: Api, charger_id: str, values: dict[str, str]) -> dict[str, Any]:
    """POST /chargers/{id}/configuration; asserts the change was accepted."""
    response = await api.http.post(f"/chargers/{charger_id}/configuration", json=values)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["status"] == "Accepted", answer
    assert set(answer["configured"]) == set(values), answer
    return answer


async def sample_every_second(api: Api, charger_id: str, version: str) -> None:
    """Meter values of a running transaction every second (MeterValueSampleInterval / TxUpdatedInterval)."""
    await configure(api, charger_id, {SAMPLE_INTERVAL_KEY[version]: "1"})


def selection(version: str, connector: int = 1) -> dict[str, int]:
    """A body selecting connector `connector` (1.6) / EVSE `connector` (2.0.1)."""
    return {"connector_id": connector} if version == "OCPP1.6" else {"evse_id": connector}


def normalised(version: str, connector: int = 1) -> dict[str, int]:
    """The connector selection as a command's payload records it (contract: 'connector selection is normalised')."""
    return {"connector_id": connector} if version == "OCPP1.6" else {"evse_id": connector, "connector_id": 1}


# -- the wire ---------------------------------------------------------------------------------------------------


def mark(csms: CsmsServer, identity: str) -> int:
    """How many CALLs the charger has sent so far (for `calls_since`)."""
    return len(csms.received(identity))


def calls_since(csms: CsmsServer, identity: str, since: int, heartbeats: bool = False) -> list[tuple[str, dict]]:
    """(action, payload) of the CALLs the charger sent since `since`, in order; Heartbeats left out."""
    return [(a, p) for a, p in csms.received(identity)[since:] if heartbeats or a != "Heartbeat"]


def actions_since(csms: CsmsServer, identity: str, since: int) -> list[str]:
    return [action for action, _ in calls_since(csms, identity, since)]


async def wait_call(
    csms: CsmsServer,
    identity: str,
    since: int,
    action: str,
    where: Any = None,
    count: int = 1,
    timeout: float = WAIT,
) -> list[dict]:
    """Waits until the charger sent `count` CALLs of `action` (matching `where(payload)`) since `since`; the
    payloads of the first `count`."""

    def found() -> list[dict]:
        payloads = [p for a, p in calls_since(csms, identity, since) if a == action and (where is None or where(p))]
        return payloads[:count] if len(payloads) >= count else []

    return await eventually(found, timeout, f"{identity}: {count} {action} since call #{since}")


def status_of(version: str, payload: dict) -> str:
    return payload["status"] if version == "OCPP1.6" else payload["connectorStatus"]


def connector_of(version: str, payload: dict) -> int:
    """The connector (1.6) / EVSE (2.0.1) a StatusNotification is about."""
    return payload["connectorId"] if version == "OCPP1.6" else payload["evseId"]


def statuses_since(csms: CsmsServer, identity: str, since: int, version: str, connector: int = 1) -> list[str]:
    """The statuses the charger reported for one connector (1.6) / EVSE (2.0.1) since `since`."""
    return [
        status_of(version, p)
        for a, p in calls_since(csms, identity, since)
        if a == "StatusNotification" and connector_of(version, p) == connector
    ]


async def wait_status(
    csms: CsmsServer, identity: str, since: int, version: str, status: str, connector: int = 1
) -> dict:
    [payload] = await wait_call(
        csms,
        identity,
        since,
        "StatusNotification",
        lambda p: connector_of(version, p) == connector and status_of(version, p) == status,
    )
    return payload


def transaction_events(csms: CsmsServer, identity: str, since: int, event_type: str | None = None) -> list[dict]:
    return [
        p
        for a, p in calls_since(csms, identity, since)
        if a == "TransactionEvent" and (event_type is None or p["eventType"] == event_type)
    ]


def start_transaction_answer(csms: CsmsServer, identity: str, index: int = -1) -> dict:
    """The CSMS's answer to the charger's StartTransaction (1.6) number `index`."""
    return csms_answer_to(csms, identity, calls_from_cp(csms, identity, "StartTransaction")[index])[2]


# -- meter values ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reading:
    timestamp: datetime
    measurand: str
    value: float
    unit: str
    context: str | None


def readings(version: str, meter_value: list[dict]) -> list[Reading]:
    """Every sampled value of a MeterValues / TransactionEvent `meterValue` list (OCPP defaults applied: the
    measurand defaults to the energy register, the unit to Wh)."""
    found = []
    for sample in meter_value:
        at = datetime.fromisoformat(sample["timestamp"])
        for value in sample["sampledValue"]:
            unit = value.get("unit") if version == "OCPP1.6" else (value.get("unitOfMeasure") or {}).get("unit")
            found.append(
                Reading(
                    timestamp=at,
                    measurand=value.get("measurand", ENERGY),
                    value=float(value["value"]),
                    unit=unit or "Wh",
                    context=value.get("context"),
                )
            )
    return found


def reading(version: str, meter_value: list[dict], measurand: str) -> Reading:
    """The one reading of `measurand` in a meter value list."""
    matching = [r for r in readings(version, meter_value) if r.measurand == measurand]
    assert len(matching) == 1, f"expected one {measurand} in {meter_value}"
    return matching[0]


def has(version: str, meter_value: list[dict] | None, measurand: str) -> bool:
    return any(r.measurand == measurand for r in readings(version, meter_value or []))


def periodic_samples(csms: CsmsServer, identity: str, since: int, version: str) -> list[dict]:
    """The periodic samples of a running transaction since `since`: 1.6 MeterValues payloads, 2.0.1
    TransactionEvent Updated payloads triggered by MeterValuePeriodic."""
    if version == "OCPP1.6":
        return [p for a, p in calls_since(csms, identity, since) if a == "MeterValues"]
    return [
        p for p in transaction_events(csms, identity, since, "Updated") if p["triggerReason"] == "MeterValuePeriodic"
    ]


async def wait_samples(
    csms: CsmsServer, identity: str, since: int, version: str, count: int, where: Any = None, timeout: float = WAIT
) -> list[dict]:
    """Waits for `count` periodic samples since `since` (matching `where(payload)`); all the matching ones."""

    def found() -> list[dict]:
        samples = [s for s in periodic_samples(csms, identity, since, version) if where is None or where(s)]
        return samples if len(samples) >= count else []

    return await eventually(found, timeout, f"{identity}: {count} periodic meter samples")


def energy(version: str, sample: dict) -> float:
    return reading(version, sample["meterValue"], ENERGY).value


def power(version: str, sample: dict) -> float:
    return reading(version, sample["meterValue"], POWER).value


def sampled_at(version: str, sample: dict) -> datetime:
    return reading(version, sample["meterValue"], ENERGY).timestamp
