"""Commands that change only a charge point's own state (configuration, auth cache, local authorization list).

They behave exactly as the CSMS's ChangeConfiguration / SetVariables, ClearCache and SendLocalList (Full) would,
and apply whether the charge point is connected or not (the fleet applies them to the recorded state then).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from domain.configuration import Configuration16, DeviceModel201
from domain.runtime import ChargerRuntime

Observe = Callable[..., None]  # records an observation on the runtime: observe("configuration_changed", ...)


def local_list_settings(configuration: Configuration16 | DeviceModel201) -> tuple[bool, int]:
    """(enabled, maximum entries) of the local authorization list, in either version's vocabulary."""
    if isinstance(configuration, DeviceModel201):
        enabled = configuration.bool_value("LocalAuthListCtrlr.Enabled", True)
        return enabled, configuration.int_value("LocalAuthListCtrlr.Entries", 1000) or 1000
    return configuration.bool_value("LocalAuthListEnabled", True), configuration.int_value(
        "LocalAuthListMaxLength", 1000
    )


def apply_local(
    kind: str,
    payload: dict[str, Any],
    runtime: ChargerRuntime,
    configuration: Configuration16 | DeviceModel201,
    auth_cache: dict[str, Any],
    observe: Observe,
) -> dict[str, Any]:
    """Applies one local-state command; raises ValueError (nothing changed) when it cannot."""
    if kind == "set_configuration":
        return _set_configuration(payload["changes"], configuration, observe)
    if kind == "reset_cache":
        cleared = len(auth_cache)
        auth_cache.clear()
        return {"cleared_entries": cleared}
    if kind == "send_local_list":
        return _send_local_list(payload["list_version"], payload["entries"], runtime, configuration, observe)
    if kind == "clear_local_list":
        deleted = len(runtime.local_list["entries"])
        observe("local_list_changed", 0, [])
        return {"entries_deleted": deleted, "list_version": 0}
    raise ValueError(f"not possible: {kind} is not a local command")


def _set_configuration(
    changes: dict[str, str], configuration: Configuration16 | DeviceModel201, observe: Observe
) -> dict[str, Any]:
    problems = [problem for key, value in changes.items() if (problem := configuration.problem(key, value))]
    if problems:
        raise ValueError("; ".join(problems))
    configured, reboot = [], False
    for key, value in changes.items():
        status = configuration.change(key, value)
        reboot = reboot or status == "RebootRequired"
        (entry,), _ = configuration.get([key])  # the canonical name and the normalised value
        observe("configuration_changed", entry.key, entry.value, "api")
        configured.append(entry.key)
    return {"status": "RebootRequired" if reboot else "Accepted", "configured": configured}


def _send_local_list(
    version: int,
    entries: list[dict[str, Any]],
    runtime: ChargerRuntime,
    configuration: Configuration16 | DeviceModel201,
    observe: Observe,
) -> dict[str, Any]:
    enabled, maximum = local_list_settings(configuration)
    if not enabled:
        raise ValueError("not possible: the local authorization list is disabled on this charger")
    current = runtime.local_list["version"]
    if version <= current:
        raise ValueError(f"version mismatch: list_version must be greater than the current version {current}")
    if len(entries) > maximum:
        raise ValueError(f"too many entries: the charger keeps at most {maximum}")
    kept = [{"status": "Accepted", **entry} for entry in entries]
    observe("local_list_changed", version, kept)
    return {"status": "Accepted", "list_version": version, "entries_received": len(entries)}
