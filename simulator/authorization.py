"""Whether an id tag may start: the local list and the auth cache first (LocalPreAuthorize), else the CSMS; and the
local list's updates.

A mixin of the Station (simulator/station.py): it uses the station's state and the version's hooks."""

from __future__ import annotations

import logging

from simulator.model import expired

log = logging.getLogger("ocpplab.simulator")


class Authorization:
    """Whether an id tag may start."""

    async def authorize(self, id_tag: str) -> str:
        """Sends Authorize; the CSMS's verdict (and the auth cache learns it)."""
        raise NotImplementedError

    async def authorize_for_start(self, id_tag: str) -> str:
        """A tag the charger already holds as Accepted starts at once when LocalPreAuthorize is on (OCPP: the
        local list first, then the auth cache); anything else goes to the CSMS, whose verdict counts."""
        if self.known_verdict(id_tag) == "Accepted":
            return "Accepted"
        return await self.authorize(id_tag)

    def known_verdict(self, id_tag: str) -> str | None:
        pre_authorize, list_enabled, cache_enabled = self.authorization_keys
        configuration = self.configuration  # type: ignore[attr-defined]
        if not configuration.bool_value(pre_authorize, False):
            return None
        if configuration.bool_value(list_enabled, True):
            for entry in self.runtime.local_list["entries"]:
                if entry["id_tag"] == id_tag and not expired(entry.get("expiry_date")):
                    return entry.get("status", "Accepted")
        return self.auth_cache.get(id_tag) if configuration.bool_value(cache_enabled, True) else None

    def apply_local_list(self, version: int, update_type: str, changes: list[tuple[str, dict | None]]) -> bool:
        """SendLocalList for both versions: Full replaces the list, Differential needs a newer version and
        removes the entries without info. False on a version mismatch (nothing changes)."""
        current = self.runtime.local_list
        differential = update_type == "Differential"
        if differential and version <= current["version"]:
            return False
        entries = {e["id_tag"]: e for e in current["entries"]} if differential else {}
        for id_tag, entry in changes:
            if entry is None:
                entries.pop(id_tag, None)
            else:
                entries[id_tag] = entry
        self.observe("local_list_changed", version, list(entries.values()))
        return True
