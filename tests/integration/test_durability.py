"""Nothing acknowledged is ever lost: kill -9 a real server mid-traffic, restart it, find every 2xx write."""

from __future__ import annotations

import random
import threading
import time

import httpx

from tests.support import GatewayProcess, token

SITE = {
    "name": "Hub",
    "address": "1 Main",
    "city": "Paris",
    "country": "FR",
    "coordinates": {"latitude": 48.85, "longitude": 2.35},
}


def write_until_stopped(base_url: str, headers: dict, acknowledged: list, stop: threading.Event) -> None:
    """Creates locations and chargers as fast as it can, remembering every acknowledged id."""
    with httpx.Client(base_url=base_url, headers=headers, timeout=5) as http:
        n = 0
        while not stop.is_set():
            try:
                reply = http.post("/locations", json={**SITE, "name": f"Site {n}"})
                if reply.status_code == 201:
                    location = reply.json()["id"]
                    acknowledged.append(("locations", location))
                    charger = http.post(
                        "/chargers",
                        json={
                            "identity": f"CP-{n}",
                            "brand_slug": "wallbox",
                            "model_slug": "wallbox-pulsar-plus",
                            "connector_type": "Type2",
                            "ws_url": "ws://127.0.0.1:9/ocpp",
                            "location_id": location,
                        },
                    )
                    if charger.status_code in (200, 201):
                        acknowledged.append(("chargers", charger.json()["id"]))
            except httpx.HTTPError:
                return  # the server is gone
            n += 1


def test_kill_9_loses_no_acknowledged_write(tmp_path, store_url):
    headers = {"Authorization": f"Bearer {token('durable')}"}
    server = GatewayProcess(tmp_path / "data", store_url).start()
    acknowledged: list[tuple[str, str]] = []
    stop = threading.Event()
    writer = threading.Thread(target=write_until_stopped, args=(server.base_url, headers, acknowledged, stop))
    writer.start()
    time.sleep(random.uniform(1.0, 2.0))
    server.kill()
    stop.set()
    writer.join(10)
    assert len(acknowledged) >= 10, "the writer should have been acknowledged some writes before the kill"

    restarted = GatewayProcess(tmp_path / "data", store_url, port=server.port).start()
    try:
        with httpx.Client(base_url=restarted.base_url, headers=headers, timeout=5) as http:
            missing = [(kind, key) for kind, key in acknowledged if http.get(f"/{kind}/{key}").status_code != 200]
            assert missing == []
            listed = http.get("/locations", params={"limit": 1}).json()["total"]
            assert listed >= sum(1 for kind, _ in acknowledged if kind == "locations")
    finally:
        restarted.stop()
