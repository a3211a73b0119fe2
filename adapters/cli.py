"""The console script `ocpplab-gateway`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence

from adapters.settings import Settings
from adapters.simulator_lock import SimulatorLock, SimulatorTaken


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ocpplab-gateway", description="OCPP fleet simulation gateway")
    parser.add_argument("--data-dir", help="directory of the embedded store (default: $OCPPLAB_DATA_DIR or ./var)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    for name, text in (
        ("serve", "API and simulator in one process (the embedded default)"),
        ("api", "API only (stateless; several may share one store)"),
    ):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("--host", default="127.0.0.1")
        sub.add_argument("--port", type=int, default=8080)

    simulator = commands.add_parser("simulator", help="simulator worker only: follows the store, runs charge points")
    simulator.add_argument("--worker", type=int, default=0, help="this worker's index (0-based)")
    simulator.add_argument("--workers", type=int, default=1, help="how many workers share the fleet")

    csms = commands.add_parser("demo-csms", help="a small permissive CSMS (OCPP 1.6 and 2.0.1) to try the gateway")
    csms.add_argument("--host", default="127.0.0.1")
    csms.add_argument("--port", type=int, default=9000)

    token = commands.add_parser("token", help="print a signed JWT for local use")
    token.add_argument("--org", help="the tenant (organization) the token acts for; required for user tokens")
    token.add_argument("--role", choices=("user", "admin"), default="user")
    token.add_argument("--ttl", type=int, default=24 * 3600, help="lifetime in seconds (default: one day)")
    token.add_argument("--sub", default="local-user", help="the token's subject")

    commands.add_parser("replay", help="rebuild every read model from the event store")
    commands.add_parser("verify", help="check the event store's hash chain and that the views match the events")

    exporter = commands.add_parser("export", help="write one tenant's event history as a hash-chained, signed file")
    exporter.add_argument("--org", required=True, help="the tenant (organization) whose events are exported")
    exporter.add_argument("--out", required=True, help="the file to write (JSON Lines)")
    checker = commands.add_parser("verify-export", help="check an export file offline (chain, trailer, signature)")
    checker.add_argument("file", help="the export file")
    checker.add_argument("--no-signature", action="store_true", help="check the hash chain only, not the signature")

    args = parser.parse_args(argv)
    settings = Settings.from_env()
    if args.data_dir:
        from dataclasses import replace
        from pathlib import Path

        settings = replace(settings, data_dir=Path(args.data_dir))
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("ocpp").setLevel(max(logging.WARNING, logging.getLogger().level))  # it logs every frame

    try:
        return run_command(args, settings)
    except (ValueError, OSError) as error:  # a configuration problem: say what it is
        if settings.log_level == "DEBUG":
            raise
        print(f"error: {error}", file=sys.stderr)
        return 2


def run_command(args: argparse.Namespace, settings: Settings) -> int:
    if args.command in ("serve", "api"):
        return serve(settings, args.host, args.port, with_simulator=args.command == "serve")
    if args.command == "simulator":
        if not 0 <= args.worker < args.workers:
            print("error: --worker must be between 0 and --workers - 1", file=sys.stderr)
            return 2
        return asyncio.run(run_simulator(settings, args.worker, args.workers))
    if args.command == "demo-csms":
        from adapters.csms.demo import run_demo_csms

        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run_demo_csms(args.host, args.port))
        return 0
    if args.command == "token":
        return print_token(settings, args)
    if args.command == "replay":
        return asyncio.run(replay(settings))
    if args.command == "verify":
        return asyncio.run(verify(settings))
    if args.command == "export":
        return export(settings, args.org, args.out)
    if args.command == "verify-export":
        return verify_export(settings, args.file, check_signature=not args.no_signature)
    return 2


def serve(settings: Settings, host: str, port: int, with_simulator: bool = True) -> int:
    """Serves until SIGTERM or SIGINT, then stops gracefully (exit code 0)."""
    from hypercorn.asyncio import serve as hypercorn_serve
    from hypercorn.config import Config

    from adapters.bootstrap import build_app
    from adapters.tokens import load_or_create_secret

    try:
        if not (settings.jwt_public_key or settings.jwks_url):
            load_or_create_secret(settings)
        lock = SimulatorLock(settings).acquire() if with_simulator else None  # held until the process ends
        app = build_app(settings, with_simulator)
    except Exception as error:  # noqa: BLE001 - a configuration problem: say what it is, no traceback
        print(f"error: cannot start: {error}", file=sys.stderr)
        return 2
    config = Config()
    config.bind = [f"{host}:{port}"]
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")  # one handler: the root logger's
    config.graceful_timeout = 5

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        loop.add_signal_handler(signal.SIGUSR1, dump_tasks)
        print(
            f"OCPPLAB Gateway listening on http://{host}:{port}  (store: "
            f"{'PostgreSQL' if settings.database_url else settings.data_dir / 'events.sqlite'})\n"
            f"  mint a token:  .venv/bin/ocpplab-gateway token --org acme\n"
            f"  API document:  http://{host}:{port}/openapi.json   health: http://{host}:{port}/health",
            flush=True,
        )

        async def stopping() -> None:
            await stop.wait()
            app.extensions["ocpplab"].feed.close()  # live streams end first: they would hold the shutdown up

        await hypercorn_serve(app, config, shutdown_trigger=stopping)  # type: ignore[arg-type]

    asyncio.run(run())
    if lock is not None:
        lock.release()
    return 0


def dump_tasks() -> None:
    """SIGUSR1: prints every asyncio task's stack to stderr (what is the process waiting for?)."""
    for task in asyncio.all_tasks():
        print(f"--- {task.get_name()}", file=sys.stderr)
        task.print_stack(limit=12, file=sys.stderr)
    sys.stderr.flush()


def print_token(settings: Settings, args: argparse.Namespace) -> int:
    from adapters.tokens import load_or_create_secret, mint

    if settings.jwt_public_key or settings.jwks_url:
        print(
            "error: tokens are verified with an external identity provider's keys here "
            "(OCPPLAB_JWT_PUBLIC_KEY / OCPPLAB_JWKS_URL); get a token from that provider",
            file=sys.stderr,
        )
        return 2
    if args.role == "user" and not args.org:
        print("error: user tokens need --org", file=sys.stderr)
        return 2
    try:
        secret = load_or_create_secret(settings)
        print(mint(secret, args.org, args.role, args.ttl, args.sub, settings.jwt_issuer, settings.jwt_audience))
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


async def run_simulator(settings: Settings, worker: int, workers: int) -> int:
    """Runs this worker's share of the fleet until SIGTERM/SIGINT, then disconnects every charger cleanly."""
    from adapters.bootstrap import build_gateway
    from simulator.fleet import Fleet

    try:
        lock = SimulatorLock(settings, worker, workers).acquire()
    except SimulatorTaken as error:
        print(f"error: cannot start: {error}", file=sys.stderr)
        return 2
    gateway = build_gateway(settings)
    fleet = Fleet(gateway, index=worker, workers=workers)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await fleet.start()
    print(f"simulator worker {worker + 1}/{workers}: running {len(fleet.runners)} charger(s)", flush=True)
    await stop.wait()
    await fleet.stop()
    gateway.close()
    lock.release()
    return 0


async def verify(settings: Settings) -> int:
    """Prints a verification report; exit code 1 on any difference or broken link."""
    import time

    from tqdm import tqdm

    from adapters.bootstrap import build_gateway
    from adapters.store.verify import verify as run_verify

    gateway = build_gateway(settings)
    started = time.perf_counter()
    with tqdm(total=gateway.position(), unit="ev", desc="verify", file=sys.stderr) as bar:
        report = await run_verify(gateway, settings.views_path, lambda position, end: bar.update(position - bar.n))
    seconds = time.perf_counter() - started
    gateway.close()
    rate = report.events / seconds if seconds > 0 else 0.0
    print(f"event store: {report.events} events, hash chain {'intact' if not report.chain_problems else 'BROKEN'}")
    for problem in report.chain_problems[:50]:
        print(f"  - {problem}")
    print(
        f"read models at position {report.view_position}: "
        + ", ".join(f"{table} {rows}" for table, rows in report.view_rows.items())
    )
    print(f"  {'match the events' if not report.view_problems else f'{len(report.view_problems)} difference(s)'}")
    for problem in report.view_problems[:50]:
        print(f"  - {problem}")
    print(f"verified in {seconds:.2f} s ({rate:,.0f} events/s): {'OK' if report.ok else 'FAILED'}")
    return 0 if report.ok else 1


def export(settings: Settings, org: str, out: str) -> int:
    """Exports one tenant's history with a progress bar; prints what was written."""
    from pathlib import Path

    from tqdm import tqdm

    from adapters.audit_export import export_tenant
    from adapters.bootstrap import build_gateway
    from adapters.secret_box import AesSecretBox
    from domain import values
    from domain.errors import InvalidValue

    try:
        values.org_id(org)
    except InvalidValue as error:
        print(f"error: --org {error.message}", file=sys.stderr)
        return 2
    if not Path(out).parent.is_dir():
        print(f"error: no directory {Path(out).parent} to write {out} into", file=sys.stderr)
        return 2
    store = settings.data_dir / "events.sqlite"
    if not settings.database_url and not store.exists():
        print(f"error: no event store at {store}", file=sys.stderr)
        return 2
    gateway = build_gateway(settings)
    try:
        if not gateway.tenant_exists(org):
            print(f"error: the store knows no tenant '{org}'", file=sys.stderr)
            return 2
        key = AesSecretBox.for_settings(settings).export_key()
        with tqdm(total=gateway.position(), unit="ev", desc="export", file=sys.stderr) as bar:
            summary = export_tenant(gateway, org, Path(out), key, lambda position, end: bar.update(position - bar.n))
    finally:
        gateway.close()
    print(f"exported {summary.count} events of '{org}' (log up to position {summary.store_position})")
    print(f"last hash: {summary.last_hash} ({'signed' if summary.signed else 'not signed'})")
    print(f"file: {summary.path}")
    return 0


def verify_export(settings: Settings, file: str, check_signature: bool = True) -> int:
    """Checks an export file without the store; exit code 0 only for an intact file."""
    from pathlib import Path

    from adapters.audit_export import verify_export as check_export

    key, why_not = readable_export_key(settings) if check_signature else (None, "--no-signature")
    check = check_export(Path(file), key)
    print(
        f"{file}: {check.count} events of '{check.org or '?'}' up to log position {check.store_position}, "
        f"last hash {check.last_hash}"
    )
    if check.signature_checked:
        print("checked the hash chain and the signature (with the data dir's key)")
    else:
        print(f"checked the hash chain only, not the signature ({why_not}): it shows consistency, not origin")
    if check.ok:
        print("OK")
        return 0
    print(f"FAILED: {check.problem_count} problem(s)")
    for problem in check.problems:
        print(f"  - {problem}")
    if check.problem_count > len(check.problems):
        print(f"  ... and {check.problem_count - len(check.problems)} more")
    return 1


def readable_export_key(settings: Settings) -> tuple[bytes | None, str]:
    """The export signing key if the secret key can be read (never creates one), else None and why not."""
    from adapters.secret_box import AesSecretBox

    key_file = settings.data_dir / "secret-key"
    if not settings.secret_key and not key_file.exists():
        return None, f"no secret key: neither OCPPLAB_SECRET_KEY nor {key_file}"
    try:
        return AesSecretBox.for_settings(settings).export_key(), ""
    except (OSError, ValueError) as error:
        return None, f"cannot read the secret key: {error}"


async def replay(settings: Settings) -> int:
    """Rebuilds the views from zero with a progress bar and reports the rate."""
    from tqdm import tqdm

    from adapters.bootstrap import build_gateway
    from adapters.store.views import Views

    gateway = build_gateway(settings)
    views = Views(settings.views_path, gateway, batch_size=2000)
    await views.open()
    try:
        with tqdm(total=gateway.position(), unit="ev", desc="replay", file=sys.stderr) as bar:
            applied, seconds = await views.rebuild(lambda position, end: bar.update(position - bar.n))
    finally:
        await views.close()
        gateway.close()
    rate = applied / seconds if seconds > 0 else 0.0
    print(f"replayed {applied} events in {seconds:.2f} s ({rate:,.0f} events/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
