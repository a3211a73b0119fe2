"""The dashboard's files and the stream's routes, as the API document and an anonymous visitor see them."""

from __future__ import annotations

import re

from adapters.http.routes.ui import UI_DIR


async def test_the_page_and_its_modules_are_served_without_a_token_and_confined_to_the_gateway(client):
    page = await client.get("/ui/")
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert (await client.get("/ui")).status_code in (301, 302, 308)
    for module in sorted((UI_DIR / "js").glob("*.js")):
        answer = await client.get(f"/ui/js/{module.name}")
        assert answer.status_code == 200 and "javascript" in answer.headers["Content-Type"], module.name


def test_no_file_of_the_page_names_another_host():
    for path in UI_DIR.rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert not re.search(
                r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text.replace("http://www.w3.org/2000/svg", "")
            ), path


async def test_the_stream_routes_are_documented_and_need_a_token(client):
    document = await (await client.get("/openapi.json")).get_json()
    stream = document["paths"]["/stream"]["get"]
    assert "text/event-stream" in stream["responses"]["200"]["content"]
    assert {"401", "403", "404", "422"} <= {str(code) for code in stream["responses"]}
    assert "security" not in stream  # the bearer scheme, or a ticket from:
    assert "201" in {str(code) for code in document["paths"]["/stream/tickets"]["post"]["responses"]}
    assert document["paths"]["/ui/"]["get"]["security"] == []
    assert (await client.get("/stream")).status_code == 401
    assert (await client.post("/stream/tickets")).status_code == 401
