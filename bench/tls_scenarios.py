"""The TLS benchmark's measurements (bench/tls_suite.py): one fleet on ws:// (security profile 1) and the same fleet
on wss:// (profile 2: the run's private CA + HTTP Basic auth), each in its own fresh `serve` process, against one
CSMS process that listens on both (bench/tls_csms.py).

1. memory: per profile, `serve` on an empty data dir: RSS before any charger (base), then FLEET chargers created
   through REST; once every one has booted and heartbeated and the process is quiet, (RSS - base) / FLEET. Both
   processes then stay up for
2. idle CPU: both side by side over one window, heartbeats every 60 s
3. boot: per profile and round, FLEET chargers created through `ocpplab-gateway api` on a fresh data dir, then
   `serve` timed from its process start to the last BootNotification (the simulator suite's boot figure); rounds
   in ABBA order (ws, wss, wss, ws, ...) so a drift of the machine's load falls on both profiles alike.
4. bare (diagnostic): the bare websockets client (bench/bare_client.py) holding FLEET idle connections on each
   profile's URL with the same credentials: RSS per connection below the gateway, to tell what TLS costs in
   Python's asyncio and `websockets` from what the gateway adds.
CSMS groups (identity prefixes): MP / MT (memory, plain / TLS), BP<round> / BT<round> (boot rounds), RP / RT (bare).
"""

from __future__ import annotations

import gc
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.csms_control import HOST, Csms, lean_csms
from bench.fleet_scenarios import (
    BOOT_TIMEOUT,
    IDLE_INTERVAL,
    MEMORY_INTERVAL,
    SETTLE_SECONDS,
    Window,
    bare_client,
    bare_memory,
    create_offline,
    identities,
    measure_pair,
    settle,
    wait_ready,
)
from bench.gateway_api import GatewayApi, gateway
from bench.procs import Child, rss_kib
from simulator.tls import build_context
from tests.pki import Authority
from tests.support import free_port

FLEET = int(os.environ.get("BENCH_TLS_FLEET", "1000"))
ROUNDS = int(os.environ.get("BENCH_TLS_ROUNDS", "2"))  # boot rounds per profile
IDLE_SECONDS = float(os.environ.get("BENCH_TLS_IDLE_SECONDS", "60"))
KEY = "bench-basic-auth-key"  # every charger's authorization_key (HTTP Basic password), both profiles
CONTEXTS = 100  # SSLContexts built to weigh one


@dataclass(frozen=True)
class Profile:
    name: str  # "ws" | "wss"
    code: str  # the letter of its CSMS groups: P (plain) | T (TLS)
    url: str
    fields: dict[str, Any]  # what create-chargers gets beyond the model and URL

    @property
    def memory_group(self) -> str:
        return f"M{self.code}"

    def boot_group(self, round_: int) -> str:
        return f"B{self.code}{round_}"


@dataclass
class Memory:
    base_kib: int
    rss_kib: int  # every charger booted and heartbeated, the process quiet
    create_seconds: float  # REST bulk creation (the chargers connect and boot meanwhile)
    create_to_boot: float  # first create request -> last BootNotification at the CSMS
    open_fds: int
    profiles: dict[str, int]  # security_profile as GET /chargers shows it -> how many
    rss_after_idle_kib: int = 0

    def per_charger_kib(self, rss: int | None = None) -> float:
        return ((rss or self.rss_kib) - self.base_kib) / FLEET


@dataclass
class Boot:
    profile: str
    round: int
    create_seconds: float  # through `api`, before `serve` starts
    health_seconds: float
    boot_seconds: float  # process start -> last BootNotification
    cpu_seconds: float  # the `serve` process's CPU from its start to (just after) the last boot
    csms_cpu: float  # the CSMS's CPU over the same interval (both ends of every handshake are on this machine)
    rss_kib: int  # once quiet after the boot
    extra_boots: int


@dataclass
class Result:
    profiles: tuple[Profile, Profile]  # ws, wss
    memory: dict[str, Memory]
    idle: dict[str, Window]
    boots: list[Boot]
    transports: dict[str, dict[str, int]]  # CSMS group -> how its handshakes arrived ("plain", "TLSv1.3 ...")
    context_kib: float
    bare: dict[str, float]  # profile -> KiB per idle connection of the bare client

    def boots_of(self, profile: str) -> list[Boot]:
        return [boot for boot in self.boots if boot.profile == profile]


@dataclass(frozen=True)
class Pki:
    ca: str  # PEM of the private CA: the chargers' csms_ca_certificate
    ca_file: Path  # the same, for the bare client
    chain: Path  # the CSMS's certificate (127.0.0.1, localhost) and key, PEM


def make_pki(directory: Path) -> Pki:
    authority = Authority("OCPPLAB Bench CA")
    issued = authority.issue("localhost", server=True)
    chain = directory / "csms.pem"
    chain.touch(mode=0o600)
    chain.write_text(issued.certificate + issued.key, encoding="utf-8")
    ca_file = directory / "ca.pem"
    ca_file.write_text(authority.certificate, encoding="utf-8")
    return Pki(authority.certificate, ca_file, chain)


@contextmanager
def tls_csms(pki: Pki) -> Iterator[tuple[Csms, tuple[Profile, Profile]]]:
    """The CSMS process (plain and TLS listeners) and the two profiles whose chargers connect to it."""
    tls_port = free_port()
    extra = [str(tls_port), str(pki.chain), KEY]
    with lean_csms(MEMORY_INTERVAL, "bench.tls_csms", "TLS lean CSMS", extra) as csms:
        plain = Profile("ws", "P", csms.ws_url, {"authorization_key": KEY, "security_profile": 1})
        secure = {"authorization_key": KEY, "security_profile": 2, "csms_ca_certificate": pki.ca}
        yield csms, (plain, Profile("wss", "T", f"wss://{HOST}:{tls_port}/ocpp", secure))


def context_kib(ca: str) -> float:
    """RSS one client SSLContext holding the CA costs (this process's growth over CONTEXTS of them): what each
    charger would add if the simulator built one per charger instead of sharing one per CA material."""
    gc.collect()
    before = rss_kib(os.getpid())
    contexts = [build_context(ca) for _ in range(CONTEXTS)]
    grown = rss_kib(os.getpid()) - before
    del contexts
    return grown / CONTEXTS


def bare(csms: Csms, profile: Profile, pki: Pki) -> float:
    """KiB per idle connection of the bare client on the profile's URL, with the same credentials (and CA)."""
    extra = ["--key", KEY, *(["--ca", str(pki.ca_file)] if profile.name == "wss" else [])]
    found = bare_memory(csms, bare_client(csms, f"R{profile.code}", url=profile.url, extra=extra), (FLEET,))
    return found.per_unit_kib(found.points[0])


def memory(csms: Csms, profile: Profile, stack: ExitStack) -> tuple[Child, Memory]:
    """A fresh `serve` (left running in `stack`) with the profile's fleet created through REST, booted and quiet."""
    data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=f"bench-tls-memory-{profile.name}-")))
    process, url = stack.enter_context(gateway(data_dir))
    api = stack.enter_context(GatewayApi(url))
    location = api.create_location(f"Bench TLS {profile.name}")
    time.sleep(SETTLE_SECONDS)
    base, started = process.rss_kib(), time.time()
    group = profile.memory_group
    create_seconds = api.create_chargers(location, identities(group, 0, FLEET), profile.url, profile.fields)
    wait_ready(csms, api, process, FLEET, [(group, FLEET)])
    create_to_boot = csms.stats(group)["last_boot_at"] - started
    settle(process, [csms.process])
    time.sleep(SETTLE_SECONDS)
    rss, fds = process.rss_kib(), len(os.listdir(f"/proc/{process.pid}/fd"))
    shown = api.tally("security_profile")
    if shown != {str(profile.fields["security_profile"]): FLEET}:
        raise RuntimeError(f"GET /chargers shows security profiles {shown} for the {profile.name} fleet")
    return process, Memory(base, rss, create_seconds, create_to_boot, fds, shown)


def idle(csms: Csms, profiles: tuple[Profile, Profile], processes: dict[str, Child]) -> dict[str, Window]:
    """Both memory processes over one window at the 60 s heartbeat interval (pushed to every charger)."""
    for profile in profiles:
        sent = csms.push_interval(profile.memory_group, IDLE_INTERVAL)
        if sent != FLEET:
            raise RuntimeError(f"HeartbeatInterval reached {sent} of {FLEET} {profile.name} chargers")
    for process in processes.values():
        settle(process, [*processes.values(), csms.process])
    plain, secure = profiles
    groups = (plain.memory_group, secure.memory_group)
    pair = measure_pair(processes[plain.name], processes[secure.name], csms, groups, IDLE_SECONDS, "tls-idle")
    return {plain.name: pair[0], secure.name: pair[1]}


def boot(csms: Csms, profile: Profile, round_: int) -> Boot:
    """FLEET chargers created offline on a fresh data dir, then `serve` timed from its start to the last boot."""
    group = profile.boot_group(round_)
    with tempfile.TemporaryDirectory(prefix=f"bench-tls-boot-{profile.name}-") as directory:
        data_dir = Path(directory)
        create_seconds = create_offline(csms, data_dir, FLEET, group, profile.url, profile.fields)
        csms_cpu = csms.process.cpu_seconds()
        with gateway(data_dir) as (process, _):
            health_seconds = time.time() - process.started_at
            stats = csms.wait(group, "boots", FLEET, BOOT_TIMEOUT, [process])
            cpu, csms_cpu = process.cpu_seconds(), csms.process.cpu_seconds() - csms_cpu
            settle(process, [csms.process])
            rss = process.rss_kib()
            extra_boots = csms.stats(group)["boots"] - FLEET
    boot_seconds = stats["last_boot_at"] - process.started_at
    return Boot(profile.name, round_, create_seconds, health_seconds, boot_seconds, cpu, csms_cpu, rss, extra_boots)


def boot_order(profiles: tuple[Profile, Profile]) -> list[tuple[Profile, int]]:
    """ABBA: ws, wss in odd rounds, wss, ws in even ones."""
    order = []
    for round_ in range(1, ROUNDS + 1):
        pair = profiles if round_ % 2 else profiles[::-1]
        order += [(profile, round_) for profile in pair]
    return order


def transports(csms: Csms, profiles: tuple[Profile, Profile]) -> dict[str, dict[str, int]]:
    """How every group's handshakes arrived; raises unless ws groups were all plain and wss ones all TLS, each
    with the right Basic credentials (the CSMS refuses wrong ones)."""
    seen: dict[str, dict[str, int]] = csms.http.get("/_transports").raise_for_status().json()
    tls_codes = {profile.code for profile in profiles if profile.name == "wss"}
    for group, kinds in seen.items():
        tls = group[1] in tls_codes
        wrong = [kind for kind in kinds if kind == "refused" or (kind == "plain") == tls]
        if wrong:
            raise RuntimeError(f"group {group} connected as it should not: {kinds}")
    return seen


def run(pki: Pki) -> Result:
    """Memory and idle first (both processes up together), then the boot rounds (one process at a time)."""
    context = context_kib(pki.ca)
    with tls_csms(pki) as (csms, profiles):
        bare_kib = {profile.name: bare(csms, profile, pki) for profile in profiles}
        with ExitStack() as stack:
            processes: dict[str, Child] = {}
            found: dict[str, Memory] = {}
            for profile in profiles:
                processes[profile.name], found[profile.name] = memory(csms, profile, stack)
            windows = idle(csms, profiles, processes)
            for name, process in processes.items():
                process.check()
                found[name].rss_after_idle_kib = process.rss_kib()
        csms.set_interval(IDLE_INTERVAL)
        boots = [boot(csms, profile, round_) for profile, round_ in boot_order(profiles)]
        return Result(profiles, found, windows, boots, transports(csms, profiles), context, bare_kib)
