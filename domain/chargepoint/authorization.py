"""Whether an id tag may start without asking the CSMS (OCPP 1.6 Local Authorization; 2.0.1 C12-C16).

Pure: the instant is passed in. What a charge point knows of a tag is its local authorization list first, then its
authorization cache. Online, a tag it knows as Accepted starts at once when LocalPreAuthorize is on; offline, it
starts on a known Accepted tag when LocalAuthorizeOffline is on, and on an unknown tag only when unknown tags are
allowed offline (1.6 AllowOfflineTxForUnknownId, 2.0.1 AuthCtrlr.OfflineTxForUnknownIdEnabled).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.instants import instant_or_none

ACCEPTED = "Accepted"
UNKNOWN = "Invalid"  # the verdict an unknown tag gets offline when unknown tags may not start


@dataclass(frozen=True)
class AuthorizationRules:
    """The configuration that decides, in either version's terms."""

    pre_authorize: bool = False  # LocalPreAuthorize
    authorize_offline: bool = True  # LocalAuthorizeOffline
    unknown_offline: bool = False  # AllowOfflineTxForUnknownId / OfflineTxForUnknownIdEnabled
    list_enabled: bool = True  # LocalAuthListEnabled / LocalAuthListCtrlr.Enabled
    cache_enabled: bool = True  # AuthorizationCacheEnabled / AuthCacheCtrlr.Enabled


@dataclass(frozen=True)
class Verdict:
    status: str
    source: str  # what decided: "local list", "authorization cache", "unknown tag rule", ...

    @property
    def accepted(self) -> bool:
        return self.status == ACCEPTED

    def describe(self) -> str:
        return f"{self.status} (offline, by the {self.source})"


def _expired(expiry: str | None, now: datetime) -> bool:
    moment = instant_or_none(expiry)
    return moment is not None and moment < now


def known_verdict(
    id_tag: str,
    local_list: Iterable[Mapping[str, Any]],
    cache: Mapping[str, str],
    rules: AuthorizationRules,
    now: datetime,
) -> Verdict | None:
    """What the charge point itself knows of the tag: its local list entry, else its cached verdict."""
    if rules.list_enabled:
        for entry in local_list:
            if entry["id_tag"] == id_tag and not _expired(entry.get("expiry_date"), now):
                return Verdict(entry.get("status", ACCEPTED), "local list")
    if rules.cache_enabled and id_tag in cache:
        return Verdict(cache[id_tag], "authorization cache")
    return None


def pre_authorized(
    id_tag: str,
    local_list: Iterable[Mapping[str, Any]],
    cache: Mapping[str, str],
    rules: AuthorizationRules,
    now: datetime,
) -> bool:
    """Online: a tag known as Accepted starts without an Authorize when LocalPreAuthorize is on."""
    if not rules.pre_authorize:
        return False
    verdict = known_verdict(id_tag, local_list, cache, rules, now)
    return verdict is not None and verdict.accepted


def offline_verdict(
    id_tag: str,
    local_list: Iterable[Mapping[str, Any]],
    cache: Mapping[str, str],
    rules: AuthorizationRules,
    now: datetime,
) -> Verdict:
    """Offline: the verdict the charge point gives a tag on its own. A tag it knows as refused stays refused; one
    it knows as Accepted starts only with LocalAuthorizeOffline; an unknown one only when unknown tags may."""
    verdict = known_verdict(id_tag, local_list, cache, rules, now)
    if verdict is None:
        return Verdict(ACCEPTED if rules.unknown_offline else UNKNOWN, "unknown tag rule")
    if verdict.accepted and not rules.authorize_offline:
        return Verdict(UNKNOWN, "LocalAuthorizeOffline setting (off)")
    return verdict
