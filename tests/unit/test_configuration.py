"""Configuration keys (1.6) and device-model variables (2.0.1): defaults, validation, read-only flags, reports."""

from datetime import UTC, datetime

import pytest
from ocpp.charge_point import snake_to_camel_case
from ocpp.messages import Call, CallResult, _validate_payload

from domain.configuration import ConfigEntry, Configuration16, DeviceModel201

AC = {
    "brand_name": "Wallbox",
    "model_name": "Pulsar Plus",
    "current_type": "ac",
    "connector_count": 2,
    "max_power_w": 22000,
    "phases": 3,
}
DC = {"brand_name": "ABB", "model_name": "Terra 360", "current_type": "dc", "connector_count": 1, "max_power_w": 360000}

READONLY_16 = {
    "GetConfigurationMaxKeys",
    "NumberOfConnectors",
    "SupportedFeatureProfiles",
    "LocalAuthListMaxLength",
    "SendLocalListMaxLength",
    "ReserveConnectorZeroSupported",
    "ChargeProfileMaxStackLevel",
    "ChargingScheduleAllowedChargingRateUnit",
    "ChargingScheduleMaxPeriods",
    "MaxChargingProfilesInstalled",
}
WRITABLE_16 = {
    "AllowOfflineTxForUnknownId",
    "AuthorizationCacheEnabled",
    "AuthorizeRemoteTxRequests",
    "ClockAlignedDataInterval",
    "ConnectionTimeOut",
    "ConnectorPhaseRotation",
    "HeartbeatInterval",
    "LocalAuthorizeOffline",
    "LocalPreAuthorize",
    "MeterValuesAlignedData",
    "MeterValuesSampledData",
    "MeterValueSampleInterval",
    "ResetRetries",
    "StopTransactionOnEVSideDisconnect",
    "StopTransactionOnInvalidId",
    "StopTxnAlignedData",
    "StopTxnSampledData",
    "TransactionMessageAttempts",
    "TransactionMessageRetryInterval",
    "UnlockConnectorOnEVSideDisconnect",
    "WebSocketPingInterval",
    "LocalAuthListEnabled",
}
READONLY_201 = {
    "LocalAuthListCtrlr.Entries",
    "LocalAuthListCtrlr.ItemsPerMessage",
    "LocalAuthListCtrlr.BytesPerMessage",
    "DeviceDataCtrlr.ItemsPerMessage",
    "DeviceDataCtrlr.BytesPerMessage",
    "SecurityCtrlr.SecurityProfile",
    "ChargingStation.Model",
    "ChargingStation.VendorName",
    "ChargingStation.SerialNumber",
    "ChargingStation.AvailabilityState",
    "EVSE.Power",
    "ClockCtrlr.DateTime",
}
WRITABLE_201 = {
    "OCPPCommCtrlr.HeartbeatInterval",
    "OCPPCommCtrlr.NetworkConfigurationPriority",
    "OCPPCommCtrlr.MessageTimeout",
    "OCPPCommCtrlr.MessageAttempts",
    "OCPPCommCtrlr.MessageAttemptInterval",
    "OCPPCommCtrlr.WebSocketPingInterval",
    "OCPPCommCtrlr.ResetRetries",
    "SampledDataCtrlr.Enabled",
    "SampledDataCtrlr.TxUpdatedInterval",
    "SampledDataCtrlr.TxUpdatedMeasurands",
    "SampledDataCtrlr.TxEndedMeasurands",
    "SampledDataCtrlr.TxStartedMeasurands",
    "AlignedDataCtrlr.Interval",
    "AlignedDataCtrlr.Measurands",
    "AuthCtrlr.Enabled",
    "AuthCtrlr.AuthorizeRemoteStart",
    "AuthCtrlr.LocalAuthorizeOffline",
    "AuthCtrlr.OfflineTxForUnknownIdEnabled",
    "AuthCtrlr.LocalPreAuthorize",
    "AuthCacheCtrlr.Enabled",
    "LocalAuthListCtrlr.Enabled",
    "TxCtrlr.EVConnectionTimeOut",
    "TxCtrlr.StopTxOnEVSideDisconnect",
    "TxCtrlr.StopTxOnInvalidId",
    "TxCtrlr.TxStartPoint",
    "TxCtrlr.TxStopPoint",
    "SmartChargingCtrlr.Enabled",
    "ReservationCtrlr.Enabled",
    "ClockCtrlr.TimeSource",
    "SecurityCtrlr.OrganizationName",
}
NOW = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)


@pytest.fixture
def cfg16() -> Configuration16:
    return Configuration16(AC, "CP-001")


@pytest.fixture
def dm() -> DeviceModel201:
    return DeviceModel201(AC, "CP-201", clock=lambda: NOW)


# --- OCPP 1.6 --------------------------------------------------------------------------------------------------


def test_16_has_the_standard_keys_with_their_read_only_flags(cfg16):
    entries, unknown = cfg16.get()
    flags = {entry.key: entry.readonly for entry in entries}
    assert unknown == []
    assert set(flags) >= READONLY_16 | WRITABLE_16
    assert all(flags[key] for key in READONLY_16)
    assert not any(flags[key] for key in WRITABLE_16)
    assert [entry.key for entry in entries] == sorted(flags) == cfg16.keys()


def test_16_defaults_come_from_the_standard_and_the_model(cfg16):
    assert cfg16.value("HeartbeatInterval") == "60"
    assert cfg16.value("MeterValueSampleInterval") == "60"
    assert cfg16.value("MeterValuesSampledData") == "Energy.Active.Import.Register,Power.Active.Import"
    assert cfg16.value("NumberOfConnectors") == "2"
    assert cfg16.value("SupportedFeatureProfiles") == (
        "Core,FirmwareManagement,LocalAuthListManagement,Reservation,SmartCharging,RemoteTrigger"
    )
    assert cfg16.value("ConnectorPhaseRotation") == "0.RST,1.RST,2.RST"
    assert Configuration16(DC, "CP-DC").value("ConnectorPhaseRotation") == "0.NotApplicable,1.NotApplicable"
    assert Configuration16(DC, "CP-DC").int_value("NumberOfConnectors", 0) == 1
    assert cfg16.bool_value("AuthorizeRemoteTxRequests", False) is True
    assert cfg16.bool_value("AllowOfflineTxForUnknownId", True) is False
    assert cfg16.changed() == {}


def test_16_get_returns_asked_keys_in_order_and_lists_unknown_ones(cfg16):
    entries, unknown = cfg16.get(["NumberOfConnectors", "Nope", "HeartbeatInterval", "heartbeatinterval"])
    assert entries == [ConfigEntry("NumberOfConnectors", "2", True), ConfigEntry("HeartbeatInterval", "60", False)]
    assert unknown == ["Nope"]
    assert cfg16.get([])[0] == cfg16.get()[0]


@pytest.mark.parametrize("bad", ["abc", "-1", "", "1.5", "+5", "99999999999", "0"])
def test_16_heartbeat_interval_rejects_bad_values(cfg16, bad):
    assert cfg16.change("HeartbeatInterval", bad) == "Rejected"
    assert cfg16.value("HeartbeatInterval") == "60"


def test_16_heartbeat_interval_accepts_a_positive_integer(cfg16):
    assert cfg16.change("HeartbeatInterval", "30") == "Accepted"
    assert cfg16.int_value("HeartbeatInterval", 60) == 30
    assert cfg16.changed() == {"HeartbeatInterval": "30"}


def test_16_other_intervals_allow_zero(cfg16):
    assert cfg16.change("ClockAlignedDataInterval", "0") == "Accepted"
    assert cfg16.change("MeterValueSampleInterval", "0") == "Accepted"
    assert cfg16.int_value("MeterValueSampleInterval", 60) == 0


@pytest.mark.parametrize("key", sorted(READONLY_16))
def test_16_read_only_keys_are_rejected_and_unchanged(cfg16, key):
    before = cfg16.value(key)
    assert cfg16.change(key, "5") == "Rejected"
    assert cfg16.value(key) == before


def test_16_unknown_key_is_not_supported(cfg16):
    assert cfg16.change("NoSuchKey", "1") == "NotSupported"
    assert cfg16.value("NoSuchKey") is None
    assert cfg16.int_value("NoSuchKey", 7) == 7
    assert cfg16.bool_value("NoSuchKey", True) is True


def test_16_keys_are_case_insensitive(cfg16):
    assert cfg16.change("heartbeatINTERVAL", "45") == "Accepted"
    assert cfg16.value("HeartbeatInterval") == "45"
    assert cfg16.changed() == {"HeartbeatInterval": "45"}


@pytest.mark.parametrize(("raw", "stored"), [("TRUE", "true"), ("False", "false"), ("true", "true")])
def test_16_booleans_are_case_insensitive_and_normalised(cfg16, raw, stored):
    assert cfg16.change("LocalPreAuthorize", raw) == "Accepted"
    assert cfg16.value("LocalPreAuthorize") == stored


@pytest.mark.parametrize("bad", ["yes", "1", "", "truee"])
def test_16_booleans_reject_anything_else(cfg16, bad):
    assert cfg16.change("LocalAuthListEnabled", bad) == "Rejected"
    assert cfg16.bool_value("LocalAuthListEnabled", False) is True


def test_16_measurand_lists_accept_known_measurands(cfg16):
    assert cfg16.change("MeterValuesSampledData", "Energy.Active.Import.Register, Voltage,SoC") == "Accepted"
    assert cfg16.value("MeterValuesSampledData") == "Energy.Active.Import.Register,Voltage,SoC"
    assert cfg16.change("StopTxnSampledData", "") == "Accepted"
    assert cfg16.value("StopTxnSampledData") == ""


@pytest.mark.parametrize(
    "bad",
    [
        "Energy.Active.Import.Register,Bogus",
        "Energy.Active.Net",  # 2.0.1 only
        "Voltage,Voltage",
        "Voltage,,SoC",
    ],
)
def test_16_measurand_lists_reject_unknown_or_malformed_items(cfg16, bad):
    assert cfg16.change("MeterValuesSampledData", bad) == "Rejected"
    assert cfg16.value("MeterValuesSampledData") == "Energy.Active.Import.Register,Power.Active.Import"


def test_16_connector_phase_rotation_is_validated(cfg16):
    assert cfg16.change("ConnectorPhaseRotation", "0.RST, 1.RTS, 2.Unknown") == "Accepted"
    assert cfg16.value("ConnectorPhaseRotation") == "0.RST,1.RTS,2.Unknown"
    for bad in ("3.RST", "0.XYZ", "RST", "1.RST,1.RTS", ""):
        assert cfg16.change("ConnectorPhaseRotation", bad) == "Rejected"


def test_16_values_longer_than_the_wire_allows_are_rejected(cfg16):
    assert cfg16.change("MeterValuesSampledData", "Voltage" + " " * 500) == "Rejected"


def test_16_overrides_restore_values_and_ignore_read_only_unknown_or_invalid_ones():
    overrides = {
        "HeartbeatInterval": "30",
        "LocalPreAuthorize": "TRUE",
        "NumberOfConnectors": "9",
        "NoSuchKey": "1",
        "MeterValueSampleInterval": "abc",
    }
    cfg = Configuration16(AC, "CP-001", overrides)
    assert cfg.int_value("HeartbeatInterval", 60) == 30
    assert cfg.bool_value("LocalPreAuthorize", False) is True
    assert cfg.value("NumberOfConnectors") == "2"
    assert cfg.value("MeterValueSampleInterval") == "60"
    assert cfg.changed() == {"HeartbeatInterval": "30", "LocalPreAuthorize": "true"}
    assert Configuration16(AC, "CP-001", cfg.changed()).changed() == cfg.changed()


def test_16_changed_lists_only_values_that_differ_from_defaults(cfg16):
    cfg16.change("HeartbeatInterval", "60")
    cfg16.change("ResetRetries", "5")
    cfg16.change("LocalAuthListEnabled", "false")
    assert cfg16.changed() == {"ResetRetries": "5", "LocalAuthListEnabled": "false"}
    cfg16.change("ResetRetries", "3")
    assert cfg16.changed() == {"LocalAuthListEnabled": "false"}


def test_16_get_configuration_answer_is_schema_valid(cfg16):
    entries, unknown = cfg16.get(["HeartbeatInterval", "Nope"])
    payload = {
        "configurationKey": [{"key": e.key, "readonly": e.readonly, "value": e.value} for e in cfg16.get()[0]],
        "unknownKey": unknown,
    }
    _validate_payload(CallResult("1", payload, action="GetConfiguration"), "1.6")
    assert entries[0].key == "HeartbeatInterval"


def test_16_internal_updates_bypass_mutability_but_still_validate(cfg16):
    cfg16.set_internal("NumberOfConnectors", "3")
    assert cfg16.value("NumberOfConnectors") == "3"
    assert cfg16.changed() == {}
    with pytest.raises(ValueError):
        cfg16.set_internal("HeartbeatInterval", "abc")
    with pytest.raises(KeyError):
        cfg16.set_internal("NoSuchKey", "1")


# --- OCPP 2.0.1 ------------------------------------------------------------------------------------------------


def test_201_has_the_listed_variables_with_their_mutability(dm):
    entries, unknown = dm.get()
    flags = {entry.key: entry.readonly for entry in entries}
    assert unknown == []
    assert set(flags) == READONLY_201 | WRITABLE_201
    assert all(flags[key] for key in READONLY_201)
    assert not any(flags[key] for key in WRITABLE_201)
    assert dm.keys() == sorted(flags)


def test_201_defaults_come_from_the_standard_the_model_and_the_identity(dm):
    assert dm.get_variable("OCPPCommCtrlr", "HeartbeatInterval") == ("Accepted", "60")
    assert dm.value("SampledDataCtrlr.TxUpdatedInterval") == "60"
    assert dm.value("TxCtrlr.TxStartPoint") == "PowerPathClosed"
    assert dm.value("TxCtrlr.TxStopPoint") == "EVConnected"
    assert dm.value("ChargingStation.SerialNumber") == "CP-201"
    assert dm.value("ChargingStation.Model") == "Pulsar Plus"
    assert dm.value("ChargingStation.VendorName") == "Wallbox"
    assert dm.value("ChargingStation.AvailabilityState") == "Available"
    assert dm.value("EVSE.Power") == "22000"
    assert dm.value("ClockCtrlr.DateTime") == "2025-03-04T05:06:07Z"
    assert dm.bool_value("AuthCtrlr.AuthorizeRemoteStart", False) is True
    assert dm.changed() == {}


def test_201_get_variable_statuses(dm):
    assert dm.get_variable("NoSuchCtrlr", "HeartbeatInterval") == ("UnknownComponent", None)
    assert dm.get_variable("OCPPCommCtrlr", "NoSuchVariable") == ("UnknownVariable", None)
    assert dm.get_variable("OCPPCommCtrlr", "HeartbeatInterval", "Target") == ("NotSupportedAttributeType", None)
    assert dm.get_variable("ocppcommctrlr", "heartbeatinterval") == ("Accepted", "60")


@pytest.mark.parametrize("bad", ["abc", "-1", "", "0"])
def test_201_heartbeat_interval_rejects_bad_values(dm, bad):
    assert dm.set_variable("OCPPCommCtrlr", "HeartbeatInterval", bad) == "Rejected"
    assert dm.int_value("OCPPCommCtrlr.HeartbeatInterval", 0) == 60


def test_201_heartbeat_interval_accepts_a_positive_integer(dm):
    assert dm.set_variable("OCPPCommCtrlr", "HeartbeatInterval", "30") == "Accepted"
    assert dm.int_value("OCPPCommCtrlr.HeartbeatInterval", 60) == 30
    assert dm.get_variable("OCPPCommCtrlr", "HeartbeatInterval") == ("Accepted", "30")
    assert dm.changed() == {"OCPPCommCtrlr.HeartbeatInterval": "30"}


def test_201_set_variable_statuses(dm):
    assert dm.set_variable("NoSuchCtrlr", "Enabled", "true") == "UnknownComponent"
    assert dm.set_variable("AuthCtrlr", "NoSuchVariable", "true") == "UnknownVariable"
    assert dm.set_variable("AuthCtrlr", "Enabled", "true", "MaxSet") == "NotSupportedAttributeType"
    assert dm.set_variable("OCPPCommCtrlr", "NetworkConfigurationPriority", "1,0") == "RebootRequired"
    assert dm.value("OCPPCommCtrlr.NetworkConfigurationPriority") == "1,0"


@pytest.mark.parametrize("key", sorted(READONLY_201))
def test_201_read_only_variables_are_rejected_and_unchanged(dm, key):
    component, variable = key.split(".")
    before = dm.value(key)
    assert dm.set_variable(component, variable, "1") == "Rejected"
    assert dm.change(key, "1") == "Rejected"
    assert dm.value(key) == before


def test_201_rest_change_uses_component_dot_variable(dm):
    assert dm.change("AuthCtrlr.AuthorizeRemoteStart", "FALSE") == "Accepted"
    assert dm.get_variable("AuthCtrlr", "AuthorizeRemoteStart") == ("Accepted", "false")
    assert dm.change("AuthCtrlr.NoSuchVariable", "true") == "NotSupported"
    assert dm.change("NoSuchCtrlr.Enabled", "true") == "NotSupported"
    assert dm.change("HeartbeatInterval", "30") == "NotSupported"
    entries, unknown = dm.get(["TxCtrlr.TxStartPoint", "Bogus.Thing"])
    assert entries == [ConfigEntry("TxCtrlr.TxStartPoint", "PowerPathClosed", False)]
    assert unknown == ["Bogus.Thing"]


def test_201_measurands_and_member_lists_are_validated(dm):
    assert dm.set_variable("SampledDataCtrlr", "TxUpdatedMeasurands", "Energy.Active.Net,Voltage") == "Accepted"
    assert dm.set_variable("SampledDataCtrlr", "TxUpdatedMeasurands", "Voltage,Bogus") == "Rejected"
    assert dm.set_variable("SampledDataCtrlr", "TxEndedMeasurands", "") == "Accepted"
    assert dm.set_variable("TxCtrlr", "TxStartPoint", "EVConnected,Authorized") == "Accepted"
    assert dm.set_variable("TxCtrlr", "TxStopPoint", "") == "Rejected"
    assert dm.set_variable("TxCtrlr", "TxStopPoint", "Sometime") == "Rejected"
    assert dm.set_variable("ClockCtrlr", "TimeSource", "NTP,Heartbeat") == "Accepted"
    assert dm.value("SampledDataCtrlr.TxUpdatedMeasurands") == "Energy.Active.Net,Voltage"


def test_201_values_longer_than_the_wire_allows_are_rejected(dm):
    assert dm.set_variable("SampledDataCtrlr", "TxUpdatedMeasurands", "Voltage" + " " * 1000) == "Rejected"


def test_201_overrides_restore_values_and_changed_lists_only_non_defaults():
    overrides = {
        "OCPPCommCtrlr.HeartbeatInterval": "30",
        "SampledDataCtrlr.TxUpdatedInterval": "60",
        "ChargingStation.SerialNumber": "forged",
        "Bogus.Thing": "1",
        "TxCtrlr.TxStartPoint": "Nonsense",
    }
    dm = DeviceModel201(AC, "CP-201", overrides)
    assert dm.int_value("OCPPCommCtrlr.HeartbeatInterval", 60) == 30
    assert dm.value("ChargingStation.SerialNumber") == "CP-201"
    assert dm.value("TxCtrlr.TxStartPoint") == "PowerPathClosed"
    assert dm.changed() == {"OCPPCommCtrlr.HeartbeatInterval": "30"}


def test_201_report_describes_every_variable(dm):
    items = dm.report()
    assert len(items) == len(dm.keys())
    by_key = {f"{i['component']['name']}.{i['variable']['name']}": i for i in items}
    heartbeat = by_key["OCPPCommCtrlr.HeartbeatInterval"]
    assert heartbeat["variable_attribute"] == [{"type": "Actual", "value": "60", "mutability": "ReadWrite"}]
    assert heartbeat["variable_characteristics"]["data_type"] == "integer"
    assert heartbeat["variable_characteristics"]["supports_monitoring"] is False
    serial = by_key["ChargingStation.SerialNumber"]
    assert serial["variable_attribute"][0] == {"type": "Actual", "value": "CP-201", "mutability": "ReadOnly"}
    assert by_key["TxCtrlr.TxStartPoint"]["variable_characteristics"]["data_type"] == "MemberList"
    assert by_key["AuthCtrlr.Enabled"]["variable_characteristics"]["data_type"] == "boolean"
    assert by_key["EVSE.Power"]["variable_characteristics"]["data_type"] == "decimal"
    assert dm.report(["FullInventory"]) == items


def test_201_report_criteria_select_inventories(dm):
    configuration = dm.report(["ConfigurationInventory"])
    assert {f"{i['component']['name']}.{i['variable']['name']}" for i in configuration} == WRITABLE_201
    summary = dm.report(["SummaryInventory"])
    assert [i["variable"]["name"] for i in summary] == ["AvailabilityState"]


def test_201_notify_report_built_from_the_report_is_schema_valid(dm):
    payload = {"request_id": 1, "generated_at": NOW.isoformat(), "seq_no": 0, "report_data": dm.report()}
    _validate_payload(Call("1", "NotifyReport", snake_to_camel_case(payload)), "2.0.1")


def test_201_internal_updates_reflect_station_state(dm):
    dm.set_internal("ChargingStation.AvailabilityState", "Unavailable")
    dm.set_internal("LocalAuthListCtrlr.Entries", "12")
    assert dm.get_variable("ChargingStation", "AvailabilityState") == ("Accepted", "Unavailable")
    assert dm.int_value("LocalAuthListCtrlr.Entries", 0) == 12
    assert dm.changed() == {}
    with pytest.raises(ValueError):
        dm.set_internal("ChargingStation.AvailabilityState", "Sleeping")
