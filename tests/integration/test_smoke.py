from tests.support import token


async def test_create_and_read_location(client, auth):
    body = {
        "name": "Hub",
        "address": "1 Main",
        "city": "Paris",
        "country": "FR",
        "coordinates": {"latitude": 48.8, "longitude": 2.3},
    }
    created = await client.post("/locations", json=body, headers=auth)
    assert created.status_code == 201
    doc = await created.get_json()
    got = await client.get(f"/locations/{doc['id']}", headers=auth)
    assert (await got.get_json())["name"] == "Hub"
    other = await client.get(f"/locations/{doc['id']}", headers={"Authorization": f"Bearer {token('other')}"})
    assert other.status_code == 404
