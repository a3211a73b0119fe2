"""Who may start without the CSMS: LocalPreAuthorize online, the offline rules otherwise."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.chargepoint.authorization import AuthorizationRules, offline_verdict, pre_authorized

NOW = datetime(2026, 1, 1, tzinfo=UTC)
LISTED = [
    {"id_tag": "LISTED", "status": "Accepted"},
    {"id_tag": "BLOCKED", "status": "Blocked"},
    {"id_tag": "OLD", "status": "Accepted", "expiry_date": "2025-01-01T00:00:00Z"},
]
CACHE = {"CACHED": "Accepted", "CACHED-BAD": "Invalid", "LISTED": "Invalid"}
DEFAULTS = AuthorizationRules()


@pytest.mark.parametrize(
    ("tag", "status", "source"),
    [
        ("LISTED", "Accepted", "local list"),  # the local list goes before the cache
        ("BLOCKED", "Blocked", "local list"),
        ("CACHED", "Accepted", "authorization cache"),
        ("CACHED-BAD", "Invalid", "authorization cache"),
        ("OLD", "Invalid", "unknown tag rule"),  # an expired entry is no entry
        ("STRANGER", "Invalid", "unknown tag rule"),
    ],
)
def test_offline_the_local_list_then_the_cache_decide(tag, status, source):
    verdict = offline_verdict(tag, LISTED, CACHE, DEFAULTS, NOW)
    assert (verdict.status, verdict.source) == (status, source)


def test_offline_an_unknown_tag_starts_only_when_unknown_tags_may():
    allowed = AuthorizationRules(unknown_offline=True)
    assert offline_verdict("STRANGER", LISTED, CACHE, allowed, NOW).accepted
    assert not offline_verdict("BLOCKED", LISTED, CACHE, allowed, NOW).accepted  # known as refused stays refused


def test_offline_without_local_authorize_offline_a_known_tag_does_not_start():
    rules = AuthorizationRules(authorize_offline=False)
    verdict = offline_verdict("LISTED", LISTED, CACHE, rules, NOW)
    assert not verdict.accepted and "LocalAuthorizeOffline" in verdict.describe()


def test_a_disabled_list_or_cache_is_not_read():
    no_list = AuthorizationRules(list_enabled=False)
    assert offline_verdict("LISTED", LISTED, CACHE, no_list, NOW).source == "authorization cache"
    no_cache = AuthorizationRules(cache_enabled=False)
    assert offline_verdict("CACHED", LISTED, CACHE, no_cache, NOW).source == "unknown tag rule"


def test_online_only_a_tag_known_as_accepted_skips_authorize_and_only_with_local_pre_authorize():
    rules = AuthorizationRules(pre_authorize=True)
    assert pre_authorized("LISTED", LISTED, CACHE, rules, NOW)
    assert pre_authorized("CACHED", LISTED, CACHE, rules, NOW)
    assert not pre_authorized("BLOCKED", LISTED, CACHE, rules, NOW)
    assert not pre_authorized("STRANGER", LISTED, CACHE, rules, NOW)
    assert not pre_authorized("LISTED", LISTED, CACHE, DEFAULTS, NOW)
