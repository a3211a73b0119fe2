"""The dashboard in a real browser (Debian's chromium driven by playwright) against a real gateway and CSMS: the
fleet appears and follows the wire without a reload, frames stream in, a button drives a real CSMS, tenants see
nothing of each other; the page throws no script error and asks nothing of any host but the gateway."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from adapters.csms.server import CsmsServer
from tests.e2e.commands import TAG, command, configure
from tests.e2e.conftest import WAIT, Api, Deployment, boot
from tests.support import token

CHROMIUM = Path("/usr/bin/chromium")
MS = int(WAIT * 1000)

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists() or shutil.which("chromium") is None,
    reason="Debian's chromium is not installed (make test installs it)",
)


@dataclass
class Browser:
    """A page of the dashboard, with what went wrong on it (script errors, requests to other hosts)."""

    base_url: str
    page: object
    errors: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)

    async def open(self, org: str) -> None:
        await self.page.goto(f"{self.base_url}/ui/#token={token(org)}")

    def row(self, identity: str, status: str | None = None) -> str:
        selector = f'[data-testid="charger-row"][data-identity="{identity}"]'
        return selector + (f'[data-status="{status}"]' if status else "")


@pytest.fixture
async def browser(shared_gateway: Deployment) -> AsyncIterator[Browser]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = await chromium.new_page()
            found = Browser(shared_gateway.base_url, page)
            page.on("pageerror", lambda error: found.errors.append(f"pageerror: {error}"))
            page.on("console", lambda m: found.errors.append(f"console: {m.text}") if m.type == "error" else None)
            page.on(
                "request",
                lambda r: None if r.url.startswith((found.base_url + "/", "data:")) else found.outside.append(r.url),
            )
            yield found
        finally:
            await chromium.close()
    assert found.errors == [], "the page reported script errors"
    assert found.outside == [], "the page requested something outside the gateway"


async def test_without_a_token_the_page_asks_for_one_and_takes_it(browser: Browser, api: Api, csms: CsmsServer):
    charger = await boot(api, csms)
    await browser.page.goto(f"{browser.base_url}/ui/")
    field = browser.page.get_by_test_id("token-input")
    await field.wait_for(state="visible", timeout=MS)
    await field.fill(token(api.org))
    await browser.page.get_by_role("button", name="Open the dashboard").click()
    await browser.page.wait_for_selector(browser.row(charger.identity, "Available"), timeout=MS)


async def test_the_fleet_appears_and_a_rest_started_session_turns_the_row_charging(
    browser: Browser, api: Api, csms: CsmsServer
):
    chargers = [await boot(api, csms), await boot(api, csms, "OCPP2.0.1")]
    await browser.open(api.org)
    for charger in chargers:
        await browser.page.wait_for_selector(browser.row(charger.identity, "Available"), timeout=MS)
    assert await browser.page.get_by_test_id("charger-row").count() == 2
    await configure(api, chargers[0].id, {"MeterValueSampleInterval": "1"})
    await command(api, chargers[0].id, "start-session", {"id_tag": TAG})
    await browser.page.wait_for_selector(browser.row(chargers[0].identity, "Charging"), timeout=MS)
    assert await browser.page.locator(browser.row(chargers[1].identity, "Available")).count() == 1
    power = browser.page.locator(browser.row(chargers[0].identity)).locator("td").nth(5)
    await power.filter(has_not_text="0.0 kW").wait_for(timeout=MS)  # the meter values' power reaches the row


async def test_frames_stream_into_the_charger_view(browser: Browser, api: Api, csms: CsmsServer):
    charger = await boot(api, csms)  # 1 s heartbeats
    await browser.open(api.org)
    await browser.page.click(browser.row(charger.identity), timeout=MS)
    frames = browser.page.get_by_test_id("frame")
    await frames.first.wait_for(timeout=MS)
    shown = await frames.count()
    heartbeats = browser.page.locator('[data-testid="frame"][data-action="Heartbeat"]')
    await heartbeats.nth(2).wait_for(state="attached", timeout=MS)  # heartbeats kept coming, without a reload
    assert await frames.count() > shown
    await browser.page.get_by_test_id("pause").click()
    paused = await frames.count()
    await csms.wait_for(charger.identity, "Heartbeat", count=len(csms.received(charger.identity, "Heartbeat")) + 2)
    assert await frames.count() == paused, "a paused log stays still"


async def test_the_stop_session_button_stops_the_session_at_the_csms(browser: Browser, api: Api, csms: CsmsServer):
    charger = await boot(api, csms)
    await command(api, charger.id, "start-session", {"id_tag": TAG})
    await browser.open(api.org)
    await browser.page.wait_for_selector(browser.row(charger.identity, "Charging"), timeout=MS)
    await browser.page.click(browser.row(charger.identity))
    await browser.page.get_by_test_id("command-stop-session").click()
    await csms.wait_for(charger.identity, "StopTransaction", timeout=WAIT)
    await browser.page.go_back()
    stopped = browser.row(charger.identity) + ':not([data-status="Charging"])'  # Finishing while still plugged
    await browser.page.wait_for_selector(stopped, timeout=MS)


async def test_a_second_tenant_sees_nothing_of_the_first(
    browser: Browser, api: Api, csms: CsmsServer, shared_gateway: Deployment
):
    charger = await boot(api, csms)
    other = Api(shared_gateway.base_url)
    try:
        await browser.open(other.org)
        await browser.page.get_by_text("Live").wait_for(timeout=MS)
        assert await browser.page.get_by_test_id("charger-row").count() == 0
        await browser.page.goto(f"{browser.base_url}/ui/#/chargers/{charger.id}")
        await browser.page.get_by_text("Charger not found").wait_for(timeout=MS)
        assert await browser.page.get_by_test_id("frame").count() == 0
        assert charger.identity not in await browser.page.content()
        browser.errors = [e for e in browser.errors if "404" not in e]  # the refused stream is reported, rightly
    finally:
        await other.aclose()


async def test_an_admin_token_picks_the_organization_to_watch(browser: Browser, api: Api, csms: CsmsServer):
    charger = await boot(api, csms)
    admin = token(None, role="admin")
    await browser.page.goto(f"{browser.base_url}/ui/#token={admin}")
    picker = browser.page.get_by_label("Organization")
    await picker.wait_for(timeout=MS)
    await picker.select_option(api.org)
    await browser.page.wait_for_selector(browser.row(charger.identity, "Available"), timeout=MS)
    assert await browser.page.get_by_test_id("charger-row").count() == 1


async def test_the_charger_view_shows_its_configuration_and_leads_to_its_history(
    browser: Browser, api: Api, csms: CsmsServer
):
    charger = await boot(api, csms)
    await browser.open(api.org)
    await browser.page.click(browser.row(charger.identity), timeout=MS)
    heartbeat = browser.page.get_by_test_id("config-row").filter(has_text="HeartbeatInterval")
    await heartbeat.wait_for(timeout=MS)
    await browser.page.get_by_role("link", name="History of this charger").click()
    registered = browser.page.locator('[data-testid="event-row"][data-type="Charger.Registered"]')
    await registered.wait_for(timeout=MS)
    assert "tester (user)" in await registered.inner_text()  # who caused it
    await browser.page.get_by_test_id("events-link").click()
    await browser.page.locator('[data-testid="event-row"][data-type="Location.Created"]').first.wait_for(timeout=MS)


async def test_a_row_opens_from_the_keyboard(browser: Browser, api: Api, csms: CsmsServer):
    charger = await boot(api, csms)
    await browser.open(api.org)
    row = browser.page.locator(browser.row(charger.identity))
    await row.wait_for(timeout=MS)
    await row.focus()
    await browser.page.keyboard.press("Enter")
    await browser.page.get_by_role("heading", name=charger.identity).wait_for(timeout=MS)
    assert await browser.page.get_by_label("Id tag").input_value() == "DASHBOARD"  # labelled inputs
