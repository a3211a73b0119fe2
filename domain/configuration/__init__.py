"""A simulated charge point's configuration: OCPP 1.6 configuration keys and the OCPP 2.0.1 device model.

Pure logic: values are validated and normalised here; persistence and the wire live elsewhere. Keys (1.6) and
component/variable names (2.0.1) are case-insensitive, as OCPP's CiString and device-model names are.

The tables are data (ocpp16.json, ocpp201.json, checked on load by validate.py); configuration16.py and
device_model201.py hold each version's behaviour, store.py the storage both share.
"""

from __future__ import annotations

from domain.configuration.configuration16 import MAX_VALUE_LENGTH_16, MEASURANDS_16, Configuration16
from domain.configuration.device_model201 import MAX_VALUE_LENGTH_201, MEASURANDS_201, DeviceModel201
from domain.configuration.store import ConfigEntry
from domain.configuration.validate import MAX_INT, Normalizer, TableError

__all__ = [
    "MAX_INT",
    "MAX_VALUE_LENGTH_16",
    "MAX_VALUE_LENGTH_201",
    "MEASURANDS_16",
    "MEASURANDS_201",
    "ConfigEntry",
    "Configuration16",
    "DeviceModel201",
    "Normalizer",
    "TableError",
    "configuration_for",
]


def configuration_for(
    ocpp_version: str, model: dict, identity: str, overrides: dict[str, str] | None = None
) -> Configuration16 | DeviceModel201:
    """The configuration store of a charger's OCPP version."""
    if ocpp_version == "OCPP2.0.1":
        return DeviceModel201(model, identity, overrides)
    return Configuration16(model, identity, overrides)
