"""GET / and GET /health through the SDK: public, and never refused for the token the SDK happens to carry."""

from __future__ import annotations

from collections.abc import Callable

from ocpplab import OcpplabApi

from tests.support import token


def test_landing_page_is_html_text_naming_the_gateway(connect: Callable[..., OcpplabApi]) -> None:
    page = connect().default_landing_page()

    assert isinstance(page, str)
    assert page.lstrip().lower().startswith("<!doctype html>")
    assert "OCPPLAB Gateway" in page
    assert "/health" in page


def test_landing_page_needs_no_token_and_tolerates_a_bad_one(connect: Callable[..., OcpplabApi]) -> None:
    anonymous = connect().default_landing_page()
    with_garbage_token = connect(bearer="not-a-jwt").default_landing_page()

    assert with_garbage_token == anonymous


def test_health_check_answers_ok_with_string_values_only(connect: Callable[..., OcpplabApi]) -> None:
    health = connect().health.health_check()

    assert health["status"] == "ok"
    assert all(isinstance(value, str) for value in health.values())


def test_health_check_accepts_any_token_and_organization(connect: Callable[..., OcpplabApi], org: str) -> None:
    expired = connect(bearer=token(org, ttl=-3600))
    admin_for_unknown_org = connect(role="admin", organization_id="org-never-registered")
    user_with_foreign_org = connect(org, organization_id="someone-else")

    for sdk in (expired, admin_for_unknown_org, user_with_foreign_org):
        assert sdk.health.health_check()["status"] == "ok"
