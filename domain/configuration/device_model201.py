"""OCPP 2.0.1 device model: the table is ocpp201.json; this module adds addressing, reports and the live clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache

from ocpp.v201.enums import MeasurandEnumType

from domain.configuration.store import Store, build_specs, model_facts, table_for
from domain.configuration.validate import Spec, TableFile, load_table

MAX_VALUE_LENGTH_201 = 1000  # SetVariableData.attributeValue: string[0..1000]
MEASURANDS_201: tuple[str, ...] = tuple(m.value for m in MeasurandEnumType)
TABLE_FILE_201 = "ocpp201.json"


def _derived(model: dict) -> dict[str, object]:
    """The model-dependent values the table refers to as {"derived": name}."""
    _, power, _ = model_facts(model)
    return {
        "max_power_w": power,
        "max_power_limit": float(power),
        "vendor_name": str(model.get("brand_name") or model.get("vendor_name") or "OCPPLab"),
        "model_name": str(model.get("model_name") or model.get("name") or "Simulator"),
        "security_profile": int(model.get("security_profile", 1)),
    }


# What the table file must declare and may refer to (its derived values and library enums).
TABLE_RULES_201 = {
    "ocpp_version": "2.0.1",
    "device_model": True,
    "max_value_length": MAX_VALUE_LENGTH_201,
    "external_enums": {"Measurand": MEASURANDS_201},
    "derived_names": frozenset(_derived({})),
}


@cache
def table_201() -> TableFile:
    """The checked 2.0.1 table file (loaded once)."""
    return load_table(TABLE_FILE_201, **TABLE_RULES_201)


def _specs_201(model: dict) -> list[Spec]:
    return build_specs(table_201(), _derived(model))


class DeviceModel201(Store):
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
        table = table_for("2.0.1", model, _specs_201)
        self._components = table.components
        super().__init__(table, overrides, fixed={"ChargingStation.SerialNumber": identity})

    def _current(self, spec: Spec) -> str | None:
        if spec.name == "ClockCtrlr.DateTime":
            return self._clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return super()._current(spec)

    def _address(self, component: str, variable: str) -> tuple[Spec | None, str | None]:
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

    def _report_item(self, spec: Spec) -> dict:
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
