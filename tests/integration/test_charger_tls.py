"""Security profiles on the REST API: TLS fields validated in the contract's error shapes, the client private key
sealed in the event store and never answered; certificate facts in the charger's view."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import pytest

from adapters.bootstrap import build_gateway
from adapters.catalog.loader import default_catalog
from adapters.http.app import create_app
from adapters.http.context import Services
from adapters.settings import Settings
from adapters.store.views import Views
from adapters.tokens import TokenVerifier
from tests.pki import Authority
from tests.support import token

SITE = {
    "name": "Hub",
    "address": "1 Main",
    "city": "Paris",
    "country": "FR",
    "coordinates": {"latitude": 48.85, "longitude": 2.35},
}
CA = Authority()
CLIENT = CA.issue("CP-TLS-1", organization="OCPPLAB Test")
OTHER = CA.issue("CP-TLS-2")
KEY_BODY = CLIENT.key.splitlines()[1]  # a line of the key's base64: must never show up anywhere


@pytest.fixture
async def setup(sqlite_settings: Settings) -> AsyncIterator[tuple[Any, Any, dict[str, str]]]:
    sqlite_settings.data_dir.mkdir(parents=True, exist_ok=True)
    gateway = build_gateway(sqlite_settings)  # with the secret box, as `serve` has it
    services = Services(
        gateway, Views(sqlite_settings.views_path, gateway), default_catalog(), TokenVerifier(sqlite_settings), "t"
    )
    app = create_app(services)
    async with app.test_app() as test_app:
        yield test_app.test_client(), gateway, {"Authorization": f"Bearer {token('acme')}"}


async def _location(client: Any, auth: dict[str, str]) -> str:
    response = await client.post("/locations", json=SITE, headers=auth)
    assert response.status_code == 201
    return (await response.get_json())["id"]


def _body(location: str, identity: str = "CP-TLS-1", **fields: Any) -> dict[str, Any]:
    return {
        "identity": identity,
        "brand_slug": "wallbox",
        "model_slug": "wallbox-pulsar-plus",
        "connector_type": "Type2",
        "ws_url": "wss://csms.example/ocpp",
        "location_id": location,
        **fields,
    }


def _profile3() -> dict[str, Any]:
    return {
        "security_profile": 3,
        "csms_ca_certificate": CA.certificate,
        "client_certificate": CLIENT.certificate,
        "client_private_key": CLIENT.key,
    }


async def test_profile_3_keeps_the_key_sealed_and_shows_only_the_certificate_facts(setup) -> None:
    client, gateway, auth = setup
    location = await _location(client, auth)
    response = await client.post("/chargers", json=_body(location, **_profile3()), headers=auth)
    assert response.status_code == 201, await response.get_data(as_text=True)
    doc = await response.get_json()
    assert doc["security_profile"] == 3
    assert doc["has_client_certificate"] is True and doc["has_csms_ca_certificate"] is True
    assert doc["client_certificate_subject"] == "CN=CP-TLS-1,O=OCPPLAB Test"
    assert doc["client_certificate_serial"] == format(CLIENT.serial, "X")
    assert doc["client_certificate_expiry"].startswith(CLIENT.not_after.strftime("%Y-%m-%dT%H:%M:%S"))
    for answer in (
        response,
        await client.get(f"/chargers/{doc['id']}", headers=auth),
        await client.get("/chargers", headers=auth),
    ):
        text = await answer.get_data(as_text=True)
        assert KEY_BODY not in text and "PRIVATE KEY" not in text and "aesgcm" not in text
    stored = gateway.recorder.select_notifications(start=1, limit=1000)
    assert stored and all(KEY_BODY.encode() not in n.state for n in stored)
    charger = gateway.repository.get(UUID(doc["id"]))
    assert charger.client_private_key.startswith("aesgcm:")
    assert gateway.unsealed_client_key(charger) == CLIENT.key.strip() + "\n"

    # Replaying the same create answers the same charger; the certificate and key are replaced together.
    again = await client.post("/chargers", json=_body(location, **_profile3()), headers=auth)
    assert again.status_code == 200 and (await again.get_json())["id"] == doc["id"]
    update = {"client_certificate": OTHER.certificate, "client_private_key": OTHER.key}
    changed = await client.put(f"/chargers/{doc['id']}", json=update, headers=auth)
    assert changed.status_code == 200
    assert (await changed.get_json())["client_certificate_subject"] == "CN=CP-TLS-2"
    removed = await client.put(
        f"/chargers/{doc['id']}", json={"client_certificate": "", "client_private_key": ""}, headers=auth
    )
    assert removed.status_code == 400
    assert "profile 3 needs client_certificate" in (await removed.get_json())["detail"]
    down = await client.put(
        f"/chargers/{doc['id']}",
        json={"security_profile": 2, "client_certificate": "", "client_private_key": "", "csms_ca_certificate": ""},
        headers=auth,
    )
    doc = await down.get_json()
    assert down.status_code == 200 and doc["security_profile"] == 2
    assert doc["has_client_certificate"] is False and doc["client_certificate_subject"] is None
    assert doc["has_csms_ca_certificate"] is False


async def test_the_default_profile_follows_the_url_scheme(setup) -> None:
    client, _, auth = setup
    location = await _location(client, auth)
    tls = await client.post("/chargers", json=_body(location, "CP-A"), headers=auth)
    plain = await client.post("/chargers", json=_body(location, "CP-B", ws_url="ws://csms/ocpp"), headers=auth)
    one_over_tls = await client.post("/chargers", json=_body(location, "CP-C", security_profile=1), headers=auth)
    assert (await tls.get_json())["security_profile"] == 2
    assert (await plain.get_json())["security_profile"] == 1
    assert (await one_over_tls.get_json())["security_profile"] == 1
    charger_id = (await plain.get_json())["id"]
    moved = await client.put(f"/chargers/{charger_id}", json={"ws_url": "wss://csms/ocpp"}, headers=auth)
    assert (await moved.get_json())["security_profile"] == 2


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"csms_ca_certificate": "not a pem"}, "csms_ca_certificate", "PEM"),
        (
            {"csms_ca_certificate": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"},
            "csms_ca_certificate",
            "not a valid PEM certificate",
        ),
        ({**_profile3(), "client_private_key": OTHER.key}, "client_private_key", "does not match"),
        (
            {**_profile3(), "client_private_key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"},
            "client_private_key",
            "not a valid",
        ),
        ({"client_certificate": CLIENT.certificate}, "client_private_key", "together"),
        ({"security_profile": 4}, "security_profile", ""),
    ],
    ids=["ca-not-pem", "ca-bad-der", "key-mismatch", "key-bad", "cert-without-key", "profile-4"],
)
async def test_bad_tls_material_is_a_422_at_its_field_that_never_echoes_the_key(setup, fields, field, message) -> None:
    client, _, auth = setup
    location = await _location(client, auth)
    response = await client.post("/chargers", json=_body(location, **fields), headers=auth)
    assert response.status_code == 422
    items = (await response.get_json())["detail"]
    assert any(item["loc"] == ["body", field] and message in item["msg"] for item in items), items
    text = await response.get_data(as_text=True)
    assert KEY_BODY not in text and OTHER.key.splitlines()[1] not in text


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"ws_url": "ws://csms/ocpp", "security_profile": 2}, "profile 2 needs TLS"),
        ({"ws_url": "ws://csms/ocpp", **_profile3()}, "profile 3 needs TLS"),
        ({"security_profile": 3}, "profile 3 needs client_certificate and client_private_key"),
    ],
    ids=["profile-2-on-ws", "profile-3-on-ws", "profile-3-without-certificate"],
)
async def test_profiles_that_do_not_fit_are_a_400(setup, fields, message) -> None:
    client, _, auth = setup
    location = await _location(client, auth)
    response = await client.post("/chargers", json=_body(location, **fields), headers=auth)
    assert response.status_code == 400
    assert message in (await response.get_json())["detail"]


async def test_an_update_that_breaks_the_profile_is_a_400_and_changes_nothing(setup) -> None:
    client, _, auth = setup
    location = await _location(client, auth)
    created = await client.post("/chargers", json=_body(location, security_profile=2), headers=auth)
    charger_id = (await created.get_json())["id"]
    response = await client.put(f"/chargers/{charger_id}", json={"ws_url": "ws://csms/ocpp"}, headers=auth)
    assert response.status_code == 400 and "profile 2 needs TLS" in (await response.get_json())["detail"]
    response = await client.put(f"/chargers/{charger_id}", json={"security_profile": 3}, headers=auth)
    assert response.status_code == 400
    doc = await (await client.get(f"/chargers/{charger_id}", headers=auth)).get_json()
    assert doc["ws_url"] == "wss://csms.example/ocpp" and doc["security_profile"] == 2
