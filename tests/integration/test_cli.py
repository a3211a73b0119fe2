"""The console script: token, replay, graceful stop, the generated secret."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import httpx

from adapters.settings import Settings
from adapters.tokens import TokenVerifier
from tests.support import ROOT, GatewayProcess, token


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "adapters.cli", *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def clean_env(data_dir) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCPPLAB_")}
    env["OCPPLAB_DATA_DIR"] = str(data_dir)
    return env


def test_token_generates_a_private_secret_once_and_signs_with_it(tmp_path):
    env = clean_env(tmp_path / "data")
    first = cli("token", "--org", "acme", env=env)
    second = cli("token", "--role", "admin", "--sub", "ops", env=env)
    assert first.returncode == 0 and second.returncode == 0
    secret_file = tmp_path / "data" / "jwt-secret"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    verifier = TokenVerifier(Settings(data_dir=tmp_path / "data"))
    user = verifier.verify(first.stdout.strip())
    admin = verifier.verify(second.stdout.strip())
    assert (user.role, user.org_id) == ("user", "acme")
    assert (admin.role, admin.sub, admin.org_id) == ("admin", "ops", None)


def test_user_token_without_org_is_refused(tmp_path):
    result = cli("token", env=clean_env(tmp_path / "data"))
    assert result.returncode == 2 and "--org" in result.stderr


def test_short_configured_secret_is_refused(tmp_path):
    env = {**clean_env(tmp_path / "data"), "OCPPLAB_JWT_SECRET": "short"}
    result = cli("token", "--org", "acme", env=env)
    assert result.returncode == 2 and "32 bytes" in result.stderr


def test_sigterm_stops_serve_gracefully_with_exit_code_0(tmp_path):
    server = GatewayProcess(tmp_path / "data").start()
    assert server.stop() == 0


def test_replay_rebuilds_the_views_and_reports_the_rate(tmp_path, store_url):
    server = GatewayProcess(tmp_path / "data", store_url).start()
    headers = {"Authorization": f"Bearer {token('acme')}"}
    site = {"address": "1 Main", "city": "Paris", "country": "FR", "coordinates": {"latitude": 1, "longitude": 2}}
    with httpx.Client(base_url=server.base_url, headers=headers) as http:
        for n in range(5):
            assert http.post("/locations", json={**site, "name": f"Site {n}"}).status_code == 201
        before = http.get("/locations").json()
    server.stop()
    (tmp_path / "data" / "views.sqlite").unlink()
    env = server.env()
    result = cli("replay", env=env)
    assert result.returncode == 0, result.stderr
    assert "events/s" in result.stdout and "replayed 6 events" in result.stdout
    again = GatewayProcess(tmp_path / "data", store_url).start()
    try:
        with httpx.Client(base_url=again.base_url, headers=headers) as http:
            assert http.get("/locations").json() == before
    finally:
        again.stop()
