"""A simulated charge point's configuration: OCPP 1.6 configuration keys and the OCPP 2.0.1 device model.

Pure logic: values are validated and normalised here; persistence and the wire live elsewhere. Keys (1.6) and
component/variable names (2.0.1) are case-insensitive, as OCPP's CiString and device-model names are.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from ocpp.v16.enums import Measurand
from ocpp.v201.enums import MeasurandEnumType

MAX_INT = 2**31 - 1
MAX_VALUE_LENGTH_16 = 500  # ChangeConfiguration.req value: CiString500
MAX_VALUE_LENGTH_201 = 1000  # SetVariableData.attributeValue: string[0..1000]

MEASURANDS_16: tuple[str, ...] = tuple(m.value for m in Measurand)
MEASURANDS_201: tuple[str, ...] = tuple(m.value for m in MeasurandEnumType)
FEATURE_PROFILES = (
    "Core",
    "FirmwareManagement",
    "LocalAuthListManagement",
    "Reservation",
    "SmartCharging",
    "RemoteTrigger",
)
PHASE_ROTATIONS = ("NotApplicable", "Unknown", "RST", "RTS", "SRT", "STR", "TRS", "TSR")
TX_POINTS = ("ParkingBayOccupancy", "EVConnected", "Authorized", "DataSigned", "PowerPathClosed", "EnergyTransfer")
TIME_SOURCES = ("Heartbeat", "NTP", "GPS", "RealTimeClock", "MobileNetwork", "RadioTimeTransmitter")
AVAILABILITY_STATES = ("Available", "Occupied", "Reserved", "Unavailable", "Faulted")
NETWORK_SLOTS = ("0", "1")
DEFAULT_SAMPLED = "Energy.Active.Import.Register,Power.Active.Import"
ENERGY = "Energy.Active.Import.Register"

Normalizer = Callable[[str], str | None]  # the normalised value, or None when the value is invalid


@dataclass(frozen=True)
class ConfigEntry:
    """One configuration key (1.6) or 'Component.Variable' (2.0.1) with its current value."""

    key: str
    value: str | None
    readonly: bool


@dataclass(frozen=True)
class _Spec:
    """How one key is typed, defaulted and described (the 2.0.1 fields feed NotifyReport)."""

    name: str
    default: str | None
    readonly: bool
    normalize: Normalizer
    data_type: str = "string"
    unit: str | None = None
    values_list: str | None = None
    max_limit: float | None = None
    reboot: bool = False


def _integer(minimum: int = 0, maximum: int = MAX_INT) -> Normalizer:
    def normalize(raw: str) -> str | None:
        text = raw.strip()
        if not re.fullmatch(r"-?\d{1,10}", text):
            return None
        number = int(text)
        return str(number) if minimum <= number <= maximum else None

    return normalize


def _boolean(raw: str) -> str | None:
    text = raw.strip().lower()
    return text if text in ("true", "false") else None


def _decimal(raw: str) -> str | None:
    try:
        number = float(raw)
    except ValueError:
        return None
    return raw.strip() if math.isfinite(number) and number >= 0 else None


def _text(max_length: int) -> Normalizer:
    def normalize(raw: str) -> str | None:
        return raw if len(raw) <= max_length else None

    return normalize


def _members(allowed: Iterable[str], min_items: int = 0, max_items: int | None = None) -> Normalizer:
    """A comma-separated list of distinct allowed values (matched case-insensitively, stored canonically)."""
    canonical = {item.lower(): item for item in allowed}

    def normalize(raw: str) -> str | None:
        items = [item.strip() for item in raw.split(",")] if raw.strip() else []
        if any(item.lower() not in canonical for item in items):
            return None
        values = [canonical[item.lower()] for item in items]
        if len(set(values)) != len(values) or len(values) < min_items:
            return None
        if max_items is not None and len(values) > max_items:
            return None
        return ",".join(values)

    return normalize


def _option(allowed: Iterable[str]) -> Normalizer:
    return _members(allowed, min_items=1, max_items=1)


def _phase_rotation(connector_count: int) -> Normalizer:
    """1.6 ConnectorPhaseRotation: '0.RST,1.RST,...', one entry per connector id at most."""
    rotations = {item.lower(): item for item in PHASE_ROTATIONS}

    def normalize(raw: str) -> str | None:
        entries: dict[int, str] = {}
        for item in (part.strip() for part in raw.split(",")):
            match = re.fullmatch(r"(\d{1,3})\.(\w+)", item)
            if not match or match[2].lower() not in rotations:
                return None
            connector = int(match[1])
            if connector > connector_count or connector in entries:
                return None
            entries[connector] = rotations[match[2].lower()]
        return ",".join(f"{connector}.{rotation}" for connector, rotation in entries.items())

    return normalize


def _model_facts(model: dict) -> tuple[int, int, bool]:
    """(connector count, max power in W, whether connectors have a phase rotation) from a catalog snapshot."""
    connectors = max(1, int(model.get("connector_count") or 1))
    power = int(model.get("max_power_w") or 0)
    three_phase_ac = str(model.get("current_type", "ac")).lower() == "ac" and model.get("phases") != 1
    return connectors, power, three_phase_ac


@dataclass(frozen=True)
class _Table:
    """The specs of one OCPP version for one charger model, built once and shared by its chargers."""

    specs: dict[str, _Spec]
    index: dict[str, str]
    components: frozenset[str]


_TABLES: dict[tuple, _Table] = {}


def _table(version: str, model: dict) -> _Table:
    key = (
        version,
        _model_facts(model),
        *(model.get(k) for k in ("brand_name", "vendor_name", "model_name", "name", "phases", "security_profile")),
    )
    table = _TABLES.get(key)
    if table is None:
        specs = {spec.name: spec for spec in (_specs_16(model) if version == "1.6" else _specs_201(model))}
        table = _Table(
            specs, {name.lower(): name for name in specs}, frozenset(name.split(".", 1)[0].lower() for name in specs)
        )
        _TABLES[key] = table
    return table


class _Store:
    """Typed key/value storage shared by both OCPP versions."""

    max_value_length = MAX_VALUE_LENGTH_16

    def __init__(self, table: _Table, overrides: dict[str, str] | None, fixed: dict[str, str] | None = None) -> None:
        self._specs, self._index = table.specs, table.index  # shared by every charger of the same model
        self._values: dict[str, str | None] = dict(fixed or {})  # only what differs from the defaults
        for key, raw in (overrides or {}).items():
            spec = self._spec(key)
            if spec is not None and not spec.readonly and isinstance(raw, str):
                normalized = self._normalize(spec, raw)
                if normalized is not None:  # a stale or invalid persisted value falls back to the default
                    self._values[spec.name] = normalized

    def _spec(self, key: str) -> _Spec | None:
        name = self._index.get(key.lower()) if isinstance(key, str) else None
        return self._specs[name] if name is not None else None

    def _normalize(self, spec: _Spec, raw: str) -> str | None:
        if not isinstance(raw, str) or len(raw) > self.max_value_length:
            return None
        return spec.normalize(raw)

    def _current(self, spec: _Spec) -> str | None:
        return self._values.get(spec.name, spec.default)

    def _set(self, spec: _Spec, raw: str) -> str:
        """Validates and stores a writable value: 'Accepted', 'RebootRequired' or 'Rejected'."""
        if spec.readonly:
            return "Rejected"
        normalized = self._normalize(spec, raw)
        if normalized is None:
            return "Rejected"
        self._values[spec.name] = normalized
        return "RebootRequired" if spec.reboot else "Accepted"

    def get(self, keys: list[str] | None = None) -> tuple[list[ConfigEntry], list[str]]:
        """(known entries in the order asked, or all keys sorted when none are asked; unknown keys as given)."""
        if not keys:
            return [self._entry(self._specs[name]) for name in self.keys()], []
        entries: list[ConfigEntry] = []
        unknown: list[str] = []
        seen: set[str] = set()
        for key in keys:
            spec = self._spec(key)
            if spec is None:
                unknown.append(key)
            elif spec.name not in seen:
                seen.add(spec.name)
                entries.append(self._entry(spec))
        return entries, unknown

    def _entry(self, spec: _Spec) -> ConfigEntry:
        return ConfigEntry(spec.name, self._current(spec), spec.readonly)

    def change(self, key: str, value: str) -> str:
        """'Accepted' | 'Rejected' (read-only or invalid value) | 'RebootRequired' | 'NotSupported' (unknown key)."""
        spec = self._spec(key)
        return "NotSupported" if spec is None else self._set(spec, value)

    def problem(self, key: str, value: str) -> str | None:
        """Why a change through the API would be refused (unknown key, read-only, invalid value), or None."""
        spec = self._spec(key)
        if spec is None:
            return f"unknown configuration key '{key}'"
        if spec.readonly:
            return f"'{spec.name}' is read-only"
        if self._normalize(spec, value) is None:
            return f"invalid value {value!r} for '{spec.name}'"
        return None

    def set_internal(self, key: str, value: str) -> None:
        """A station-side update that bypasses mutability (e.g. a read-only state); raises on unknown or bad value."""
        spec = self._spec(key)
        if spec is None:
            raise KeyError(key)
        normalized = self._normalize(spec, value)
        if normalized is None:
            raise ValueError(f"invalid value for {spec.name}: {value!r}")
        self._values[spec.name] = normalized

    def value(self, key: str) -> str | None:
        """The current value, or None for an unknown key."""
        spec = self._spec(key)
        return None if spec is None else self._current(spec)

    def int_value(self, key: str, default: int) -> int:
        raw = self.value(key)
        try:
            return int(raw) if raw is not None else default
        except ValueError:
            return default

    def bool_value(self, key: str, default: bool) -> bool:
        raw = (self.value(key) or "").strip().lower()
        return raw == "true" if raw in ("true", "false") else default

    def changed(self) -> dict[str, str]:
        """Writable keys whose value differs from the default: what to persist (read-only values are derived)."""
        return {
            name: value
            for name, spec in self._specs.items()
            if not spec.readonly
            and (value := self._values.get(name, spec.default)) is not None
            and value != spec.default
        }

    def keys(self) -> list[str]:
        """All known keys, sorted."""
        return sorted(self._specs)


class Configuration16(_Store):
    """OCPP 1.6 configuration keys (core profile and the standard optional ones) with read-only flags."""

    max_value_length = MAX_VALUE_LENGTH_16

    def __init__(self, model: dict, identity: str, overrides: dict[str, str] | None = None) -> None:
        self.identity = identity
        super().__init__(_table("1.6", model), overrides)


def _specs_16(model: dict) -> list[_Spec]:
    connectors, _, three_phase_ac = _model_facts(model)
    rotation = "RST" if three_phase_ac else "NotApplicable"
    measurands = len(MEASURANDS_16)

    def rw_int(name: str, default: int, minimum: int = 0) -> _Spec:
        return _Spec(name, str(default), False, _integer(minimum))

    def ro_int(name: str, value: int) -> _Spec:
        return _Spec(name, str(value), True, _integer())

    def rw_bool(name: str, default: bool) -> _Spec:
        return _Spec(name, "true" if default else "false", False, _boolean)

    def rw_measurands(name: str, default: str) -> _Spec:
        return _Spec(name, default, False, _members(MEASURANDS_16, max_items=measurands))

    return [
        rw_bool("AllowOfflineTxForUnknownId", False),
        rw_bool("AuthorizationCacheEnabled", True),
        rw_bool("AuthorizeRemoteTxRequests", True),
        rw_int("ClockAlignedDataInterval", 0),
        rw_int("ConnectionTimeOut", 60),
        _Spec(
            "ConnectorPhaseRotation",
            ",".join(f"{c}.{rotation}" for c in range(connectors + 1)),
            False,
            _phase_rotation(connectors),
        ),
        ro_int("ConnectorPhaseRotationMaxLength", connectors + 1),
        ro_int("GetConfigurationMaxKeys", 50),
        rw_int("HeartbeatInterval", 60, minimum=1),
        rw_bool("LocalAuthorizeOffline", True),
        rw_bool("LocalPreAuthorize", False),
        rw_measurands("MeterValuesAlignedData", ENERGY),
        ro_int("MeterValuesAlignedDataMaxLength", measurands),
        rw_measurands("MeterValuesSampledData", DEFAULT_SAMPLED),
        ro_int("MeterValuesSampledDataMaxLength", measurands),
        rw_int("MeterValueSampleInterval", 60),
        ro_int("NumberOfConnectors", connectors),
        rw_int("ResetRetries", 3),
        rw_bool("StopTransactionOnEVSideDisconnect", True),
        rw_bool("StopTransactionOnInvalidId", True),
        rw_measurands("StopTxnAlignedData", ""),
        ro_int("StopTxnAlignedDataMaxLength", measurands),
        rw_measurands("StopTxnSampledData", ENERGY),
        ro_int("StopTxnSampledDataMaxLength", measurands),
        _Spec("SupportedFeatureProfiles", ",".join(FEATURE_PROFILES), True, _members(FEATURE_PROFILES)),
        ro_int("SupportedFeatureProfilesMaxLength", len(FEATURE_PROFILES)),
        rw_int("TransactionMessageAttempts", 3),
        rw_int("TransactionMessageRetryInterval", 60),
        rw_bool("UnlockConnectorOnEVSideDisconnect", True),
        rw_int("WebSocketPingInterval", 60),
        rw_bool("LocalAuthListEnabled", True),
        ro_int("LocalAuthListMaxLength", 1000),
        ro_int("SendLocalListMaxLength", 100),
        _Spec("ReserveConnectorZeroSupported", "true", True, _boolean),
        ro_int("ChargeProfileMaxStackLevel", 10),
        _Spec("ChargingScheduleAllowedChargingRateUnit", "Current,Power", True, _members(("Current", "Power"), 1)),
        ro_int("ChargingScheduleMaxPeriods", 24),
        ro_int("MaxChargingProfilesInstalled", 10),
    ]


class DeviceModel201(_Store):
    """OCPP 2.0.1 device-model variables, addressed as 'Component.Variable' (REST) or (component, variable) (OCPP)."""

    max_value_length = MAX_VALUE_LENGTH_201

    def __init__(
        self,
        model: dict,
        identity: str,
        overrides: dict[str, str] | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.identity = identity
        self._clock = clock or (lambda: datetime.now(UTC))
        table = _table("2.0.1", model)
        self._components = table.components
        super().__init__(table, overrides, fixed={"ChargingStation.SerialNumber": identity})

    def _current(self, spec: _Spec) -> str | None:
        if spec.name == "ClockCtrlr.DateTime":
            return self._clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return super()._current(spec)

    def _address(self, component: str, variable: str) -> tuple[_Spec | None, str | None]:
        """The variable's spec, or the GetVariable/SetVariable status that says why there is none."""
        if not isinstance(component, str) or component.lower() not in self._components:
            return None, "UnknownComponent"
        spec = self._spec(f"{component}.{variable}") if isinstance(variable, str) and "." not in variable else None
        return (spec, None) if spec is not None else (None, "UnknownVariable")

    def get_variable(self, component: str, variable: str, attribute_type: str = "Actual") -> tuple[str, str | None]:
        """(GetVariableStatusEnumType, value); only the Actual attribute exists."""
        spec, status = self._address(component, variable)
        if spec is None:
            return status or "UnknownVariable", None
        if attribute_type != "Actual":
            return "NotSupportedAttributeType", None
        return "Accepted", self._current(spec)

    def set_variable(self, component: str, variable: str, value: str, attribute_type: str = "Actual") -> str:
        """SetVariableStatusEnumType; read-only or invalid values are 'Rejected'."""
        spec, status = self._address(component, variable)
        if spec is None:
            return status or "UnknownVariable"
        if attribute_type != "Actual":
            return "NotSupportedAttributeType"
        return self._set(spec, value)

    def report(self, criteria: list[str] | None = None) -> list[dict]:
        """ReportData items (snake_case, as the ocpp library takes them) for NotifyReport.

        FullInventory (or no/unknown criteria): every variable; ConfigurationInventory: the writable ones;
        SummaryInventory: the availability state.
        """
        wanted = set(criteria or ())
        names = self.keys()
        if not wanted or "FullInventory" in wanted or not wanted & {"ConfigurationInventory", "SummaryInventory"}:
            selected = names
        else:
            selected = [
                name
                for name in names
                if ("ConfigurationInventory" in wanted and not self._specs[name].readonly)
                or ("SummaryInventory" in wanted and name.endswith(".AvailabilityState"))
            ]
        return [self._report_item(self._specs[name]) for name in selected]

    def _report_item(self, spec: _Spec) -> dict:
        component, variable = spec.name.split(".", 1)
        attribute: dict = {"type": "Actual", "mutability": "ReadOnly" if spec.readonly else "ReadWrite"}
        value = self._current(spec)
        if value is not None:
            attribute["value"] = value
        characteristics: dict = {"data_type": spec.data_type, "supports_monitoring": False}
        if spec.unit is not None:
            characteristics["unit"] = spec.unit
        if spec.max_limit is not None:
            characteristics["max_limit"] = spec.max_limit
        if spec.values_list is not None:
            characteristics["values_list"] = spec.values_list
        return {
            "component": {"name": component},
            "variable": {"name": variable},
            "variable_attribute": [attribute],
            "variable_characteristics": characteristics,
        }


def _specs_201(model: dict, identity: str = "") -> list[_Spec]:
    _, power, _ = _model_facts(model)

    def rw_int(name: str, default: int, minimum: int = 0, unit: str | None = "s") -> _Spec:
        return _Spec(name, str(default), False, _integer(minimum), "integer", unit)

    def ro_int(name: str, value: int, unit: str | None = None) -> _Spec:
        return _Spec(name, str(value), True, _integer(), "integer", unit)

    def rw_bool(name: str, default: bool) -> _Spec:
        return _Spec(name, "true" if default else "false", False, _boolean, "boolean")

    def ro_text(name: str, value: str) -> _Spec:
        return _Spec(name, value[:MAX_VALUE_LENGTH_201], True, _text(MAX_VALUE_LENGTH_201))

    def member_list(name: str, default: str, allowed: tuple[str, ...], min_items: int = 0) -> _Spec:
        return _Spec(name, default, False, _members(allowed, min_items), "MemberList", values_list=",".join(allowed))

    vendor = str(model.get("brand_name") or model.get("vendor_name") or "OCPPLab")
    model_name = str(model.get("model_name") or model.get("name") or "Simulator")
    security_profile = int(model.get("security_profile", 1))
    return [
        rw_int("OCPPCommCtrlr.HeartbeatInterval", 60, minimum=1),
        _Spec(
            "OCPPCommCtrlr.NetworkConfigurationPriority",
            "0",
            False,
            _members(NETWORK_SLOTS, 1),
            "SequenceList",
            values_list=",".join(NETWORK_SLOTS),
            reboot=True,
        ),
        rw_int("OCPPCommCtrlr.MessageTimeout", 30, minimum=1),
        rw_int("OCPPCommCtrlr.WebSocketPingInterval", 60),
        rw_int("OCPPCommCtrlr.ResetRetries", 3, unit=None),
        rw_bool("SampledDataCtrlr.Enabled", True),
        rw_int("SampledDataCtrlr.TxUpdatedInterval", 60),
        member_list("SampledDataCtrlr.TxUpdatedMeasurands", DEFAULT_SAMPLED, MEASURANDS_201),
        member_list("SampledDataCtrlr.TxEndedMeasurands", ENERGY, MEASURANDS_201),
        member_list("SampledDataCtrlr.TxStartedMeasurands", ENERGY, MEASURANDS_201),
        rw_int("AlignedDataCtrlr.Interval", 0),
        member_list("AlignedDataCtrlr.Measurands", ENERGY, MEASURANDS_201),
        rw_bool("AuthCtrlr.Enabled", True),
        rw_bool("AuthCtrlr.AuthorizeRemoteStart", True),
        rw_bool("AuthCtrlr.LocalAuthorizeOffline", True),
        rw_bool("AuthCtrlr.LocalPreAuthorize", False),
        rw_bool("AuthCacheCtrlr.Enabled", True),
        rw_bool("LocalAuthListCtrlr.Enabled", True),
        _Spec("LocalAuthListCtrlr.Entries", "0", True, _integer(0, 1000), "integer", max_limit=1000),
        ro_int("LocalAuthListCtrlr.ItemsPerMessage", 100),
        ro_int("LocalAuthListCtrlr.BytesPerMessage", 65536),
        rw_int("TxCtrlr.EVConnectionTimeOut", 60),
        rw_bool("TxCtrlr.StopTxOnEVSideDisconnect", True),
        rw_bool("TxCtrlr.StopTxOnInvalidId", True),
        member_list("TxCtrlr.TxStartPoint", "PowerPathClosed", TX_POINTS, min_items=1),
        member_list("TxCtrlr.TxStopPoint", "EVConnected", TX_POINTS, min_items=1),
        ro_int("DeviceDataCtrlr.ItemsPerMessage", 50),
        ro_int("DeviceDataCtrlr.BytesPerMessage", 65536),
        _Spec("SecurityCtrlr.SecurityProfile", str(security_profile), True, _integer(0, 3), "integer"),
        ro_text("ChargingStation.Model", model_name),
        ro_text("ChargingStation.VendorName", vendor),
        ro_text("ChargingStation.SerialNumber", identity),
        _Spec(
            "ChargingStation.AvailabilityState",
            "Available",
            True,
            _option(AVAILABILITY_STATES),
            "OptionList",
            values_list=",".join(AVAILABILITY_STATES),
        ),
        _Spec("EVSE.Power", str(power), True, _decimal, "decimal", "W", max_limit=float(power)),
        rw_bool("SmartChargingCtrlr.Enabled", True),
        rw_bool("ReservationCtrlr.Enabled", True),
        _Spec("ClockCtrlr.DateTime", None, True, _text(40), "dateTime"),
        _Spec(
            "ClockCtrlr.TimeSource",
            "Heartbeat",
            False,
            _members(TIME_SOURCES, 1),
            "SequenceList",
            values_list=",".join(TIME_SOURCES),
        ),
    ]


def configuration_for(
    ocpp_version: str, model: dict, identity: str, overrides: dict[str, str] | None = None
) -> Configuration16 | DeviceModel201:
    """The configuration store of a charger's OCPP version."""
    if ocpp_version == "OCPP2.0.1":
        return DeviceModel201(model, identity, overrides)
    return Configuration16(model, identity, overrides)
