"""The fleet and command records across a restart, on a real SQLite store: nothing is sent twice, nothing lost."""

from __future__ import annotations

import asyncio
from pathlib import Path

from adapters.catalog.loader import default_catalog
from adapters.settings import Settings
from application.gateway import Gateway
from application.ports import Actor
from domain.command import Command
from simulator.fleet import INTERRUPTED, Fleet

SITE = {
    "name": "Depot",
    "address": "1 Quai",
    "city": "Lyon",
    "country": "FR",
    "coordinates": {"latitude": 45.76, "longitude": 4.83},
}
WHO = Actor(sub="alice", role="user", tenant_id="acme", request_id="req-1")


def gateway(tmp_path: Path) -> Gateway:
    settings = Settings(data_dir=tmp_path / "data")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Gateway(default_catalog(), env=settings.event_store_env())


def charger(app: Gateway) -> object:
    location = app.create_location(WHO, SITE)
    written = app.create_charger(
        WHO, location.id, "CP-1", "wallbox", "wallbox-pulsar-plus", "Type2", "ws://127.0.0.1:9/ocpp"
    )
    return written.id


async def settled(app: Gateway, command_id: object) -> Command:
    for _ in range(100):
        command = app.repository.get(command_id)
        if command.done:
            return command
        await asyncio.sleep(0.05)
    return app.repository.get(command_id)


async def test_a_command_sent_before_a_restart_and_never_finished_is_failed_not_sent_again(tmp_path: Path) -> None:
    app = gateway(tmp_path)
    charger_id = charger(app)
    queued = app.request_command(WHO, charger_id, "authorize_id_tag", {"id_tag": "TAG-1"})
    in_flight = app.repository.get(queued.command.id)
    in_flight.mark_sent(None)  # the previous process handed it to the charge point, then died
    app.save(in_flight)

    fleet = Fleet(app)
    await fleet.start()
    try:
        command = await settled(app, queued.command.id)
    finally:
        await fleet.stop()
    assert (command.status, command.reason) == ("failed", INTERRUPTED)
    assert command.id not in fleet.pending


async def test_a_command_queued_before_a_restart_is_still_carried_out_after_it(tmp_path: Path) -> None:
    app = gateway(tmp_path)
    charger_id = charger(app)
    queued = app.request_command(WHO, charger_id, "set_configuration", {"changes": {"HeartbeatInterval": "42"}})

    fleet = Fleet(app)
    await fleet.start()
    try:
        command = await settled(app, queued.command.id)
    finally:
        await fleet.stop()
    assert command.status == "completed"
    assert app.charger_configuration(WHO, charger_id, ["HeartbeatInterval"])[0]["value"] == "42"
