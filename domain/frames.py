"""The frame log: every OCPP frame a charger exchanged, one append-only stream per charger.

Frames are events of their own stream and never replayed into an aggregate: auditors read them, the logs
view folds them, nothing else depends on their count.
"""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import DomainEvent

CP_TO_CSMS = "cp_to_csms"
CSMS_TO_CP = "csms_to_cp"


def frame_log_id(charger_id: UUID) -> UUID:
    return uuid5(NAMESPACE_URL, f"/chargers/{charger_id}/frames")


class FrameRecorded(DomainEvent):
    """One OCPP-J frame as it crossed the wire (raw text), its direction, type, action and message id."""

    charger_id: UUID
    direction: str
    message_type: int | None
    action: str | None
    message_id: str | None
    raw: str
