"""OCPP dateTime values: ISO 8601 with `Z` allowed, UTC when no offset is given (as OCPP times are)."""

from __future__ import annotations

from datetime import UTC, datetime


def instant(text: str) -> datetime:
    """The instant `text` names; ValueError when it names none."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def instant_or_none(text: str | None) -> datetime | None:
    """The instant `text` names, or None when it is absent or unreadable."""
    if not text:
        return None
    try:
        return instant(text)
    except ValueError:
        return None
