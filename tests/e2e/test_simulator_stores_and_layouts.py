"""The same behaviour on SQLite and PostgreSQL, with the simulator in the API's process (`serve`) or in its own
(`api` + `simulator` on the same store): boot, heartbeat, a CSMS call, lifecycle, a complete log."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from ocpp.v16 import call as call16
from ocpp.v201 import call as call201

from tests.e2e.conftest import (
    AC,
    DC,
    Api,
    CsmsFactory,
    Deployment,
    DeploymentFactory,
    Process,
    boot,
    eventually,
    frames_of,
    never,
    next_heartbeat,
    reported_connectors,
    wait_healthy,
)
from tests.support import POSTGRES_DSN, GatewayProcess, postgres_schema


@pytest.mark.parametrize("layout", ["serve", "split"])
async def test_boot_heartbeat_csms_calls_lifecycle_and_a_complete_log_on_every_store_and_process_layout(
    store_url: str | None,
    layout: str,
    csms_factory: CsmsFactory,
    deployments: DeploymentFactory,
    api_for: Callable[[Deployment], Api],
) -> None:
    csms = await csms_factory(heartbeat_interval=1)
    gateway = await deployments(store_url, layout)
    api = api_for(gateway)
    cp16 = await boot(api, csms, "OCPP1.6", AC)
    cp201 = await boot(api, csms, "OCPP2.0.1", DC)

    for charger in (cp16, cp201):  # the API's view follows what the simulator observed
        await next_heartbeat(csms, charger.identity)
        doc = await api.wait_runtime(charger.id, "booted")
        assert doc["heartbeat_interval"] == 1
        assert len(doc["connectors"]) == reported_connectors(charger.version, charger.model)

    await next_heartbeat(csms, cp16.identity)
    configured = await csms.call(cp16.identity, call16.GetConfiguration(key=["HeartbeatInterval"]))
    assert configured.configuration_key[0]["value"] == "1"
    await next_heartbeat(csms, cp201.identity)
    heartbeat = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
    read = await csms.call(cp201.identity, call201.GetVariables(get_variable_data=[heartbeat]))
    assert read.get_variable_result[0]["attribute_value"] == "1"

    for charger in (cp16, cp201):
        await api.wait_logged(charger.id, frames_of(csms, charger.identity))

    session = csms.sessions[cp16.identity]
    await next_heartbeat(csms, cp16.identity)  # no heartbeat in flight when the connection closes
    stop = await api.lifecycle(cp16.id, "stop-charger")
    await eventually(session.closed.is_set, what="closed by stop-charger")
    assert session.websocket.close_code == 1000
    await api.wait_runtime(cp16.id, "stopped")
    assert (await api.wait_command(stop["id"]))["status"] == "completed"
    await never(lambda: csms.connection_count(cp16.identity) > 1, duration=1.5, what="a stopped charger came back")

    start = await api.lifecycle(cp16.id, "start-charger")
    await csms.wait_for(cp16.identity, "BootNotification", count=2)
    await api.wait_runtime(cp16.id, "booted")
    assert (await api.wait_command(start["id"]))["status"] == "completed"
    assert cp201.identity in csms.sessions and csms.connection_count(cp201.identity) == 1

    frames = frames_of(csms, cp16.identity)
    log = await api.wait_logged(cp16.id, frames)
    assert sum(1 for entry in log if entry["action"] == "BootNotification") >= 4  # two boots, call and result

    # a metered session, carried out by the simulator wherever it runs
    changed = await api.http.post(
        f"/chargers/{cp201.id}/configuration", json={"SampledDataCtrlr.TxUpdatedInterval": "1"}
    )
    assert changed.status_code == 200 and changed.json()["status"] == "Accepted", changed.text
    started = (await api.http.post(f"/chargers/{cp201.id}/start-session", json={"id_tag": "TAG-LAYOUT"})).json()
    assert (await api.wait_command(started["id"]))["status"] == "completed"
    events = await csms.wait_for(cp201.identity, "TransactionEvent", count=2)
    assert [e["eventType"] for e in events[:2]] == ["Started", "Updated"]
    stopped = (await api.http.post(f"/chargers/{cp201.id}/stop-session", json={})).json()
    assert (await api.wait_command(stopped["id"]))["result"]["transaction_id"] == events[0]["transactionInfo"][
        "transactionId"
    ]


def test_an_api_and_a_simulator_started_at_once_on_an_empty_postgres_schema_both_come_up(tmp_path: Path) -> None:
    with postgres_schema() as url:
        schema = url.rsplit("schema=", 1)[1]
        gateway = GatewayProcess(tmp_path / "data", url, "api")
        env = gateway.env()
        processes = [
            Process(["api", "--port", str(gateway.port)], env, tmp_path / "api.log"),
            Process(["simulator"], env, tmp_path / "simulator.log"),
        ]
        # An uncommitted CREATE TYPE of the store's first type holds both processes at the same statement, so
        # they meet there for sure (without it they only collide some of the time).
        with psycopg.connect(POSTGRES_DSN) as blocker, psycopg.connect(POSTGRES_DSN, autocommit=True) as watcher:
            blocker.execute(f"CREATE TYPE {schema}.stored_event_uuid AS (x int)")
            try:
                [since] = watcher.execute("SELECT now()").fetchone()  # type: ignore[misc]
                for process in processes:
                    process.start()
                # both processes' connections wait on a lock (on the type, or on whatever serialises them)
                waiting = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND backend_start >= %s"
                deadline = time.monotonic() + 15
                while watcher.execute(waiting, (since,)).fetchone()[0] < 2 and time.monotonic() < deadline:  # type: ignore[index]
                    time.sleep(0.05)
                blocker.rollback()
                wait_healthy(gateway.base_url, processes[0])
                time.sleep(1.0)
                assert [p.running for p in processes] == [True, True], "\n".join(p.tail() for p in processes)
            finally:
                blocker.rollback()
                for process in processes:
                    if process.popen is not None:
                        process.stop(signal.SIGKILL if process.running else signal.SIGTERM)
