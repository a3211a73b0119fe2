"""What the write use cases return: small values the routes turn into responses."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from domain.charger import Charger
from domain.command import Command


class Written:
    """What a write use case returns: the aggregate id and the log position that makes it visible."""

    __slots__ = ("created", "id", "position")

    def __init__(self, id: UUID, position: int, created: bool = True) -> None:
        self.id = id
        self.position = position
        self.created = created


@dataclass(frozen=True)
class Queued:
    """A command the API queued: the record, the charger it targets, and the log position of the write."""

    command: Command
    charger: Charger
    position: int
