"""The catalog through the SDK: read-only, authenticated, not tenant-scoped."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from ocpplab import OcpplabApi
from ocpplab.errors import NotFoundError, UnauthorizedError, UnprocessableEntityError

from adapters.catalog.loader import default_catalog
from tests.contract.sdk import NO_RETRY

BRAND_SLUGS = sorted(brand.slug for brand in default_catalog().brands())


def test_brands_list_every_catalog_brand_on_one_default_page(client: OcpplabApi) -> None:
    brands = client.catalog.list_catalog_brands()

    assert (brands.page, brands.limit, brands.total) == (1, 50, len(BRAND_SLUGS))
    assert [brand.slug for brand in brands.data] == BRAND_SLUGS
    wallbox = next(brand for brand in brands.data if brand.slug == "wallbox")
    assert wallbox.name == "Wallbox"
    assert wallbox.id
    assert wallbox.created_at is not None


def test_brands_page_two_continues_where_page_one_ends(client: OcpplabApi) -> None:
    first = client.catalog.list_catalog_brands(page=1, limit=5)
    second = client.catalog.list_catalog_brands(page=2, limit=5)

    assert (second.page, second.limit, second.total) == (2, 5, len(BRAND_SLUGS))
    assert [brand.slug for brand in first.data + second.data] == BRAND_SLUGS[:10]


def test_brands_page_past_the_end_is_empty_but_keeps_the_total(client: OcpplabApi) -> None:
    beyond = client.catalog.list_catalog_brands(page=100, limit=10)

    assert beyond.data == []
    assert (beyond.page, beyond.limit, beyond.total) == (100, 10, len(BRAND_SLUGS))


@pytest.mark.parametrize(("page", "limit", "field"), [(1, 1000, "limit"), (1, 0, "limit"), (0, 10, "page")])
def test_brands_reject_out_of_range_paging_with_a_query_validation_error(
    client: OcpplabApi, page: int, limit: int, field: str
) -> None:
    with pytest.raises(UnprocessableEntityError) as raised:
        client.catalog.list_catalog_brands(page=page, limit=limit, request_options=NO_RETRY)

    assert [item.loc for item in raised.value.body.detail] == [["query", field]]


def test_models_of_a_brand_carry_the_catalog_facts(client: OcpplabApi) -> None:
    models = client.catalog.list_catalog_brand_models("wallbox")

    assert (models.page, models.limit, models.total) == (1, 50, 4)
    assert [model.slug for model in models.data] == [
        "wallbox-commander-2",
        "wallbox-pulsar-plus",
        "wallbox-quasar",
        "wallbox-supernova-60",
    ]
    supernova = models.data[3]
    assert supernova.name == "Supernova 60 kW"
    assert supernova.brand_slug == "wallbox"
    assert supernova.connector_count == 2
    assert supernova.current_type == "dc"
    assert supernova.connector_types == ["CCS2", "CHAdeMO"]
    assert supernova.supported_kwh == [60.0]


def test_models_of_a_brand_paginate(client: OcpplabApi) -> None:
    second = client.catalog.list_catalog_brand_models("wallbox", page=2, limit=3)

    assert (second.page, second.limit, second.total) == (2, 3, 4)
    assert [model.slug for model in second.data] == ["wallbox-supernova-60"]


def test_models_of_an_unknown_brand_are_not_found(client: OcpplabApi) -> None:
    with pytest.raises(NotFoundError) as raised:
        client.catalog.list_catalog_brand_models("no-such-brand", request_options=NO_RETRY)

    assert isinstance(raised.value.body.detail, str)


def test_models_reject_a_limit_over_100(client: OcpplabApi) -> None:
    with pytest.raises(UnprocessableEntityError) as raised:
        client.catalog.list_catalog_brand_models("wallbox", limit=1000, request_options=NO_RETRY)

    assert raised.value.body.detail[0].loc == ["query", "limit"]


def test_one_model_reads_like_its_entry_in_the_brand_list(client: OcpplabApi) -> None:
    listed = next(
        m for m in client.catalog.list_catalog_brand_models("wallbox").data if m.slug == "wallbox-pulsar-plus"
    )
    model = client.catalog.get_catalog_brand_model("wallbox", "wallbox-pulsar-plus")

    assert model == listed
    assert (model.name, model.connector_count, model.current_type) == ("Pulsar Plus", 1, "ac")
    assert model.connector_types == ["Type2"]
    assert model.supported_kwh == [7.4, 11.0, 22.0]
    brand = next(b for b in client.catalog.list_catalog_brands().data if b.slug == "wallbox")
    assert model.brand_id == brand.id


@pytest.mark.parametrize(
    ("brand", "model"),
    [("no-such-brand", "wallbox-pulsar-plus"), ("wallbox", "no-such-model"), ("wallbox", "abb-terra-360")],
    ids=["unknown brand", "unknown model", "model of another brand"],
)
def test_a_model_outside_its_brand_is_not_found(client: OcpplabApi, brand: str, model: str) -> None:
    with pytest.raises(NotFoundError):
        client.catalog.get_catalog_brand_model(brand, model, request_options=NO_RETRY)


def test_catalog_needs_a_token(connect: Callable[..., OcpplabApi]) -> None:
    anonymous = connect()

    with pytest.raises(UnauthorizedError):
        anonymous.catalog.list_catalog_brands(request_options=NO_RETRY)
    with pytest.raises(UnauthorizedError):
        anonymous.catalog.list_catalog_brand_models("wallbox", request_options=NO_RETRY)
    with pytest.raises(UnauthorizedError):
        anonymous.catalog.get_catalog_brand_model("wallbox", "wallbox-pulsar-plus", request_options=NO_RETRY)


def test_catalog_is_not_tenant_scoped_so_an_admin_needs_no_organization(connect: Callable[..., OcpplabApi]) -> None:
    admin = connect(role="admin")

    assert admin.catalog.list_catalog_brands().total == len(BRAND_SLUGS)
    assert admin.catalog.get_catalog_brand_model("abb", "terra-184").connector_types == ["CCS2", "CHAdeMO"]
