"""Invariants of the value objects, over generated inputs."""

import math

from hypothesis import given
from hypothesis import strategies as st

from domain import values
from domain.errors import InvalidValue

HOSTS = st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z][a-z0-9-]{0,10}){0,3}", fullmatch=True)


@given(st.floats(-90, 90), st.floats(-180, 180))
def test_coordinates_in_range_are_kept_exactly(latitude, longitude):
    point = values.Coordinates(latitude, longitude)
    assert (point.latitude, point.longitude) == (latitude, longitude)


@given(st.floats(allow_nan=True, allow_infinity=True), st.floats(allow_nan=True, allow_infinity=True))
def test_coordinates_are_accepted_exactly_when_in_range(latitude, longitude):
    in_range = all(math.isfinite(v) for v in (latitude, longitude)) and abs(latitude) <= 90 and abs(longitude) <= 180
    try:
        values.Coordinates(latitude, longitude)
        accepted = True
    except InvalidValue:
        accepted = False
    assert accepted == in_range


@given(
    st.sampled_from(["ws", "wss"]),
    HOSTS,
    st.one_of(st.none(), st.integers(1, 65535)),
    st.from_regex(r"(/[A-Za-z0-9._-]{1,10}){0,3}", fullmatch=True),
)
def test_websocket_urls_with_a_host_are_valid_csms_urls(scheme, host, port, path):
    url = f"{scheme}://{host}{f':{port}' if port else ''}{path}"
    assert values.csms_url(url) == url


@given(st.sampled_from(["http", "https", "ftp", "tcp", "wsx"]), HOSTS)
def test_other_schemes_are_never_csms_urls(scheme, host):
    try:
        values.csms_url(f"{scheme}://{host}/ocpp")
    except InvalidValue as error:
        assert error.field == "ws_url"
    else:
        raise AssertionError("accepted a non-websocket URL")


@given(st.text(max_size=60))
def test_identity_accepts_only_url_safe_names(text):
    ok = (
        1 <= len(text) <= 48
        and text[0].isascii()
        and text[0].isalnum()
        and all(c.isascii() and (c.isalnum() or c in "._-") for c in text)
    )
    try:
        values.identity(text)
        accepted = True
    except InvalidValue:
        accepted = False
    assert accepted == ok
