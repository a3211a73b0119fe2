"""The vendor SDK (ocpplab 0.1.1) drives every command operation (api.md 5, rows 19-52) and parses each answer
into its typed model; unknown chargers and locations surface as NotFoundError, bad input as the typed 400 / 422.

The chargers connect to a real CSMS (running on its own event loop in a thread), so the routes that answer with
an outcome (configuration, cache, local list, faults) answer at once with the charge point's real outcome.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import uuid4

import pytest
from ocpplab import OcpplabApi
from ocpplab.errors import BadRequestError, NotFoundError, UnprocessableEntityError
from ocpplab.types import (
    CacheResetResponse,
    ConfigurationChangeResponse,
    ConfigurationResponse,
    FaultOperationResponse,
    LocalAuthListEntry,
    LocalAuthorizationListResponse,
    LocalListMutationResponse,
    LocationCommandResponse,
    LocationFaultResponse,
    QueuedCommandResponse,
)

from adapters.csms.server import CsmsServer, Verdicts
from tests.contract.sdk import NO_RETRY, PULSAR_PLUS, new_org

T = TypeVar("T")
UNKNOWN = "00000000-0000-0000-0000-000000000000"
VERSIONS = ("OCPP1.6", "OCPP2.0.1")


class ThreadedCsms:
    """A CsmsServer on its own event loop in a daemon thread: the SDK is synchronous, the CSMS is asyncio."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="csms", daemon=True)
        self.server: CsmsServer | None = None

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 15.0) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def start(self) -> ThreadedCsms:
        self.thread.start()

        async def start() -> CsmsServer:
            server = CsmsServer(verdicts=Verdicts(heartbeat_interval=5))
            await server.start()
            return server

        self.server = self.run(start())
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.run(self.server.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    def url(self) -> str:
        assert self.server is not None
        return self.server.url()

    def wait_booted(self, identity: str, connectors: int) -> None:
        assert self.server is not None
        self.run(self.server.wait_for(identity, "BootNotification"))
        self.run(self.server.wait_for(identity, "StatusNotification", count=connectors))


@pytest.fixture(scope="module")
def csms() -> Iterator[ThreadedCsms]:
    server = ThreadedCsms().start()
    yield server
    server.stop()


@pytest.fixture
def booted(client: OcpplabApi, new_location: Callable[..., Any], csms: ThreadedCsms) -> Iterator[Callable[..., Any]]:
    """Creates chargers (Pulsar Plus, one connector) that connect to the CSMS and waits for their boot; deletes them
    afterwards (the server is shared by the whole session)."""
    created: list[str] = []
    location = new_location()

    def create(version: str = "OCPP1.6") -> Any:
        identity = f"SDK-{uuid4().hex[:12]}"
        charger = client.charger_deployments.create_charger(
            **{**PULSAR_PLUS, "ws_url": csms.url()}, identity=identity, ocpp_version=version, location_id=location.id
        )
        created.append(charger.id)
        csms.wait_booted(identity, 2 if version == "OCPP1.6" else 1)  # 1.6 reports connector 0 too
        return charger

    yield create
    for charger_id in created:
        client.charger_deployments.delete_charger(charger_id, request_options=NO_RETRY)


def selection(version: str) -> dict[str, int]:
    return {"connector_id": 1} if version == "OCPP1.6" else {"evse_id": 1, "connector_id": 1}


def command_calls(version: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """Every method of client.charger_commands: (event_type, keyword arguments)."""
    return {
        "plug_connector": ("plug_connector", selection(version)),
        "unplug_connector": ("unplug_connector", selection(version)),
        "unlock_connector": ("unlock_connector", selection(version)),
        "start_session": ("start_session", {"id_tag": "TAG-SDK", "connector_id": 1}),
        "stop_session": ("stop_session", {"connector_id": 1}),
        "start_transaction": ("start_transaction", {"id_tag": "TAG-SDK", **selection(version)}),
        "stop_transaction": ("stop_transaction", {}),
        "authorize_id_tag": ("authorize_id_tag", {"id_tag": "TAG-SDK"}),
        "ev_requests_energy": ("ev_requests_energy", selection(version)),
        "ev_stops_energy": ("ev_stops_energy", selection(version)),
        "power_update": ("power_update", {"power_w": 7400, **selection(version)}),
        "proxy_message": (
            "proxy_message",
            {"action": "heartbeat", "ocpp_version": version.lower(), "payload": {}},
        ),
    }


@pytest.mark.parametrize("version", VERSIONS)
def test_every_charger_command_answers_a_parsed_queued_command_response(
    client: OcpplabApi, booted: Callable[..., Any], version: str
) -> None:
    charger = booted(version)
    for method, (event_type, kwargs) in command_calls(version).items():
        answer = getattr(client.charger_commands, method)(charger.id, **kwargs)
        assert isinstance(answer, QueuedCommandResponse), method
        assert (answer.event_type, answer.ocpp_version) == (event_type, version.lower()), method
        assert isinstance(answer.payload, dict) and answer.id, method


@pytest.mark.parametrize("version", VERSIONS)
def test_configuration_operations_parse_into_their_models(
    client: OcpplabApi, booted: Callable[..., Any], version: str
) -> None:
    charger = booted(version)
    key = "ConnectionTimeOut" if version == "OCPP1.6" else "TxCtrlr.EVConnectionTimeOut"

    changed = client.charger_configuration.set_configuration(charger.id, request={key: "45"})
    assert isinstance(changed, ConfigurationChangeResponse)
    assert (changed.status, changed.configured) == ("Accepted", [key])

    read = client.charger_configuration.get_configuration(charger.id, keys=key)
    assert isinstance(read, ConfigurationResponse)
    assert [(entry.key, entry.value) for entry in read.configuration] == [(key, "45")]
    assert len(client.charger_configuration.get_configuration(charger.id).configuration) > 1

    reset = client.charger_configuration.reset_auth_cache(charger.id)
    assert isinstance(reset, CacheResetResponse)
    assert reset.cleared_entries >= 0

    with pytest.raises(BadRequestError) as refused:
        client.charger_configuration.set_configuration(
            charger.id, request={"NoSuch.Key": "1"}, request_options=NO_RETRY
        )
    assert "NoSuch.Key" in refused.value.body.detail


@pytest.mark.parametrize("version", VERSIONS)
def test_fault_operations_parse_into_fault_operation_responses(
    client: OcpplabApi, booted: Callable[..., Any], version: str
) -> None:
    charger = booted(version)
    injected = client.charger_faults.inject_fault(charger.id, fault_type="OverCurrent", **selection(version))
    assert isinstance(injected, FaultOperationResponse)
    assert (injected.msg, injected.fault_type, injected.status) == ("Fault injected", "OverCurrent", "Faulted")

    cleared = client.charger_faults.clear_fault(charger.id, **selection(version))
    assert isinstance(cleared, FaultOperationResponse)
    assert (cleared.msg, cleared.status) == ("Fault cleared", "Available")

    with pytest.raises(UnprocessableEntityError):
        client.charger_faults.inject_fault(charger.id, fault_type="Lightning", request_options=NO_RETRY)


@pytest.mark.parametrize("version", VERSIONS)
def test_local_authorization_operations_parse_into_their_models(
    client: OcpplabApi, booted: Callable[..., Any], version: str
) -> None:
    charger = booted(version)
    expiry = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    entries = [LocalAuthListEntry(id_tag="TAG-RFID-001", expiry_date=expiry), LocalAuthListEntry(id_tag="TAG-002")]

    sent = client.charger_local_authorization.send_local_list(charger.id, list_version=2, entries=entries)
    assert isinstance(sent, LocalListMutationResponse)
    assert (sent.status, sent.list_version, sent.entries_received) == ("Accepted", 2, 2)

    page = client.charger_local_authorization.get_local_auth_list(charger.id, page=1, limit=1)
    assert isinstance(page, LocalAuthorizationListResponse)
    assert (len(page.data), page.total, page.page, page.limit) == (1, 2, 1, 1)
    everything = client.charger_local_authorization.get_local_auth_list(charger.id)
    assert {entry.id_tag: entry.expiry_date for entry in everything.data} == {"TAG-RFID-001": expiry, "TAG-002": None}

    with pytest.raises(BadRequestError):  # version mismatch: not newer than 2
        client.charger_local_authorization.send_local_list(
            charger.id, list_version=2, entries=entries, request_options=NO_RETRY
        )

    cleared = client.charger_local_authorization.delete_local_list(charger.id)
    assert isinstance(cleared, LocalListMutationResponse)
    assert (cleared.entries_deleted, cleared.list_version) == (2, 0)
    assert client.charger_local_authorization.get_local_auth_list(charger.id).total == 0


def location_command_calls() -> dict[str, tuple[str, dict[str, Any]]]:
    """Every method of client.location_charger_commands: (event_type, keyword arguments)."""
    return {
        "location_start_transaction": ("start_transaction", {"id_tag": "TAG-SDK", "connector_id": 1}),
        "location_stop_transaction": ("stop_transaction", {}),
        "location_unlock_connector": ("unlock_connector", {"connector_id": 1}),
        "location_power_update": ("power_update", {"power_w": 7400}),
        "location_plug_connector": ("plug_connector", {}),
        "location_unplug_connector": ("unplug_connector", {}),
        "location_start_session": ("start_session", {"id_tag": "TAG-SDK"}),
        "location_stop_session": ("stop_session", {}),
        "location_authorize_id_tag": ("authorize_id_tag", {"id_tag": "TAG-SDK"}),
        "location_ev_requests_energy": ("ev_requests_energy", {}),
        "location_ev_stops_energy": ("ev_stops_energy", {}),
    }


def test_every_location_command_answers_a_parsed_location_command_response(
    client: OcpplabApi, booted: Callable[..., Any]
) -> None:
    chargers = [booted("OCPP1.6"), booted("OCPP2.0.1")]
    location = chargers[0].location_id
    for method, (event_type, kwargs) in location_command_calls().items():
        answer = getattr(client.location_charger_commands, method)(location, **kwargs)
        assert isinstance(answer, LocationCommandResponse), method
        assert (answer.targeted_count, answer.queued_count, answer.failed_count) == (2, 2, 0), method
        assert {result.charger_id for result in answer.results} == {c.id for c in chargers}, method
        assert all(isinstance(r.command, QueuedCommandResponse) for r in answer.results), method
        assert {r.command.event_type for r in answer.results} == {event_type}, method

    some = client.location_charger_commands.location_plug_connector(
        location, charger_ids=[chargers[0].id, "not-here"], connector_id=1
    )
    assert (some.targeted_count, some.queued_count, some.failed_count) == (2, 1, 1)
    assert some.failed[0].identity is None and some.failed[0].error


def test_location_fault_operations_parse_into_location_fault_responses(
    client: OcpplabApi, booted: Callable[..., Any]
) -> None:
    chargers = [booted("OCPP1.6"), booted("OCPP2.0.1")]
    location = chargers[0].location_id

    injected = client.location_charger_faults.inject_location_fault(location, fault_type="GroundFault")
    assert isinstance(injected, LocationFaultResponse)
    assert (injected.targeted_count, injected.succeeded_count, injected.failed_count) == (2, 2, 0)
    assert {r.charger_id for r in injected.results} == {c.id for c in chargers}
    assert all(isinstance(r.fault, FaultOperationResponse) for r in injected.results)

    cleared = client.location_charger_faults.clear_location_fault(location, charger_ids=[chargers[1].id])
    assert isinstance(cleared, LocationFaultResponse)
    assert (cleared.targeted_count, cleared.succeeded_count) == (1, 1)
    assert cleared.results[0].identity == chargers[1].identity

    with pytest.raises(UnprocessableEntityError):
        client.location_charger_faults.inject_location_fault(location, fault_type="Lightning", request_options=NO_RETRY)
    with pytest.raises(BadRequestError):
        client.location_charger_faults.clear_location_fault(location, charger_ids=[], request_options=NO_RETRY)


def charger_operations() -> dict[str, Callable[[OcpplabApi, str], Any]]:
    """Every command-family operation on one charger, called with valid arguments."""
    operations: dict[str, Callable[[OcpplabApi, str], Any]] = {}
    for method, (_, kwargs) in command_calls("OCPP1.6").items():
        operations[f"charger_commands.{method}"] = lambda sdk, key, m=method, k=kwargs: getattr(
            sdk.charger_commands, m
        )(key, **k, request_options=NO_RETRY)
    operations.update(
        {
            "get_configuration": lambda sdk, key: sdk.charger_configuration.get_configuration(
                key, request_options=NO_RETRY
            ),
            "set_configuration": lambda sdk, key: sdk.charger_configuration.set_configuration(
                key, request={"HeartbeatInterval": "30"}, request_options=NO_RETRY
            ),
            "reset_auth_cache": lambda sdk, key: sdk.charger_configuration.reset_auth_cache(
                key, request_options=NO_RETRY
            ),
            "inject_fault": lambda sdk, key: sdk.charger_faults.inject_fault(
                key, fault_type="OverCurrent", request_options=NO_RETRY
            ),
            "clear_fault": lambda sdk, key: sdk.charger_faults.clear_fault(key, request_options=NO_RETRY),
            "get_local_auth_list": lambda sdk, key: sdk.charger_local_authorization.get_local_auth_list(
                key, request_options=NO_RETRY
            ),
            "send_local_list": lambda sdk, key: sdk.charger_local_authorization.send_local_list(
                key, list_version=1, entries=[LocalAuthListEntry(id_tag="TAG")], request_options=NO_RETRY
            ),
            "delete_local_list": lambda sdk, key: sdk.charger_local_authorization.delete_local_list(
                key, request_options=NO_RETRY
            ),
        }
    )
    return operations


@pytest.mark.parametrize("operation", list(charger_operations()))
def test_a_charger_operation_on_an_unknown_charger_raises_not_found(client: OcpplabApi, operation: str) -> None:
    with pytest.raises(NotFoundError) as raised:
        charger_operations()[operation](client, UNKNOWN)
    assert isinstance(raised.value.body.detail, str)


def test_a_charger_operation_on_another_tenants_charger_raises_not_found(
    client: OcpplabApi, connect: Callable[..., OcpplabApi], new_charger: Callable[..., Any], new_location: Callable
) -> None:
    theirs = new_charger(location_id=new_location().id, identity=f"THEIRS-{uuid4().hex[:12]}")
    stranger = connect(new_org())
    answered = []
    for name, operation in charger_operations().items():
        try:
            operation(stranger, theirs.id)
            answered.append(name)
        except NotFoundError:
            pass
    assert answered == [], "operations that reached another tenant's charger"


def location_operations() -> dict[str, Callable[[OcpplabApi, str], Any]]:
    operations: dict[str, Callable[[OcpplabApi, str], Any]] = {}
    for method, (_, kwargs) in location_command_calls().items():
        operations[method] = lambda sdk, key, m=method, k=kwargs: getattr(sdk.location_charger_commands, m)(
            key, **k, request_options=NO_RETRY
        )
    operations["inject_location_fault"] = lambda sdk, key: sdk.location_charger_faults.inject_location_fault(
        key, fault_type="OverCurrent", request_options=NO_RETRY
    )
    operations["clear_location_fault"] = lambda sdk, key: sdk.location_charger_faults.clear_location_fault(
        key, request_options=NO_RETRY
    )
    return operations


@pytest.mark.parametrize("operation", list(location_operations()))
def test_a_location_operation_on_an_unknown_location_raises_not_found(client: OcpplabApi, operation: str) -> None:
    with pytest.raises(NotFoundError):
        location_operations()[operation](client, UNKNOWN)
