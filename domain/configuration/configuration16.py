"""OCPP 1.6 configuration keys: the table is ocpp16.json; this module fills in what depends on the charger model."""

from __future__ import annotations

from functools import cache

from ocpp.v16.enums import Measurand

from domain.configuration.store import Store, build_specs, model_facts, table_for
from domain.configuration.validate import Spec, TableFile, load_table

MAX_VALUE_LENGTH_16 = 500  # ChangeConfiguration.req value: CiString500
MEASURANDS_16: tuple[str, ...] = tuple(m.value for m in Measurand)
TABLE_FILE_16 = "ocpp16.json"


def _derived(model: dict) -> dict[str, object]:
    """The model-dependent values the table refers to as {"derived": name}."""
    connectors, _, three_phase_ac = model_facts(model)
    rotation = "RST" if three_phase_ac else "NotApplicable"
    return {
        "connector_count": connectors,
        "connector_ids": connectors + 1,  # connector 0 is the charge point itself
        "connector_phase_rotation": ",".join(f"{c}.{rotation}" for c in range(connectors + 1)),
        "measurand_count": len(MEASURANDS_16),
    }


# What the table file must declare and may refer to (its derived values and library enums).
TABLE_RULES_16 = {
    "ocpp_version": "1.6",
    "device_model": False,
    "max_value_length": MAX_VALUE_LENGTH_16,
    "external_enums": {"Measurand": MEASURANDS_16},
    "derived_names": frozenset(_derived({})),
}


@cache
def table_16() -> TableFile:
    """The checked 1.6 table file (loaded once)."""
    return load_table(TABLE_FILE_16, **TABLE_RULES_16)


def _specs_16(model: dict) -> list[Spec]:
    return build_specs(table_16(), _derived(model))


class Configuration16(Store):
    """OCPP 1.6 configuration keys (core profile and the standard optional ones) with read-only flags."""

    max_value_length = MAX_VALUE_LENGTH_16

    def __init__(self, model: dict, identity: str, overrides: dict[str, str] | None = None) -> None:
        self.identity = identity
        super().__init__(table_for("1.6", model, _specs_16), overrides)
