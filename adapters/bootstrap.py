"""The composition root: builds the gateway's parts from settings, in one place."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from quart import Quart

from adapters.catalog.loader import default_catalog
from adapters.http.app import create_app
from adapters.http.context import Services
from adapters.settings import Settings
from adapters.store.views import Views
from adapters.tokens import TokenVerifier
from application.gateway import Gateway


def package_version() -> str:
    try:
        return version("ocpplab-gateway")
    except PackageNotFoundError:
        return "0.0.0"


def build_gateway(settings: Settings) -> Gateway:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Gateway(default_catalog(), env=settings.event_store_env())


def build_services(settings: Settings) -> Services:
    gateway = build_gateway(settings)
    return Services(
        gateway=gateway,
        views=Views(settings.views_path, gateway),
        catalog=default_catalog(),
        verifier=TokenVerifier(settings),
        version=package_version(),
    )


def build_app(settings: Settings | None = None) -> Quart:
    return create_app(build_services(settings or Settings.from_env()))
