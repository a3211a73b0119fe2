"""/openapi.json documents every route, the bearer scheme and the 422 shape."""

from __future__ import annotations

EXPECTED = {
    ("get", "/"),
    ("get", "/health"),
    ("get", "/catalog/brands"),
    ("get", "/catalog/brands/{brand_slug}/models"),
    ("get", "/catalog/brands/{brand_slug}/models/{model_slug}"),
    ("get", "/locations"),
    ("post", "/locations"),
    ("get", "/locations/{location_id}"),
    ("put", "/locations/{location_id}"),
    ("delete", "/locations/{location_id}"),
    ("get", "/chargers"),
    ("post", "/chargers"),
    ("get", "/chargers/{charger_id}"),
    ("put", "/chargers/{charger_id}"),
    ("delete", "/chargers/{charger_id}"),
    ("get", "/locations/{location_id}/chargers/get-chargers"),
    ("post", "/locations/{location_id}/chargers/create-chargers"),
    ("put", "/locations/{location_id}/chargers/update-chargers"),
    ("post", "/locations/{location_id}/chargers/delete-chargers"),
    ("get", "/organizations"),
    ("post", "/organizations"),
}


async def openapi(client) -> dict:
    reply = await client.get("/openapi.json")
    assert reply.status_code == 200
    return await reply.get_json()


async def test_every_route_is_documented(client):
    document = await openapi(client)
    documented = {(method, path) for path, ops in document["paths"].items() for method in ops}
    assert documented >= EXPECTED


async def test_bearer_scheme_is_declared_and_public_routes_need_none(client):
    document = await openapi(client)
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    assert document["security"] == [{"bearer": []}]
    assert document["paths"]["/health"]["get"]["security"] == []


async def test_validated_routes_declare_fastapis_422_shape(client):
    document = await openapi(client)
    schemas = document["components"]["schemas"]
    assert set(schemas["ValidationError"]["required"]) == {"loc", "msg", "type"}
    for method, path in EXPECTED:
        operation = document["paths"][path][method]
        if operation.get("requestBody") or any(p["in"] == "query" for p in operation.get("parameters", [])):
            reference = str(operation["responses"]["422"])
            assert "HTTPValidationError" in reference, (method, path)


async def test_success_and_error_models_carry_the_contracts_names(client):
    document = await openapi(client)
    responses = document["paths"]["/chargers/{charger_id}"]["get"]["responses"]
    assert "ChargerResponse" in str(responses["200"]) and "HttpErrorResponse" in str(responses["404"])
    assert "204" in {str(code) for code in document["paths"]["/chargers/{charger_id}"]["delete"]["responses"]}
