"""Domain errors: each names a broken rule in the domain's words."""

from __future__ import annotations


class DomainError(Exception):
    """A command broke a rule of the domain; nothing was recorded."""


class InvalidValue(DomainError):
    """A value object was built from a value that does not fit it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class NotFound(DomainError):
    """The resource does not exist for this tenant (or no longer exists)."""

    def __init__(self, kind: str, key: object) -> None:
        super().__init__(f"{kind} not found")
        self.kind = kind
        self.key = key


class Deleted(DomainError):
    """A deleted resource stays deleted: no command applies to it any more."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"{kind} has been deleted")
        self.kind = kind


class Conflict(DomainError):
    """The command contradicts the current state (a duplicate identity, a location that still has chargers)."""


class Contended(DomainError):
    """Other writers kept changing the same aggregate: the change was not made, and may be retried."""
