"""Typed key/value storage shared by both OCPP versions, over the specs of one charger model's table."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from domain.configuration.validate import Spec, TableFile, derivation, is_int, normalizer


@dataclass(frozen=True)
class ConfigEntry:
    """One configuration key (1.6) or 'Component.Variable' (2.0.1) with its current value."""

    key: str
    value: str | None
    readonly: bool


def build_specs(table: TableFile, derived: Mapping[str, object]) -> list[Spec]:
    """A table's entries as specs for one charger model, with its derived values filled in (table order)."""

    def resolve(value: object) -> object:
        name = derivation(value)
        return derived[name] if name is not None else value

    specs = []
    for entry in table.entries:
        default = resolve(entry["default"])
        if is_int(default):
            default = str(default)
        if isinstance(default, str) and derivation(entry["default"]) and entry["type"] == "text":
            default = default[: entry["max_length"]]
        values = table.enums[entry["values"]] if "values" in entry else None
        specs.append(
            Spec(
                entry["name"],
                default,
                entry["readonly"],
                normalizer(entry, table.enums, derived),
                entry.get("data_type", "string"),
                entry.get("unit"),
                ",".join(values) if values is not None and table.device_model else None,
                resolve(entry.get("max_limit")),
                entry.get("reboot", False),
            )
        )
    return specs


def model_facts(model: dict) -> tuple[int, int, bool]:
    """(connector count, max power in W, whether connectors have a phase rotation) from a catalog snapshot."""
    connectors = max(1, int(model.get("connector_count") or 1))
    power = int(model.get("max_power_w") or 0)
    three_phase_ac = str(model.get("current_type", "ac")).lower() == "ac" and model.get("phases") != 1
    return connectors, power, three_phase_ac


@dataclass(frozen=True)
class Table:
    """The specs of one OCPP version for one charger model, built once and shared by its chargers."""

    specs: dict[str, Spec]
    index: dict[str, str]
    components: frozenset[str]


_TABLES: dict[tuple, Table] = {}


def table_for(version: str, model: dict, build: Callable[[dict], list[Spec]]) -> Table:
    """The (cached) table of a version for a model; `build` makes its specs in table order."""
    key = (
        version,
        model_facts(model),
        *(model.get(k) for k in ("brand_name", "vendor_name", "model_name", "name", "phases", "security_profile")),
    )
    table = _TABLES.get(key)
    if table is None:
        specs = {spec.name: spec for spec in build(model)}
        table = Table(
            specs, {name.lower(): name for name in specs}, frozenset(name.split(".", 1)[0].lower() for name in specs)
        )
        _TABLES[key] = table
    return table


class Store:
    """Typed key/value storage shared by both OCPP versions."""

    max_value_length = 500

    def __init__(self, table: Table, overrides: dict[str, str] | None, fixed: dict[str, str] | None = None) -> None:
        self._specs, self._index = table.specs, table.index  # shared by every charger of the same model
        self._values: dict[str, str | None] = dict(fixed or {})  # only what differs from the defaults
        for key, raw in (overrides or {}).items():
            spec = self._spec(key)
            if spec is not None and not spec.readonly and isinstance(raw, str):
                normalized = self._normalize(spec, raw)
                if normalized is not None:  # a stale or invalid persisted value falls back to the default
                    self._values[spec.name] = normalized

    def _spec(self, key: str) -> Spec | None:
        name = self._index.get(key.lower()) if isinstance(key, str) else None
        return self._specs[name] if name is not None else None

    def _normalize(self, spec: Spec, raw: str) -> str | None:
        if not isinstance(raw, str) or len(raw) > self.max_value_length:
            return None
        return spec.normalize(raw)

    def _current(self, spec: Spec) -> str | None:
        return self._values.get(spec.name, spec.default)

    def _set(self, spec: Spec, raw: str) -> str:
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

    def _entry(self, spec: Spec) -> ConfigEntry:
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
