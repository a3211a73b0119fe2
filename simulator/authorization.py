"""Whether an id tag may start: online the CSMS decides (or the charge point itself with LocalPreAuthorize); offline
the charge point decides alone. The rules are `domain.chargepoint.authorization`; the local list's updates too.

A mixin of the Station (simulator/station.py): it uses the station's state and the version's hooks."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from domain.chargepoint.authorization import AuthorizationRules, Verdict, offline_verdict, pre_authorized
from simulator.model import CommandRefused, Offline

log = logging.getLogger("ocpplab.simulator")
CSMS = "CSMS"


class Authorization:
    """Whether an id tag may start."""

    authorization_keys: tuple[str, str, str, str, str]
    """LocalPreAuthorize, LocalAuthorizeOffline, unknown tags offline, local list enabled, auth cache enabled."""

    async def authorize(self, id_tag: str) -> str:
        """Sends Authorize; the CSMS's verdict (and the auth cache learns it)."""
        raise NotImplementedError

    def authorization_rules(self) -> AuthorizationRules:
        pre, offline, unknown, local_list, cache = self.authorization_keys
        value = self.configuration.bool_value  # type: ignore[attr-defined]
        return AuthorizationRules(
            pre_authorize=value(pre, False),
            authorize_offline=value(offline, True),
            unknown_offline=value(unknown, False),
            list_enabled=value(local_list, True),
            cache_enabled=value(cache, True),
        )

    async def authorize_for_start(self, id_tag: str) -> Verdict:
        """Online: a tag known as Accepted starts at once with LocalPreAuthorize (the local list first, then the
        auth cache), any other goes to the CSMS, whose verdict counts. Offline (or when the connection ends while
        asking): the charge point's own verdict."""
        now = datetime.now(UTC)
        entries, rules = self.runtime.local_list["entries"], self.authorization_rules()  # type: ignore[attr-defined]
        if self.ready:  # type: ignore[attr-defined]
            if pre_authorized(id_tag, entries, self.auth_cache, rules, now):  # type: ignore[attr-defined]
                return Verdict("Accepted", "local list or authorization cache")
            try:
                return Verdict(await self.authorize(id_tag), CSMS)
            except Offline:
                log.info("%s: the connection ended while authorizing %s: deciding offline", self.spec.identity, id_tag)  # type: ignore[attr-defined]
        return offline_verdict(id_tag, entries, self.auth_cache, rules, now)  # type: ignore[attr-defined]

    @staticmethod
    def rejected(verdict: Verdict) -> CommandRefused:
        """The refusal of a start whose tag was not accepted (the reason says when the charge point decided)."""
        if verdict.source == CSMS:
            return CommandRefused(f"id tag rejected: {verdict.status}", {"id_tag_status": verdict.status})
        return CommandRefused(
            f"id tag rejected: {verdict.describe()}", {"id_tag_status": verdict.status, "offline": True}
        )

    def apply_local_list(self, version: int, update_type: str, changes: list[tuple[str, dict | None]]) -> bool:
        """SendLocalList for both versions: Full replaces the list, Differential needs a newer version and
        removes the entries without info. False on a version mismatch (nothing changes)."""
        current = self.runtime.local_list  # type: ignore[attr-defined]
        differential = update_type == "Differential"
        if differential and version <= current["version"]:
            return False
        entries = {e["id_tag"]: e for e in current["entries"]} if differential else {}
        for id_tag, entry in changes:
            if entry is None:
                entries.pop(id_tag, None)
            else:
                entries[id_tag] = entry
        self.observe("local_list_changed", version, list(entries.values()))  # type: ignore[attr-defined]
        return True
