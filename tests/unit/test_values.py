"""Value objects validate themselves when built."""

import pytest

from domain import values
from domain.errors import InvalidValue


@pytest.mark.parametrize(
    "url", ["ws://localhost:9000/ocpp", "wss://csms.example.com/ocpp/", "ws://10.0.0.1", "WSS://h"]
)
def test_csms_url_accepts_websocket_urls_with_a_host(url):
    assert values.csms_url(url) == url


@pytest.mark.parametrize(
    "url", ["http://csms.example.com", "ws://", "ws:///path", "csms.example.com", "", "ws://host:99999/x", "ws://h/#x"]
)
def test_csms_url_rejects_anything_else(url):
    with pytest.raises(InvalidValue) as error:
        values.csms_url(url)
    assert error.value.field == "ws_url"


def test_coordinates_hold_decimal_degrees_in_range():
    point = values.Coordinates(48.8566, 2.3522)
    assert point.as_dict() == {"latitude": 48.8566, "longitude": 2.3522}


@pytest.mark.parametrize(
    "lat,lon", [(90.0001, 0), (-91, 0), (0, 180.5), (0, -181), (float("nan"), 0), (0, float("inf"))]
)
def test_coordinates_out_of_range_are_rejected(lat, lon):
    with pytest.raises(InvalidValue):
        values.Coordinates(lat, lon)


def test_ocpp_version_accepts_both_spellings_and_normalizes():
    assert values.OcppVersion.parse("ocpp2.0.1") is values.OcppVersion.V201
    assert values.OcppVersion.parse("OCPP1.6").subprotocol == "ocpp1.6"
    with pytest.raises(InvalidValue):
        values.OcppVersion.parse("OCPP2.1")


@pytest.mark.parametrize("identity", ["CP-001", "a", "x" * 48, "Site_A.01"])
def test_identity_accepts_url_safe_names_up_to_48_characters(identity):
    assert values.identity(identity) == identity


@pytest.mark.parametrize("identity", ["", "x" * 49, "CP 1", "CP/1", "-CP", "CP:1"])
def test_identity_rejects_names_that_would_break_the_ocpp_url(identity):
    with pytest.raises(InvalidValue):
        values.identity(identity)


def test_country_is_upper_cased_alpha_2():
    assert values.country("fr") == "FR"
    with pytest.raises(InvalidValue):
        values.country("FRA")


def test_slugify_keeps_ascii_words():
    assert values.slugify("La Défense Hub!") == "la-d-fense-hub"
    assert values.slugify("!!!") == "location"
