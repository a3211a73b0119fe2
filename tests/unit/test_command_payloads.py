"""What a command's payload becomes before it is recorded: the connector in the charger's terms, checked inputs."""

from __future__ import annotations

import pytest

from domain.command import command_payload, select_connector
from domain.errors import InvalidValue


def test_ocpp_16_addresses_a_connector_and_defaults_to_connector_1() -> None:
    assert select_connector("OCPP1.6", 2, None, None) == {"connector_id": 1}
    assert select_connector("OCPP1.6", 2, None, 2) == {"connector_id": 2}


def test_ocpp_201_addresses_an_evse_and_its_single_connector() -> None:
    assert select_connector("OCPP2.0.1", 2, None, None) == {"evse_id": 1, "connector_id": 1}
    assert select_connector("OCPP2.0.1", 2, 2, None) == {"evse_id": 2, "connector_id": 1}
    assert select_connector("OCPP2.0.1", 2, None, 2) == {"evse_id": 2, "connector_id": 1}


@pytest.mark.parametrize(
    ("version", "evse", "connector"),
    [("OCPP1.6", None, 3), ("OCPP1.6", None, 0), ("OCPP2.0.1", 3, None), ("OCPP2.0.1", 1, 2), ("OCPP2.0.1", 0, None)],
)
def test_a_connector_the_charger_does_not_have_is_refused(
    version: str, evse: int | None, connector: int | None
) -> None:
    with pytest.raises(InvalidValue):
        select_connector(version, 2, evse, connector)


def test_an_ocpp_16_id_tag_longer_than_20_characters_is_refused_but_fits_201() -> None:
    tag = "T" * 21
    with pytest.raises(InvalidValue, match="20"):
        command_payload("start_session", "OCPP1.6", 1, {"id_tag": tag})
    assert command_payload("start_session", "OCPP2.0.1", 1, {"id_tag": tag})["id_tag"] == tag


def test_an_unknown_fault_type_is_refused() -> None:
    with pytest.raises(InvalidValue, match="fault_type"):
        command_payload("inject_fault", "OCPP1.6", 1, {"fault_type": "Meltdown"})


def test_a_local_list_naming_a_tag_twice_is_refused() -> None:
    entries = [{"id_tag": "A"}, {"id_tag": "B"}, {"id_tag": "A"}]
    with pytest.raises(InvalidValue, match="more than once"):
        command_payload("send_local_list", "OCPP1.6", 1, {"list_version": 2, "entries": entries})


def test_payloads_carry_only_what_the_charge_point_needs() -> None:
    assert command_payload("power_update", "OCPP1.6", 1, {"power_w": 7000, "evse_id": None, "connector_id": None}) == {
        "connector_id": 1,
        "power_w": 7000,
    }
    assert command_payload("stop_transaction", "OCPP2.0.1", 1, {"transaction_id": None}) == {"transaction_id": None}
