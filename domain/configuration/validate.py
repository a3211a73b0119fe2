"""Configuration tables as data: the shape check of a table file and the value validation both OCPP versions share.

A table file (ocpp16.json, ocpp201.json) lists one entry per configuration key (1.6) or 'Component.Variable'
(2.0.1): its value type and parameters, default, read-only flag and, for the 2.0.1 device model, the
characteristics NotifyReport describes. Values that depend on the charger model (connector count, power,
vendor...) are written as {"derived": "<name>"} and filled in by the version's module. The file is checked
when it is loaded; an error names the file and the entry at fault.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib import resources

SCHEMA = "ocpplab-gateway/configuration-table"
SCHEMA_VERSION = 1
MAX_INT = 2**31 - 1
DATA_TYPES = ("string", "decimal", "integer", "dateTime", "boolean", "OptionList", "SequenceList", "MemberList")


Normalizer = Callable[[str], str | None]  # the normalised value, or None when the value is invalid


class TableError(ValueError):
    """A configuration table file that does not have the expected shape."""


@dataclass(frozen=True)
class Spec:
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


# Value validation: each normalizer returns the canonical form of a valid value, or None.


def integer(minimum: int = 0, maximum: int = MAX_INT) -> Normalizer:
    def normalize(raw: str) -> str | None:
        text = raw.strip()
        if not re.fullmatch(r"-?\d{1,10}", text):
            return None
        number = int(text)
        return str(number) if minimum <= number <= maximum else None

    return normalize


def boolean(raw: str) -> str | None:
    text = raw.strip().lower()
    return text if text in ("true", "false") else None


def decimal(raw: str) -> str | None:
    try:
        number = float(raw)
    except ValueError:
        return None
    return raw.strip() if math.isfinite(number) and number >= 0 else None


def text(max_length: int) -> Normalizer:
    def normalize(raw: str) -> str | None:
        return raw if len(raw) <= max_length else None

    return normalize


def members(allowed: Iterable[str], min_items: int = 0, max_items: int | None = None) -> Normalizer:
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


def option(allowed: Iterable[str]) -> Normalizer:
    return members(allowed, min_items=1, max_items=1)


def phase_rotation(allowed: Iterable[str], connector_count: int) -> Normalizer:
    """1.6 ConnectorPhaseRotation: '0.RST,1.RST,...', one entry per connector id at most."""
    rotations = {item.lower(): item for item in allowed}

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


# The table file: value types with their parameters (required, optional) and the reported data type.
TYPES: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "integer": (frozenset(), frozenset({"min", "max"})),
    "boolean": (frozenset(), frozenset()),
    "decimal": (frozenset(), frozenset()),
    "text": (frozenset({"max_length"}), frozenset()),
    "member_list": (frozenset({"values"}), frozenset({"min_items"})),
    "option": (frozenset({"values"}), frozenset()),
    "phase_rotation": (frozenset({"values", "max_connector"}), frozenset()),
}
REQUIRED = frozenset({"name", "type", "default", "readonly"})
OPTIONAL = frozenset({"reboot", "data_type", "unit", "max_limit", "description"})


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def derivation(value: object) -> str | None:
    """The derivation a {"derived": name} value names, else None."""
    if isinstance(value, dict) and list(value) == ["derived"] and isinstance(value["derived"], str):
        return value["derived"]
    return None


def normalizer(entry: Mapping, enums: Mapping[str, tuple[str, ...]], derived: Mapping[str, object]) -> Normalizer:
    kind = entry["type"]
    if kind == "integer":
        return integer(entry.get("min", 0), entry.get("max", MAX_INT))
    if kind == "boolean":
        return boolean
    if kind == "decimal":
        return decimal
    if kind == "text":
        return text(entry["max_length"])
    allowed = enums[entry["values"]]
    if kind == "member_list":
        return members(allowed, entry.get("min_items", 0))
    if kind == "option":
        return option(allowed)
    connectors = entry["max_connector"]
    return phase_rotation(allowed, derived[derivation(connectors)] if derivation(connectors) else connectors)


@dataclass(frozen=True)
class TableFile:
    """A checked table file: its entries, in file order, and the enums they refer to."""

    source: str
    ocpp_version: str
    entries: tuple[dict, ...]
    enums: dict[str, tuple[str, ...]]
    device_model: bool


def check_table(
    data: object,
    source: str,
    *,
    ocpp_version: str,
    device_model: bool,
    max_value_length: int,
    external_enums: Mapping[str, tuple[str, ...]],
    derived_names: Iterable[str],
) -> TableFile:
    """The table, if its shape is right; raises TableError naming the bad entry otherwise."""

    def fail(problem: str) -> TableError:
        return TableError(f"{source}: {problem}")

    if not isinstance(data, dict):
        raise fail("a table file is a JSON object")
    if data.get("schema") != SCHEMA or data.get("version") != SCHEMA_VERSION:
        raise fail(
            f"expected schema {SCHEMA!r} version {SCHEMA_VERSION}, got {data.get('schema')!r} {data.get('version')!r}"
        )
    if data.get("ocpp_version") != ocpp_version:
        raise fail(f"expected ocpp_version {ocpp_version!r}, got {data.get('ocpp_version')!r}")
    unknown = set(data) - {"schema", "version", "ocpp_version", "description", "enums", "entries"}
    if unknown:
        raise fail(f"unknown top-level fields {sorted(unknown)}")
    enums = _check_enums(data.get("enums", {}), external_enums, fail)
    entries = data.get("entries")
    if not isinstance(entries, list) or not entries:
        raise fail("'entries' must be a non-empty list")
    derivations = frozenset(derived_names)
    seen: set[str] = set()
    for position, entry in enumerate(entries):
        label = entry.get("name") if isinstance(entry, dict) else None
        where = f"entry {position} ({label!r})" if isinstance(label, str) else f"entry {position}"
        problem = _check_entry(entry, enums, derivations, device_model, max_value_length)
        if problem is None and entry["name"].lower() in seen:
            problem = "duplicate name (names are case-insensitive)"
        if problem is not None:
            raise fail(f"{where}: {problem}")
        seen.add(entry["name"].lower())
    return TableFile(source, ocpp_version, tuple(entries), enums, device_model)


def _check_enums(raw: object, external: Mapping[str, tuple[str, ...]], fail) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, dict):
        raise fail("'enums' must be an object of name -> list of values")
    enums = dict(external)
    for name, values in raw.items():
        if name in external:
            raise fail(f"enum {name!r} is provided by the ocpp library and cannot be redefined")
        if not isinstance(values, list) or not values or not all(isinstance(v, str) and v for v in values):
            raise fail(f"enum {name!r} must be a non-empty list of non-empty strings")
        if len({v.lower() for v in values}) != len(values):
            raise fail(f"enum {name!r} has duplicate values")
        enums[name] = tuple(values)
    return enums


def _check_entry(
    entry: object,
    enums: Mapping[str, tuple[str, ...]],
    derivations: frozenset[str],
    device_model: bool,
    max_value_length: int,
) -> str | None:
    """What is wrong with one entry, or None."""
    if not isinstance(entry, dict):
        return "an entry is a JSON object"
    missing = REQUIRED - set(entry) | ({"data_type"} - set(entry) if device_model else set())
    if missing:
        return f"missing fields {sorted(missing)}"
    name, kind = entry["name"], entry["type"]
    if not isinstance(kind, str) or not isinstance(entry.get("values", ""), str):
        return "'type' and 'values' must be strings"
    if not isinstance(name, str) or not re.fullmatch(r"\w+", name.replace(".", "", 1) if device_model else name):
        return "'name' must be a word" + (" of the form 'Component.Variable'" if device_model else "")
    if device_model and name.count(".") != 1:
        return "'name' must have the form 'Component.Variable'"
    if kind not in TYPES:
        return f"unknown type {kind!r} (one of {', '.join(TYPES)})"
    required, optional = TYPES[kind]
    if required - set(entry):
        return f"type {kind!r} needs {sorted(required - set(entry))}"
    unknown = set(entry) - REQUIRED - OPTIONAL - required - optional
    if unknown:
        return f"unknown fields {sorted(unknown)} for type {kind!r}"
    if not isinstance(entry["readonly"], bool) or not isinstance(entry.get("reboot", False), bool):
        return "'readonly' and 'reboot' must be true or false"
    for field in ("min", "max", "max_length", "min_items"):
        if field in entry and (not is_int(entry[field]) or (entry[field] < 0 and field != "min")):
            return f"'{field}' must be an integer" + ("" if field == "min" else " >= 0")
    if entry.get("min", 0) > entry.get("max", MAX_INT):
        return "'min' is greater than 'max'"
    if "values" in entry and entry["values"] not in enums:
        return f"unknown enum {entry['values']!r}"
    if entry.get("min_items", 0) > len(enums.get(entry.get("values"), ())):
        return "'min_items' exceeds the number of allowed values"
    for field, kinds in (
        ("default", (str, type(None))),
        ("max_limit", (int, float, type(None))),
        ("max_connector", int),
    ):
        value = entry.get(field)
        derived = derivation(value)
        if derived is not None:
            if derived not in derivations:
                return f"'{field}' derives from unknown {derived!r} (known: {', '.join(sorted(derivations))})"
        elif field in entry and (not isinstance(value, kinds) or isinstance(value, bool)):
            return f"'{field}' has the wrong type ({type(value).__name__})"
    if entry["default"] is None and not entry["readonly"]:
        return "a writable entry needs a default value"
    if "data_type" in entry and entry["data_type"] not in DATA_TYPES:
        return f"unknown data_type {entry['data_type']!r} (one of {', '.join(DATA_TYPES)})"
    for field in ("unit", "description"):
        if field in entry and not isinstance(entry[field], str):
            return f"'{field}' must be a string"
    default, literal = entry["default"], derivation(entry.get("max_connector")) is None
    valid = isinstance(default, str) and len(default) <= max_value_length
    if isinstance(default, str) and literal and not (valid and normalizer(entry, enums, {})(default) == default):
        return f"default {default!r} is not a valid {kind} value"
    return None


def load_table(filename: str, **expect) -> TableFile:
    """Reads and checks a table file shipped in this package (importlib.resources: works installed or editable)."""
    try:
        data = json.loads(resources.files(__package__).joinpath(filename).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise TableError(f"{filename}: not valid JSON: {exc}") from exc
    return check_table(data, filename, **expect)
