"""The ``autoplat`` command line: serve, migrate, version and the domain commands."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any

from autoplat import __version__
from autoplat.config import Settings, load_settings
from autoplat.errors import AutoplatError
from autoplat.logging import configure_logging, get_logger

log = get_logger("autoplat.cli")

#: Exit codes: 0 clean stop, 1 failure while running, 2 bad settings or usage, 3 no database.
EXIT_FAILURE, EXIT_CONFIG, EXIT_DATABASE = 1, 2, 3

Command = Callable[[argparse.Namespace], int]


def _settings_from(args: argparse.Namespace, **extra: Any) -> Settings:
    return load_settings(
        database_url=getattr(args, "database_url", None),
        log_level=getattr(args, "log_level", None),
        log_format=getattr(args, "log_format", None),
        **extra,
    )


def fail(message: str, code: int = EXIT_FAILURE) -> int:
    """Print one line to stderr and return the exit code."""
    print(f"autoplat: {message}", file=sys.stderr)
    return code


def exit_code_for(exc: AutoplatError) -> int:
    """The process exit code for an error that stopped a command."""
    if exc.code == "database_unavailable":
        return EXIT_DATABASE
    if exc.code == "config_error":
        return EXIT_CONFIG
    return EXIT_FAILURE


def run_async(settings: Settings, main: Callable[[Settings], Any]) -> int:
    """Run an async command body, turning our errors into one line and an exit code."""
    try:
        result = asyncio.run(main(settings))
    except AutoplatError as exc:
        return fail(exc.message, exit_code_for(exc))
    return int(result or 0)


# --- serve ------------------------------------------------------------------------------


async def serve(settings: Settings) -> int:
    """Run the platform until SIGINT or SIGTERM, then drain and stop."""
    from autoplat.accounts.local import check_bind_address, local_mode_notice
    from autoplat.platform import Platform

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    main_task = asyncio.current_task()

    def on_signal(signame: str) -> None:
        if stop.is_set():
            # A second signal means "now": abandon the drain.
            log.warning("serve.forced", signal=signame)
            if main_task is not None:
                main_task.cancel()
            return
        log.info("serve.signal", signal=signame)
        stop.set()

    check_bind_address(settings)
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig.name)
    try:
        async with Platform(settings) as platform:
            log.info("serve.ready", url=platform.url, database=platform.db.dialect)
            if not settings.auth_configured:
                await platform.auth.ensure_local_user()
                print(local_mode_notice(platform.url), file=sys.stderr, flush=True)
            # Until a signal, or a critical loop that cannot recover (then exit non-zero).
            fatal = asyncio.ensure_future(platform.fatal.wait())
            signalled = asyncio.ensure_future(stop.wait())
            await asyncio.wait([fatal, signalled], return_when=asyncio.FIRST_COMPLETED)
            fatal.cancel()
            signalled.cancel()
            if platform.fatal.is_set():
                log.critical("serve.fatal", reason=platform.fatal_reason)
                code = EXIT_FAILURE
            else:
                code = 0
    except AutoplatError:
        raise
    except asyncio.CancelledError:
        return EXIT_FAILURE
    except Exception:
        log.exception("serve.crashed")
        return EXIT_FAILURE
    return code


def cmd_serve(args: argparse.Namespace) -> int:
    """``autoplat serve``."""
    try:
        settings = _settings_from(args, host=args.host, port=args.port)
    except AutoplatError as exc:
        return fail(exc.message, EXIT_CONFIG)
    configure_logging(settings)
    return run_async(settings, serve)


# --- migrate ----------------------------------------------------------------------------


async def migrate(settings: Settings, revision: str = "head", down: bool = False) -> int:
    """Bring the database schema to ``revision``."""
    from autoplat.db import migrate as migrations
    from autoplat.db.manager import DatabaseManager

    db = DatabaseManager(settings)
    await db.connect()
    try:
        if down:
            await migrations.downgrade(db.engine, revision)
        else:
            await migrations.upgrade(db.engine, revision)
        current = await migrations.current_revision(db.engine)
    finally:
        await db.disconnect()
    log.info("db.migrated", revision=current)
    print(f"database at revision {current or 'base'}")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    """``autoplat migrate``."""
    try:
        settings = _settings_from(args)
    except AutoplatError as exc:
        return fail(exc.message, EXIT_CONFIG)
    configure_logging(settings)
    target = args.downgrade or args.revision
    return run_async(settings, lambda s: migrate(s, target, down=bool(args.downgrade)))


def cmd_version(args: argparse.Namespace) -> int:
    """``autoplat version``."""
    print(f"autoplat {__version__}")
    return 0


# --- parser -----------------------------------------------------------------------------


def add_common(parser: argparse.ArgumentParser) -> None:
    """Flags every command that touches the database accepts."""
    parser.add_argument(
        "--database-url",
        help="SQLAlchemy URL (default: $AUTOPLAT_DATABASE_URL, else SQLite in the data dir)",
    )
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    parser.add_argument("--log-format", choices=["auto", "console", "json"])


def build_parser() -> argparse.ArgumentParser:
    """The full command-line parser."""
    parser = argparse.ArgumentParser(
        prog="autoplat",
        description="Build and run AI agents as graphs of blocks. Settings come from "
        "AUTOPLAT_* environment variables; flags override them.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "serve",
        help="run the platform (API, executor, scheduler) until SIGINT/SIGTERM",
        description="Run the whole platform in this process. SIGINT or SIGTERM drains "
        "running work (up to AUTOPLAT_DRAIN_TIMEOUT seconds) and exits 0; a second signal "
        "stops at once. The database must be migrated (`autoplat migrate`). Without "
        "AUTOPLAT_JWT_SECRET or AUTOPLAT_JWT_PUBLIC_KEY it runs in local mode: loopback "
        "only, requests without credentials act as the user 'local' (make an API key for "
        "scripts with `autoplat apikey create`).",
    )
    add_common(p)
    p.add_argument("--host", help="bind address (default 127.0.0.1, $AUTOPLAT_HOST)")
    p.add_argument("--port", type=int, help="HTTP port (default 8006, $AUTOPLAT_PORT)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser(
        "migrate",
        help="apply database migrations",
        description="Upgrade the database schema to the newest revision (or --revision); "
        "--downgrade REV goes back to REV ('base' empties the database).",
    )
    add_common(p)
    p.add_argument("--revision", default="head", help="target revision (default: head)")
    p.add_argument("--downgrade", metavar="REV", help="downgrade to REV instead")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("version", help="print the version", description="Print the version.")
    p.set_defaults(func=cmd_version)

    for register in command_modules():
        register(sub)
    return parser


def command_modules() -> list[Callable[[Any], None]]:
    """Domain command registrars (users, apikey, graphs, run, credits, ...)."""
    from autoplat.accounts import cli as accounts_cli
    from autoplat.credits import cli as credits_cli
    from autoplat.executions import cli as executions_cli
    from autoplat.graphs import cli as graphs_cli
    from autoplat.integrations import cli as integrations_cli
    from autoplat.scheduler import cli as scheduler_cli

    return [
        accounts_cli.register,
        graphs_cli.register,
        executions_cli.register,
        credits_cli.register,
        scheduler_cli.register,
        integrations_cli.register,
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    args = build_parser().parse_args(argv)
    func: Command = args.func
    return func(args)


if __name__ == "__main__":
    raise SystemExit(main())
