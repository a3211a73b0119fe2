"""Reservation decisions: who may start where, charger-wide reservations, expiry."""

from datetime import UTC, datetime, timedelta

from domain.chargepoint.reservations import Reservation, Reservations

NOW = datetime(2026, 12, 4, 12, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
FREE = {1: "Available", 2: "Available"}


def test_a_reserved_connector_admits_its_tag_and_tags_of_its_parent_only():
    desk = Reservations()
    assert desk.reserve(Reservation(7, 1, "TAG-A", LATER, "FLEET"), FREE, NOW, True) == "Accepted"
    assert desk.refusal(1, "TAG-B", None, FREE) == desk.held[7]
    assert desk.refusal(1, "TAG-A", None, FREE) is None
    assert desk.refusal(1, "TAG-C", "FLEET", FREE) is None
    assert desk.refusal(2, "TAG-B", None, FREE) is None
    assert desk.claim(2, "TAG-B") is None
    assert desk.claim(1, "TAG-A").id == 7
    assert desk.held == {}


def test_reserve_now_answers_why_a_connector_cannot_be_held():
    desk = Reservations([Reservation(1, 1, "TAG-A", LATER)])
    statuses = {1: "Reserved", 2: "Faulted", 3: "Charging", 4: "Unavailable"}
    assert desk.reserve(Reservation(2, 1, "TAG-B", LATER), statuses, NOW, True) == "Occupied"
    assert desk.reserve(Reservation(2, 2, "TAG-B", LATER), statuses, NOW, True) == "Faulted"
    assert desk.reserve(Reservation(2, 3, "TAG-B", LATER), statuses, NOW, True) == "Occupied"
    assert desk.reserve(Reservation(2, 4, "TAG-B", LATER), statuses, NOW, True) == "Unavailable"
    assert desk.reserve(Reservation(2, 9, "TAG-B", LATER), statuses, NOW, True) == "Rejected"
    assert desk.reserve(Reservation(2, 1, "TAG-B", NOW), statuses, NOW, True) == "Rejected"  # already expired
    assert desk.reserve(Reservation(1, 1, "TAG-C", LATER), statuses, NOW, True) == "Accepted"  # same id: updated
    assert desk.held[1].id_tag == "TAG-C"


def test_a_charger_wide_reservation_keeps_one_free_connector_for_its_holder():
    desk = Reservations()
    assert desk.reserve(Reservation(5, 0, "TAG-A", LATER), FREE, NOW, False) == "Rejected"
    assert desk.reserve(Reservation(5, 0, "TAG-A", LATER), FREE, NOW, True) == "Accepted"
    assert desk.refusal(1, "TAG-B", None, FREE) is None  # connector 2 stays free for TAG-A
    one_left = {1: "Available", 2: "Charging"}
    assert desk.refusal(1, "TAG-B", None, one_left) == desk.held[5]
    assert desk.refusal(1, "TAG-A", None, one_left) is None
    assert desk.reserve(Reservation(6, 0, "TAG-C", LATER), one_left, NOW, True) == "Occupied"
    assert desk.claim(1, "TAG-A").id == 5


def test_reservations_expire_at_their_expiry_and_survive_a_record_round_trip():
    held = Reservation(3, 2, "TAG-A", LATER, "FLEET")
    assert Reservation.from_record(held.record()) == held
    desk = Reservations([held, Reservation(4, 1, "TAG-B", NOW + timedelta(minutes=5))])
    assert desk.next_expiry() == NOW + timedelta(minutes=5)
    assert [r.id for r in desk.expire(NOW + timedelta(minutes=5))] == [4]
    assert [r.id for r in desk.expire(LATER)] == [3]
    assert desk.next_expiry() is None
