"""Security profiles: the domain's rules, old events without TLS attributes, and the simulator's TLS contexts."""

from __future__ import annotations

import ssl
from pathlib import Path
from uuid import uuid4

import pytest

from domain.charger import Charger
from domain.errors import InvalidValue
from domain.runtime import ChargerRuntime
from domain.security import check_profile, effective_profile
from simulator import tls
from simulator.model import ChargerSpec
from simulator.runner import failure_text
from tests.pki import Authority

CA = Authority()
CLIENT = CA.issue("CP-1")
MODEL = {"brand_slug": "b", "model_slug": "m", "connector_types": ["Type2"]}


def test_the_profile_defaults_to_the_url_scheme_and_must_fit_it() -> None:
    assert effective_profile(None, "ws://csms/ocpp") == 1
    assert effective_profile(None, "WSS://csms/ocpp") == 2
    check_profile(1, "wss://csms/ocpp", False)
    check_profile(3, "wss://csms/ocpp", True)
    for profile, url, certificate, message in [
        (2, "ws://csms", False, "profile 2 needs TLS"),
        (3, "ws://csms", True, "profile 3 needs TLS"),
        (3, "wss://csms", False, "needs client_certificate"),
        (4, "wss://csms", False, "must be 1, 2 or 3"),
    ]:
        with pytest.raises(InvalidValue, match=message):
            check_profile(profile, url, certificate)


def _charger(**fields: object) -> Charger:
    return Charger(
        tenant_id="t",
        location_id=uuid4(),
        identity="CP-1",
        model=MODEL,
        connector_type="Type2",
        ocpp_version="OCPP1.6",
        ws_url="wss://csms/ocpp",
        name="CP-1",
        **fields,
    )


def test_events_recorded_before_tls_fields_still_load() -> None:
    charger = _charger()
    charger.update({"name": "renamed"})
    events = charger.collect_events()
    for recorded in events:  # as stored by an older version: no TLS attributes at all
        for name in ("security_profile", "csms_ca_certificate", "client_certificate", "client_private_key"):
            recorded.__dict__.pop(name, None)
    loaded = None
    for recorded in events:
        loaded = recorded.mutate(loaded)
    assert loaded is not None and loaded.name == "renamed"
    assert loaded.security_profile is None and loaded.client_certificate is None
    assert loaded.effective_security_profile == 2
    loaded.update({"security_profile": 1})
    assert loaded.security_profile == 1

    runtime = ChargerRuntime(tenant_id="t", charger_id=uuid4())
    assert "last_error" not in runtime.__dict__  # as a runtime recorded before ConnectFailed: the class default
    assert runtime.last_error is None


def test_a_certificate_goes_with_its_key_and_profile_3_needs_both() -> None:
    charger = _charger(security_profile=3, client_certificate=CLIENT.certificate, client_private_key="sealed")
    with pytest.raises(InvalidValue, match="go together"):
        charger.update({"client_private_key": ""})
    with pytest.raises(InvalidValue, match="profile 3 needs client_certificate"):
        charger.update({"client_private_key": "", "client_certificate": ""})
    charger.update({"client_private_key": "", "client_certificate": "", "security_profile": 2})
    assert charger.client_certificate is None and charger.effective_security_profile == 2


def _spec(**fields: object) -> ChargerSpec:
    base: dict = {
        "charger_id": uuid4(),
        "tenant_id": "t",
        "identity": "CP-1",
        "ws_url": "wss://127.0.0.1/ocpp",
        "ocpp_version": "OCPP1.6",
        "model": {},
    }
    return ChargerSpec(**{**base, **fields})


def test_contexts_are_built_once_per_material_and_leave_no_key_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(tls, "RAM_DIR", tmp_path)
    contexts = tls.TlsContexts()
    assert contexts.for_spec(_spec(ws_url="ws://csms/ocpp"), None) is None
    two = contexts.for_spec(_spec(csms_ca_certificate=CA.certificate), None)
    assert isinstance(two, ssl.SSLContext) and two.verify_mode == ssl.CERT_REQUIRED and two.check_hostname
    assert contexts.for_spec(_spec(identity="CP-2", csms_ca_certificate=CA.certificate), None) is two
    three = _spec(security_profile=3, csms_ca_certificate=CA.certificate, client_certificate=CLIENT.certificate)
    context = contexts.for_spec(three, CLIENT.key)
    assert context is not two and contexts.for_spec(three, CLIENT.key) is context
    assert list(tmp_path.iterdir()) == []  # the (encrypted) key file is gone once loaded
    with pytest.raises(ValueError, match="profile 3 needs"):
        contexts.for_spec(three, None)
    contexts.forget_unused({id(context)})
    assert contexts.for_spec(_spec(csms_ca_certificate=CA.certificate), None) is not two


def test_connection_failures_read_as_their_cause() -> None:
    error = ssl.SSLCertVerificationError(1, "certificate verify failed")
    error.verify_message = "unable to get local issuer certificate"
    assert failure_text(error) == "TLS: the CSMS certificate did not verify (unable to get local issuer certificate)"
    assert failure_text(ConnectionRefusedError(111, "Connection refused")).startswith("ConnectionRefusedError")
