"""OCPP security profiles end to end: a real gateway's chargers against a wss:// CSMS with a private CA.

Profile 2: TLS verified against the charger's CA bundle + HTTP Basic auth; a CSMS certificate that does not
verify keeps the charger out, shows in its runtime view, and is reported (SecurityEventNotification
InvalidCsmsCertificate) once a corrected CA lets it in. Profile 3: the CSMS demands a client certificate.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from adapters.csms.server import CALL_ERROR, CsmsServer, Verdicts
from tests.e2e.conftest import AC, WAIT, Api, Charger, never, new_identity, parsed, reported_connectors
from tests.pki import Authority, Issued, server_context

CA = Authority("CSMS Private CA")
WRONG_CA = Authority("Someone Else's CA")
CHARGERS_CA = Authority("Charge Point Operator CA")
TlsCsms = Callable[..., Awaitable[CsmsServer]]


@pytest.fixture
async def tls_csms() -> AsyncIterator[TlsCsms]:
    """wss:// CSMS servers on 127.0.0.1 with a certificate from CA (or `server_ca`; `client_ca`: demands client
    certificates)."""
    servers: list[CsmsServer] = []

    async def start(client_ca: Authority | None = None, server_ca: Authority = CA, **verdicts: Any) -> CsmsServer:
        server = CsmsServer(
            verdicts=Verdicts(heartbeat_interval=1, **verdicts),
            ssl_context=server_context(server_ca, client_ca=client_ca),
        )
        servers.append(server)
        await server.start()
        return server

    try:
        yield start
    finally:
        for server in servers:
            await server.stop()
    refused = [
        f.raw
        for s in servers
        for f in s.frames
        if f.direction == "csms_to_cp" and (parsed(f) or [None])[0] == CALL_ERROR
    ]
    assert refused == [], "the CSMS refused frames a charger sent"


async def booted(api: Api, csms: CsmsServer, charger_id: str, identity: str, version: str) -> dict[str, Any]:
    await csms.wait_for(identity, "BootNotification")
    await csms.wait_for(identity, "StatusNotification", count=reported_connectors(version, AC))
    return await api.wait_runtime(charger_id, "booted")


async def test_profile_2_connects_with_the_private_ca_and_basic_auth(api: Api, tls_csms: TlsCsms, version: str) -> None:
    identity = new_identity("CP-SP2")
    csms = await tls_csms(basic_auth={identity: "secret-key-123"})
    assert csms.url().startswith("wss://127.0.0.1:")
    charger = await api.create_charger(
        csms.url(),
        version,
        AC,
        identity=identity,
        security_profile=2,
        csms_ca_certificate=CA.certificate,
        authorization_key="secret-key-123",
    )
    assert charger.doc["security_profile"] == 2 and charger.doc["has_csms_ca_certificate"] is True

    doc = await booted(api, csms, charger.id, identity, version)
    session = csms.sessions[identity]
    assert session.websocket.request is not None
    expected = "Basic " + base64.b64encode(f"{identity}:secret-key-123".encode()).decode()
    assert session.websocket.request.headers["Authorization"] == expected
    assert session.client_certificate_subject is None  # profile 2 presents no certificate
    assert doc["runtime_error"] is None


async def test_a_csms_certificate_that_does_not_verify_is_refused_shown_and_reported_after_the_fix(
    api: Api, tls_csms: TlsCsms, version: str
) -> None:
    csms = await tls_csms()
    charger = await api.create_charger(csms.url(), version, AC, csms_ca_certificate=WRONG_CA.certificate)

    doc = await api.wait_charger(
        charger.id, lambda d: d["runtime_error"] is not None, what="the certificate error in the runtime view"
    )
    assert doc["runtime_status"] == "connecting"
    assert "TLS: the CSMS certificate did not verify" in doc["runtime_error"], doc["runtime_error"]
    assert csms.connection_count(charger.identity) == 0

    fixed = await api.update_charger(charger.id, csms_ca_certificate=CA.certificate)
    assert fixed["has_csms_ca_certificate"] is True
    await booted(api, csms, charger.id, charger.identity, version)
    [event] = await csms.wait_for(charger.identity, "SecurityEventNotification", timeout=WAIT)
    assert event["type"] == ("InvalidCentralSystemCertificate" if version == "OCPP1.6" else "InvalidCsmsCertificate")
    assert "did not verify" in event["techInfo"]
    if version == "OCPP2.0.1":  # it also reports the changed settings (a 1.6 model without the whitepaper does not)
        events = await csms.wait_for(charger.identity, "SecurityEventNotification", count=2, timeout=WAIT)
        assert events[1]["type"] == "ReconfigurationOfSecurityParameters"
    assert (await api.charger(charger.id))["runtime_error"] is None


async def test_without_a_ca_bundle_the_system_cas_do_not_trust_a_private_ca(api: Api, tls_csms: TlsCsms) -> None:
    csms = await tls_csms()
    charger = await api.create_charger(csms.url(), "OCPP2.0.1", AC)
    assert charger.doc["security_profile"] == 2 and charger.doc["has_csms_ca_certificate"] is False
    doc = await api.wait_charger(charger.id, lambda d: d["runtime_error"] is not None, what="a TLS error")
    assert "did not verify" in doc["runtime_error"]
    assert csms.connection_count(charger.identity) == 0


async def profile_3_charger(
    api: Api, csms: CsmsServer, version: str, model: dict[str, str] = AC
) -> tuple[Charger, Issued]:
    """A profile 3 charger with a client certificate (O=OCPPLAB Fleet) from CHARGERS_CA; and that certificate."""
    identity = new_identity("CP-SP3")
    issued = CHARGERS_CA.issue(identity, organization="OCPPLAB Fleet")
    charger = await api.create_charger(
        csms.url(),
        version,
        model,
        identity=identity,
        security_profile=3,
        csms_ca_certificate=CA.certificate,
        client_certificate=issued.certificate,
        client_private_key=issued.key,
    )
    return charger, issued


async def test_profile_3_presents_the_client_certificate_the_csms_demands(
    api: Api, tls_csms: TlsCsms, version: str
) -> None:
    csms = await tls_csms(client_ca=CHARGERS_CA)
    charger, _ = await profile_3_charger(api, csms, version)
    identity = charger.identity
    assert charger.doc["client_certificate_subject"] == f"CN={identity},O=OCPPLAB Fleet"
    assert "PRIVATE KEY" not in str(charger.doc)

    await booted(api, csms, charger.id, identity, version)
    assert csms.client_subjects[identity] == [f"CN={identity},O=OCPPLAB Fleet"]


async def test_without_a_client_certificate_the_handshake_fails(api: Api, tls_csms: TlsCsms, version: str) -> None:
    csms = await tls_csms(client_ca=CHARGERS_CA)
    charger = await api.create_charger(csms.url(), version, AC, security_profile=2, csms_ca_certificate=CA.certificate)
    doc = await api.wait_charger(charger.id, lambda d: d["runtime_error"] is not None, what="a TLS handshake error")
    assert doc["runtime_status"] == "connecting"
    assert doc["runtime_error"].startswith("TLS:"), doc["runtime_error"]
    assert "client certificate" in doc["runtime_error"] or "handshake" in doc["runtime_error"]
    await never(lambda: csms.connection_count(charger.identity), duration=2.0, what="a connection without certificate")
