"""A write answers with what it wrote, even under concurrent load.

Regression: requests shared one reader connection, and a statement left open by one request pinned an old
snapshot for another, so a create could answer 404 for the location it had just written.
"""

import asyncio

import httpx

from tests.support import GatewayProcess, token

SITE = {"address": "1 Main", "city": "Paris", "country": "FR", "coordinates": {"latitude": 1, "longitude": 2}}


async def test_concurrent_creates_each_answer_their_own_location(tmp_path):
    server = GatewayProcess(tmp_path / "data").start()
    headers = {"Authorization": f"Bearer {token('busy')}"}
    try:
        async with httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=30) as http:

            async def writer(worker: int) -> list[tuple[int, str]]:
                answers = []
                for n in range(40):
                    reply = await http.post("/locations", json={**SITE, "name": f"Site {worker}-{n}"})
                    answers.append((reply.status_code, reply.json().get("name", reply.text)))
                return answers

            async def reader() -> None:
                for _ in range(80):
                    await http.get("/locations", params={"limit": 100})

            results = await asyncio.gather(*(writer(w) for w in range(8)), *(reader() for _ in range(4)))
            answers = [a for batch in results if batch for a in batch]
            assert [a for a in answers if a[0] != 201] == []
            assert sorted(name for _, name in answers) == sorted(f"Site {w}-{n}" for w in range(8) for n in range(40))
    finally:
        server.stop()


async def test_chargers_created_concurrently_into_one_location_all_land(tmp_path):
    """Every create writes the same location (its charger ids): the writers clash and retry, none answers 500."""
    server = GatewayProcess(tmp_path / "data").start()
    headers = {"Authorization": f"Bearer {token('crowd')}"}
    try:
        async with httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=30) as http:
            location = (await http.post("/locations", json={**SITE, "name": "Crowded"})).json()["id"]

            async def create(n: int) -> int:
                charger = {
                    "identity": f"CROWD-{n}",
                    "brand_slug": "wallbox",
                    "model_slug": "wallbox-pulsar-plus",
                    "connector_type": "Type2",
                    "ws_url": "ws://127.0.0.1:9/ocpp",
                    "location_id": location,
                }
                return (await http.post("/chargers", json=charger)).status_code

            statuses = await asyncio.gather(*(create(n) for n in range(30)))
            assert statuses == [201] * 30
            listed = (await http.get("/chargers", params={"location_id": location, "limit": 100})).json()
            assert listed["total"] == 30
    finally:
        server.stop()
