"""The ``autoplat`` command line: serve, migrate, backup, restore, version and the domain
commands.

Invariants: an admin command prints only its answer on stdout (logs go to stderr, at
``warning`` unless ``--log-level`` says otherwise); list commands print a table, or one
JSON object per line with ``--json``; an error is one ``autoplat: ...`` line on stderr
(validation errors add their details, indented) and the exit code documented below.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from autoplat import __version__
from autoplat.config import ROLES, Settings, load_settings
from autoplat.errors import AutoplatError, ConfigError, DatabaseUnavailable
from autoplat.logging import configure_logging, get_logger

if TYPE_CHECKING:
    from autoplat.platform import Platform

log = get_logger("autoplat.cli")

#: Exit codes: 0 clean stop, 1 failure while running, 2 bad settings or usage, 3 no database.
EXIT_FAILURE, EXIT_CONFIG, EXIT_DATABASE = 1, 2, 3
#: Interrupted by Ctrl-C (the shell's convention, 128 + SIGINT).
EXIT_INTERRUPTED = 130
#: The reader of stdout went away (``autoplat runs list | head``): 128 + SIGPIPE, what a
#: tool that the signal ends exits with.
EXIT_STDOUT_CLOSED = 141
#: Where admin commands log unless ``--log-level`` says otherwise: their output is the point.
ADMIN_LOG_LEVEL = "warning"

Command = Callable[[argparse.Namespace], int]
Body = Callable[[Settings], Coroutine[Any, Any, int | None]]
#: What an admin command works on (a database, a service, the offline platform).
R = TypeVar("R")


def _settings_from(args: argparse.Namespace, **extra: Any) -> Settings:
    return load_settings(
        database_url=getattr(args, "database_url", None),
        log_level=getattr(args, "log_level", None),
        log_format=getattr(args, "log_format", None),
        **extra,
    )


def admin_settings(args: argparse.Namespace, **extra: Any) -> Settings:
    """Settings of an admin command: as configured, but logging at warning by default."""
    return load_settings(
        database_url=getattr(args, "database_url", None),
        log_level=getattr(args, "log_level", None) or ADMIN_LOG_LEVEL,
        log_format=getattr(args, "log_format", None),
        **extra,
    )


def fail(message: str, code: int = EXIT_FAILURE) -> int:
    """Print one line to stderr and return the exit code."""
    print(f"autoplat: {message}", file=sys.stderr)
    return code


def exit_code_for(exc: AutoplatError) -> int:
    """The process exit code for an error that stopped a command."""
    if isinstance(exc, DatabaseUnavailable) or exc.code == "database_unavailable":
        return EXIT_DATABASE
    if isinstance(exc, ConfigError) or exc.code == "config_error":
        return EXIT_CONFIG
    return EXIT_FAILURE


def report(exc: AutoplatError) -> int:
    """Print an error (one line, then its details indented); return its exit code."""
    print(f"autoplat: {exc.message}", file=sys.stderr)
    # Details name where (the node, the pin) when the one line cannot say it all.
    details = [d for d in exc.details if d.get("message")]
    if len(details) == 1 and str(details[0]["message"]) in exc.message:
        details = []
    # A line that already names every field and says what is wrong with it needs no more.
    if all(f"{d.get('field')}: {d['message']}" in exc.message for d in details):
        details = []
    for detail in details:
        where = [
            f"{key} {detail[key]}"
            for key in ("field", "node_id", "block_id", "pin")
            if detail.get(key) is not None
        ]
        text = f"{', '.join(where)}: {detail.get('message', '')}" if where else str(detail)
        print(f"  {text}", file=sys.stderr)
    return exit_code_for(exc)


def run_async(settings: Settings, main: Body) -> int:
    """Run an async command body, turning every error into one line and an exit code."""
    from sqlalchemy.exc import DBAPIError, SQLAlchemyError

    from autoplat.db.manager import describe_db_error

    try:
        result: int | None = asyncio.run(main(settings))
    except AutoplatError as exc:
        return report(exc)
    except KeyboardInterrupt:
        return fail("interrupted", EXIT_INTERRUPTED)
    except (DBAPIError, SQLAlchemyError) as exc:
        # The database went away (or refused a statement) half-way through a command.
        log.debug("cli.database_error", exc_info=True)
        unreachable = isinstance(exc, DBAPIError) and exc.connection_invalidated
        code = EXIT_DATABASE if unreachable or _is_disconnect(exc) else EXIT_FAILURE
        return fail(f"database error: {describe_db_error(exc)}", code)
    except BrokenPipeError:
        raise  # not an error of the command: main() ends it quietly
    except Exception as exc:
        # A bug: still one line by default; the traceback with --log-level debug.
        log.debug("cli.crashed", exc_info=True)
        return fail(f"unexpected error: {type(exc).__name__}: {exc} (--log-level debug)")
    return int(result or 0)


def _is_disconnect(exc: Exception) -> bool:
    from sqlalchemy.exc import InterfaceError, OperationalError

    return isinstance(exc, InterfaceError | OperationalError)


def run_command(args: argparse.Namespace, body: Body, **extra: Any) -> int:
    """Run an admin command's body: quiet settings, logging, one-line errors."""
    try:
        settings = admin_settings(args, **extra)
    except AutoplatError as exc:
        return fail(exc.message, EXIT_CONFIG)
    configure_logging(settings)
    return run_async(settings, body)


@asynccontextmanager
async def offline_platform(settings: Settings) -> AsyncIterator[Platform]:
    """The platform's services on a connected, current database, with nothing started.

    For admin commands that need a service rather than a store (stop a run, pause a
    schedule): no worker, no scheduler loop, no HTTP server run here. Their changes reach
    running servers through the database (and NOTIFY on PostgreSQL).
    """
    from autoplat.db.migrate import ensure_current
    from autoplat.platform import Platform

    platform = Platform(settings, serve_http=False)
    await platform.db.connect()
    try:
        await ensure_current(platform.db.engine)
        yield platform
    finally:
        await platform.outbound.aclose()
        await platform.credentials.aclose()
        await platform.db.disconnect()


def command_on(
    opener: Callable[[Settings], AbstractAsyncContextManager[R]],
    action: Callable[[R, argparse.Namespace], Awaitable[int]],
) -> Command:
    """The handler of an admin command that runs ``action`` on what ``opener`` opens.

    ``opener`` is given the command's settings and closes what it opened however the
    action ends; settings, logging and errors are :func:`run_command`'s.
    """

    def run(args: argparse.Namespace) -> int:
        async def body(settings: Settings) -> int:
            async with opener(settings) as resource:
                return await action(resource, args)

        return run_command(args, body)

    return run


# --- output -----------------------------------------------------------------------------


def add_user_flag(parser: argparse.ArgumentParser) -> None:
    """``--user``: whose rows a command reads or changes (default: the local-mode user)."""
    from autoplat.accounts.auth import LOCAL_USER_ID

    parser.add_argument(
        "--user",
        default=LOCAL_USER_ID,
        help=f"the owning user id (default: {LOCAL_USER_ID!r}, the local-mode user)",
    )


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    """``--json``: one JSON object per line instead of a table."""
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object per line instead of a table"
    )


def _cell(value: Any, width: int = 60) -> str:
    if value is None:
        text = "-"
    elif isinstance(value, datetime):
        text = value.strftime("%Y-%m-%d %H:%M:%S")
    elif isinstance(value, str) and len(value) >= 19 and value[10:11] == "T":
        text = value[:19].replace("T", " ")  # an ISO timestamp: to the second, no zone
    elif isinstance(value, dict | list):
        text = json.dumps(value, separators=(",", ":"), default=str)
    else:
        text = str(value)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _json_default(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def emit_json(item: Mapping[str, Any]) -> None:
    """One JSON object on one line of stdout."""
    print(json.dumps(dict(item), default=_json_default, ensure_ascii=False))


def emit_rows(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], *, as_json: bool) -> None:
    """A list command's answer: a table of ``columns``, or JSON lines of whole rows."""
    if as_json:
        for row in rows:
            emit_json(row)
        return
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    header = [c.upper() for c in columns]
    for line in [header, *cells]:
        print("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())


def emit_fields(item: Mapping[str, Any], fields: Sequence[str], *, as_json: bool) -> None:
    """A show command's answer: ``field: value`` lines, or the whole object as JSON."""
    if as_json:
        emit_json(item)
        return
    width = max(len(f) for f in fields)
    for field in fields:
        print(f"{field + ':':<{width + 1}} {_cell(item.get(field), 200)}")


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
            log.info(
                "serve.ready",
                url=platform.url,
                database=platform.db.dialect,
                roles=sorted(platform.roles),
            )
            if not settings.auth_configured and "api" in platform.roles:
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
    roles = ",".join(args.role) if args.role else None
    try:
        settings = _settings_from(args, host=args.host, port=args.port, roles=roles)
    except AutoplatError as exc:
        return fail(exc.message, EXIT_CONFIG)
    configure_logging(settings)
    return run_async(settings, serve)


# --- migrate ----------------------------------------------------------------------------


async def migrate(settings: Settings, revision: str = "head", down: bool = False) -> int:
    """Bring the database schema to ``revision``."""
    from alembic.util import CommandError

    from autoplat.db import migrate as migrations
    from autoplat.db.manager import DatabaseManager

    db = DatabaseManager(settings)
    await db.connect()
    try:
        if down:
            await migrations.downgrade(db.engine, revision)
        elif revision == "head":
            await migrations.migrate_to_head(db.engine)
        else:
            await migrations.upgrade(db.engine, revision)
        current = await migrations.current_revision(db.engine)
    except CommandError as exc:
        # Alembic's refusals (an unknown or ambiguous revision) are bad usage, not bugs.
        raise ConfigError(f"cannot migrate to {revision!r}: {exc}") from None
    finally:
        await db.disconnect()
    print(f"database at revision {current or 'base'}")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    """``autoplat migrate``."""
    target = args.downgrade or args.revision
    return run_command(args, lambda s: migrate(s, target, down=bool(args.downgrade)))


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
    parser.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        help="log level on stderr (admin commands: warning unless given)",
    )
    parser.add_argument("--log-format", choices=["auto", "console", "json"])


def build_parser() -> argparse.ArgumentParser:
    """The full command-line parser."""
    parser = argparse.ArgumentParser(
        prog="autoplat",
        description="Build and run AI agents as graphs of blocks. Settings come from "
        "AUTOPLAT_* environment variables; flags override them. Exit codes: 0 success, "
        "1 failure, 2 bad settings or usage, 3 database unreachable.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "serve",
        help="run the platform (API, executor, scheduler) until SIGINT/SIGTERM",
        description="Run the platform in this process. SIGINT or SIGTERM drains "
        "running work (up to AUTOPLAT_DRAIN_TIMEOUT seconds) and exits 0; a second signal "
        "stops at once. An empty or older database is migrated first (unless "
        "AUTOPLAT_MIGRATE_ON_START=false); one newer than this autoplat is refused. Without "
        "AUTOPLAT_JWT_SECRET or AUTOPLAT_JWT_PUBLIC_KEY it runs in local mode: loopback "
        "only, requests without credentials act as the user 'local' (make an API key for "
        "scripts with `autoplat apikey create`).",
    )
    add_common(p)
    p.add_argument("--host", help="bind address (default 127.0.0.1, $AUTOPLAT_HOST)")
    p.add_argument("--port", type=int, help="HTTP port (default 8006, $AUTOPLAT_PORT)")
    p.add_argument(
        "--role",
        action="append",
        choices=["all", *ROLES],
        help="what this process does (repeatable; default all, $AUTOPLAT_ROLES): api serves "
        "REST, /ws and the web app and submits runs; worker runs executions; scheduler fires "
        "schedules and system jobs. Every role serves /health, /ready and /metrics. Roles "
        "apart need PostgreSQL.",
    )
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser(
        "migrate",
        help="apply database migrations",
        description="Upgrade the database schema to the newest revision (or --revision); "
        "--downgrade REV goes back to REV ('base' empties the database). `autoplat serve` "
        "does the upgrade itself unless AUTOPLAT_MIGRATE_ON_START=false.",
    )
    add_common(p)
    target = p.add_mutually_exclusive_group()
    target.add_argument("--revision", default="head", help="target revision (default: head)")
    target.add_argument("--downgrade", metavar="REV", help="downgrade to REV instead")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("version", help="print the version", description="Print the version.")
    p.set_defaults(func=cmd_version)

    for register in command_modules():
        register(sub)
    return parser


def command_modules() -> list[Callable[[Any], None]]:
    """Domain command registrars (users, apikey, graphs, run, runs, credits, ...)."""
    from autoplat.accounts import cli as accounts_cli
    from autoplat.credits import cli as credits_cli
    from autoplat.db import backup as backup_cli
    from autoplat.executions import cli as executions_cli
    from autoplat.executions import runs_cli
    from autoplat.graphs import cli as graphs_cli
    from autoplat.integrations import cli as integrations_cli
    from autoplat.scheduler import cli as scheduler_cli

    return [
        accounts_cli.register,
        graphs_cli.register,
        executions_cli.register,
        runs_cli.register,
        scheduler_cli.register,
        credits_cli.register,
        integrations_cli.register,
        backup_cli.register,
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    args = build_parser().parse_args(argv)
    func: Command = args.func
    try:
        code = func(args)
        # An answer small enough to sit in the buffer meets a closed pipe only here.
        sys.stdout.flush()
    except BrokenPipeError:
        return _stdout_closed()
    return code


def _stdout_closed() -> int:
    """End quietly once nobody reads stdout (``| head`` has what it wanted)."""
    # Point stdout at /dev/null: the interpreter's last flush then has nothing to fail on.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_STDOUT_CLOSED


if __name__ == "__main__":
    raise SystemExit(main())
