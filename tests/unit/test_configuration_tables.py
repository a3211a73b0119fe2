"""The configuration tables as data: the shipped files validate, malformed entries are rejected by name."""

import copy
import json
from importlib import resources

import pytest

from domain.configuration import TableError
from domain.configuration.configuration16 import TABLE_FILE_16, TABLE_RULES_16, table_16
from domain.configuration.device_model201 import TABLE_FILE_201, TABLE_RULES_201, table_201
from domain.configuration.validate import check_table, integer, members, phase_rotation

TABLES = {"16": (TABLE_FILE_16, TABLE_RULES_16), "201": (TABLE_FILE_201, TABLE_RULES_201)}


def shipped(version: str) -> dict:
    filename, _ = TABLES[version]
    return json.loads(resources.files("domain.configuration").joinpath(filename).read_text(encoding="utf-8"))


def check(version: str, data: dict):
    filename, rules = TABLES[version]
    return check_table(data, filename, **rules)


REMOVE = object()


def with_entry(version: str, name: str, changes: dict) -> dict:
    """The shipped table with one entry changed (a value of REMOVE drops the field)."""
    data = copy.deepcopy(shipped(version))
    (entry,) = [e for e in data["entries"] if e["name"] == name]
    for field, value in changes.items():
        if value is REMOVE:
            del entry[field]
        else:
            entry[field] = value
    return data


def test_shipped_tables_validate():
    t16, t201 = table_16(), table_201()
    assert (t16.ocpp_version, len(t16.entries)) == ("1.6", 38)
    assert (t201.ocpp_version, len(t201.entries)) == ("2.0.1", 42)
    for version in TABLES:
        data = shipped(version)
        assert (data["schema"], data["version"]) == ("ocpplab-gateway/configuration-table", 1)
        assert check(version, data).entries == tuple(data["entries"])


def test_table_order_is_file_order():
    assert [e["name"] for e in table_16().entries][:3] == [
        "AllowOfflineTxForUnknownId",
        "AuthorizationCacheEnabled",
        "AuthorizeRemoteTxRequests",
    ]
    assert table_201().entries[0]["name"] == "OCPPCommCtrlr.HeartbeatInterval"


@pytest.mark.parametrize(
    ("version", "name", "changes", "message"),
    [
        ("16", "HeartbeatInterval", {"type": "number"}, "entry 8 ('HeartbeatInterval'): unknown type 'number'"),
        ("16", "HeartbeatInterval", {"readonly": REMOVE}, "'HeartbeatInterval'): missing fields ['readonly']"),
        ("16", "HeartbeatInterval", {"default": "0"}, "'HeartbeatInterval'): default '0' is not a valid integer"),
        ("16", "HeartbeatInterval", {"default": 60}, "'HeartbeatInterval'): 'default' has the wrong type (int)"),
        ("16", "HeartbeatInterval", {"max": 0}, "'HeartbeatInterval'): 'min' is greater than 'max'"),
        ("16", "HeartbeatInterval", {"readonly": "no"}, "'readonly' and 'reboot' must be true or false"),
        ("16", "HeartbeatInterval", {"maximum": 5}, "unknown fields ['maximum'] for type 'integer'"),
        ("16", "ResetRetries", {"name": "heartbeatinterval"}, "('heartbeatinterval'): duplicate name"),
        ("16", "StopTxnAlignedData", {"values": "Measurands"}, "'StopTxnAlignedData'): unknown enum 'Measurands'"),
        ("16", "NumberOfConnectors", {"default": {"derived": "doors"}}, "derives from unknown 'doors'"),
        ("16", "LocalPreAuthorize", {"default": "maybe"}, "default 'maybe' is not a valid boolean value"),
        ("16", "ConnectionTimeOut", {"default": REMOVE}, "'ConnectionTimeOut'): missing fields ['default']"),
        ("201", "AuthCtrlr.Enabled", {"default": None}, "('AuthCtrlr.Enabled'): a writable entry needs a default"),
        ("201", "TxCtrlr.TxStartPoint", {"default": "Sometime"}, "default 'Sometime' is not a valid member_list"),
        ("201", "EVSE.Power", {"data_type": "float"}, "('EVSE.Power'): unknown data_type 'float'"),
        ("201", "EVSE.Power", {"data_type": REMOVE}, "('EVSE.Power'): missing fields ['data_type']"),
        ("201", "EVSE.Power", {"name": "EVSEPower"}, "('EVSEPower'): 'name' must have the form 'Component.Variable'"),
        ("201", "ClockCtrlr.DateTime", {"readonly": False}, "a writable entry needs a default value"),
        ("201", "ChargingStation.Model", {"max_length": REMOVE}, "type 'text' needs ['max_length']"),
    ],
)
def test_malformed_entry_is_rejected_by_name(version, name, changes, message):
    filename, _ = TABLES[version]
    with pytest.raises(TableError) as raised:
        check(version, with_entry(version, name, changes))
    assert str(raised.value).startswith(f"{filename}: entry ")
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"version": 2}, "expected schema 'ocpplab-gateway/configuration-table' version 1, got"),
        ({"schema": "other"}, "expected schema"),
        ({"ocpp_version": "2.0.1"}, "expected ocpp_version '1.6', got '2.0.1'"),
        ({"entries": []}, "'entries' must be a non-empty list"),
        ({"extra": 1}, "unknown top-level fields ['extra']"),
        ({"enums": {"Measurand": ["X"]}}, "enum 'Measurand' is provided by the ocpp library"),
        ({"enums": {"PhaseRotation": ["RST", "rst"]}}, "enum 'PhaseRotation' has duplicate values"),
    ],
)
def test_malformed_table_is_rejected(change, message):
    data = {**shipped("16"), **change}
    with pytest.raises(TableError) as raised:
        check("16", data)
    assert str(raised.value).startswith("ocpp16.json: ") and message in str(raised.value)


def test_non_object_entry_is_rejected():
    data = shipped("16")
    data["entries"].insert(2, ["HeartbeatInterval"])
    with pytest.raises(TableError, match=r"ocpp16.json: entry 2: an entry is a JSON object"):
        check("16", data)


def test_shared_value_validation():
    assert integer(1)(" 42 ") == "42"
    assert integer(1)("0") is None and integer(0, 3)("4") is None and integer()("2147483648") is None
    assert members(("Current", "Power"), 1)("power, current") == "Power,Current"
    assert members(("Current", "Power"), 1)("") is None
    assert members(("Current", "Power"))("Power,Power") is None
    assert phase_rotation(("RST", "NotApplicable"), 2)("0.rst,2.notapplicable") == "0.RST,2.NotApplicable"
    assert phase_rotation(("RST",), 2)("3.RST") is None


def test_tables_ship_as_package_data():
    files = {p.name for p in resources.files("domain.configuration").iterdir()}
    assert {"ocpp16.json", "ocpp201.json"} <= files
