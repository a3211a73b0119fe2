"""`export` and `verify-export` on a real SQLite data dir, run as the console script would be."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from adapters.bootstrap import build_gateway
from adapters.settings import Settings
from application.ports import Actor
from tests.support import ROOT

SITE = {
    "name": "Hub",
    "address": "1 Main",
    "city": "Zürich",
    "country": "CH",
    "coordinates": {"latitude": 47.37, "longitude": 8.54},
}
ACME = Actor(sub="alice", role="user", tenant_id="acme", request_id="req-acme")
GLOBEX = Actor(sub="bob", role="user", tenant_id="globex", request_id="req-globex")


def cli(*args: str, data_dir: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCPPLAB_")}
    env["OCPPLAB_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, "-m", "adapters.cli", *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def acme_events_in_store(settings: Settings) -> list[tuple[int, str, str]]:
    """(position, topic, aggregate id) of every acme event, read straight from the store."""
    gateway = build_gateway(settings)
    try:
        found = []
        for n in gateway.recorder.select_notifications(start=1, limit=10_000):
            event = gateway.mapper.to_domain_event(n)
            if event.meta["tenant_id"] == "acme":
                found.append((n.id, n.topic.split(":", 1)[1], str(n.originator_id)))
        return found
    finally:
        gateway.close()


@pytest.fixture
def data_dir(sqlite_settings: Settings) -> Path:
    """Two tenants' interleaved histories: locations and chargers created, changed, moved, deleted."""
    app = build_gateway(sqlite_settings)
    app.ensure_tenant(ACME)
    app.ensure_tenant(GLOBEX)
    hub = app.create_location(ACME, SITE)
    theirs = app.create_location(GLOBEX, {**SITE, "name": "Globex HQ"})
    depot = app.create_location(ACME, {**SITE, "name": "Depot"})
    one = app.create_charger(ACME, hub.id, "CP-1", "wallbox", "wallbox-pulsar-plus", "Type2", "ws://csms/ocpp")
    app.create_charger(GLOBEX, theirs.id, "CP-1", "wallbox", "wallbox-pulsar-plus", "Type2", "ws://globex/ocpp")
    two = app.create_charger(ACME, hub.id, "CP-2", "abb", "terra-184", "CCS2", "ws://csms/ocpp", "OCPP2.0.1")
    app.update_location(GLOBEX, theirs.id, {"city": "Bern"})
    app.update_charger(ACME, two.id, {"name": "Fast lane"}, location_id=depot.id)
    app.delete_charger(ACME, one.id)
    app.close()
    return sqlite_settings.data_dir


def export(data_dir: Path, out: Path) -> subprocess.CompletedProcess:
    result = cli("export", "--org", "acme", "--out", str(out), data_dir=data_dir)
    assert result.returncode == 0, result.stderr
    return result


def test_export_holds_exactly_the_tenants_events_in_log_order_and_verifies(data_dir, sqlite_settings, tmp_path):
    out = tmp_path / "acme.jsonl"
    result = export(data_dir, out)
    lines = out.read_text(encoding="utf-8").splitlines()
    header, events, trailer = json.loads(lines[0]), [json.loads(line) for line in lines[1:-1]], json.loads(lines[-1])
    expected = acme_events_in_store(sqlite_settings)
    records = [e["record"] for e in events]
    assert [(r["position"], r["type"], r["aggregate_id"]) for r in records] == expected
    assert len(expected) > 8 and all(r["tenant_id"] == "acme" for r in records)
    assert all(r["actor"] == {"sub": "alice", "role": "user"} and r["request_id"] == "req-acme" for r in records)
    assert header["org"] == "acme" and header["store_position"] >= expected[-1][0]
    assert header["exported_at"].endswith("Z") and header["generator"].startswith("ocpplab-gateway ")
    assert trailer["count"] == len(expected) and trailer["signature"]
    text = out.read_text(encoding="utf-8")
    assert "globex" not in text and "bob" not in text and "Globex HQ" not in text
    assert "Zürich" in text  # UTF-8, not escaped
    assert f"exported {len(expected)} events" in result.stdout
    assert trailer["last_hash"] in result.stdout and str(out) in result.stdout
    assert "export" in result.stderr  # the progress bar

    checked = cli("verify-export", str(out), data_dir=data_dir)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "signature" in checked.stdout and "chain only" not in checked.stdout
    assert checked.stdout.strip().endswith("OK")


def test_events_written_after_the_export_started_are_not_in_it(data_dir, sqlite_settings, tmp_path):
    out = tmp_path / "acme.jsonl"
    export(data_dir, out)
    app = build_gateway(sqlite_settings)
    app.create_location(ACME, {**SITE, "name": "Later"})
    app.close()
    header = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
    assert header["store_position"] < acme_events_in_store(sqlite_settings)[-1][0]
    assert "Later" not in out.read_text(encoding="utf-8")
    again = tmp_path / "again.jsonl"
    export(data_dir, again)
    assert "Later" in again.read_text(encoding="utf-8")


def test_a_tampered_export_fails_verification(data_dir, tmp_path):
    out = tmp_path / "acme.jsonl"
    export(data_dir, out)
    original = out.read_bytes()

    out.write_bytes(original.replace(b'"city":"Z\xc3\xbcrich"', b'"city":"Geneva"', 1))
    changed = cli("verify-export", str(out), data_dir=data_dir)
    assert changed.returncode == 1 and "FAILED" in changed.stdout
    assert "line 3: hash does not match the record" in changed.stdout

    lines = original.splitlines(keepends=True)
    out.write_bytes(b"".join(lines[:4] + lines[5:]))
    deleted = cli("verify-export", str(out), data_dir=data_dir)
    assert deleted.returncode == 1 and "line 5: prev does not link" in deleted.stdout

    out.write_bytes(b"".join(lines[:-1]))
    truncated = cli("verify-export", str(out), data_dir=data_dir)
    assert truncated.returncode == 1 and "no trailer" in truncated.stdout


def test_the_signature_needs_the_data_dirs_key(data_dir, tmp_path):
    out = tmp_path / "acme.jsonl"
    export(data_dir, out)
    elsewhere = cli("verify-export", str(out), data_dir=tmp_path / "nowhere")  # no key to read: chain only
    assert elsewhere.returncode == 0 and "hash chain only" in elsewhere.stdout
    assert not (tmp_path / "nowhere").exists()  # verifying never creates a data dir or a key
    unsigned_check = cli("verify-export", str(out), "--no-signature", data_dir=data_dir)
    assert unsigned_check.returncode == 0 and "hash chain only" in unsigned_check.stdout

    other = tmp_path / "other"
    build_gateway(Settings(data_dir=other)).close()  # another installation, another secret key
    wrong_key = cli("verify-export", str(out), data_dir=other)
    assert wrong_key.returncode == 1 and "signature does not match" in wrong_key.stdout


def test_configuration_errors_are_reported_cleanly(data_dir, tmp_path):
    missing = cli("verify-export", str(tmp_path / "missing.jsonl"), data_dir=data_dir)
    assert missing.returncode == 2 and missing.stderr.startswith("error:") and "Traceback" not in missing.stderr
    unknown = cli("export", "--org", "initech", "--out", str(tmp_path / "x.jsonl"), data_dir=data_dir)
    assert unknown.returncode == 2 and "initech" in unknown.stderr
    bad_org = cli("export", "--org", "no spaces", "--out", str(tmp_path / "x.jsonl"), data_dir=data_dir)
    assert bad_org.returncode == 2 and "--org" in bad_org.stderr
    no_store = cli("export", "--org", "acme", "--out", str(tmp_path / "x.jsonl"), data_dir=tmp_path / "empty")
    assert no_store.returncode == 2 and "no event store" in no_store.stderr
    no_dir = cli("export", "--org", "acme", "--out", str(tmp_path / "no" / "x.jsonl"), data_dir=data_dir)
    assert no_dir.returncode == 2 and "no directory" in no_dir.stderr
    assert not (tmp_path / "x.jsonl").exists()
