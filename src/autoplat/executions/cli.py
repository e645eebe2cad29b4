"""``autoplat run FILE_OR_ID --input name=value``: run a graph, show progress, print the
outputs.

With a server configured (``--server`` / ``$AUTOPLAT_SERVER_URL``, credentials from
``--api-key`` / ``$AUTOPLAT_API_KEY`` or ``--token`` / ``$AUTOPLAT_TOKEN``) it is a client of
that server: the file is imported with ``POST /api/graphs``, the run started with ``POST
/api/graphs/{id}/execute/{version}`` and followed on ``/ws`` (:mod:`.cli_remote`). Otherwise it
runs the graph in this process on the configured database, claiming only its own run and
firing no schedule, so that it is safe beside a server on the same database.

A file run before is not imported again: the graph each file's content (canonical JSON,
sha256) became is remembered per database or server in the user's cache
(``$XDG_CACHE_HOME/autoplat/imports.json``) and reused, at the version imported, as long
as it still exists for this user; ``--new`` imports a fresh copy.

Invariant: stdout gets exactly one JSON object, the outputs of the ended run; progress and
errors go to stderr. The exit code is 0 only for a COMPLETED run, 1 for any other end or a
refused request, 2 for bad usage or rejected credentials, 3 when the database (or the
server) cannot be reached.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from autoplat.accounts.auth import LOCAL_USER_ID
from autoplat.cli import EXIT_CONFIG, EXIT_DATABASE
from autoplat.config import Settings, load_settings
from autoplat.errors import AutoplatError, ValidationFailed
from autoplat.executions.cli_output import (
    RECHECK_SECONDS,
    ImportCache,
    Progress,
    progress,
    report,
)
from autoplat.executions.cli_remote import RequestRefused, ServerUnreachable, run_remote
from autoplat.executions.events import Lagged, SubscriberOverrun, Subscription
from autoplat.executions.status import is_terminal

if TYPE_CHECKING:
    from autoplat.platform import Platform

SERVER_ENV: Final = "AUTOPLAT_SERVER_URL"
API_KEY_ENV: Final = "AUTOPLAT_API_KEY"
TOKEN_ENV: Final = "AUTOPLAT_TOKEN"


def register(subparsers: Any) -> None:
    """Add ``run`` to the ``autoplat`` parser."""
    from autoplat.cli import add_common

    p = subparsers.add_parser(
        "run",
        help="run a graph (an agent JSON file or a stored graph id) and print its outputs",
        description="Run FILE_OR_ID: an AutoGPT agent JSON file is imported first (as a new "
        "graph); otherwise it names a stored graph. Inputs are given as --input name=value "
        "(the value is JSON when it parses, else text). Progress goes to stderr; the outputs "
        "are printed to stdout as JSON. With --server (or $AUTOPLAT_SERVER_URL) the run goes "
        "through that server's API as the user of --api-key or --token; otherwise it runs in "
        "this process on the configured database (as --user), claiming no other run and "
        "firing no schedule. Exit codes: 0 completed, 1 failed or terminated, 2 bad usage "
        "or credentials, 3 database or server unreachable.",
    )
    add_common(p)
    p.add_argument("target", metavar="FILE_OR_ID", help="agent JSON file, or a graph id")
    p.add_argument(
        "--input",
        "-i",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a graph input (repeatable)",
    )
    p.add_argument("--version", type=int, help="graph version (default: the active one)")
    p.add_argument("--user", help=f"user to run as, without --server (default: {LOCAL_USER_ID})")
    p.add_argument("--timeout", type=float, default=0, help="stop the run after N seconds")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress lines")
    p.add_argument(
        "--new",
        action="store_true",
        help="import FILE as a new graph even if the same content was imported before",
    )
    p.add_argument(
        "--server",
        default=os.environ.get(SERVER_ENV) or None,
        metavar="URL",
        help=f"run through the autoplat server at URL (default: ${SERVER_ENV})",
    )
    p.add_argument(
        "--api-key",
        default=os.environ.get(API_KEY_ENV) or None,
        help=f"API key for --server, sent as X-API-Key (default: ${API_KEY_ENV})",
    )
    p.add_argument(
        "--token",
        default=os.environ.get(TOKEN_ENV) or None,
        help=f"bearer token (JWT) for --server (default: ${TOKEN_ENV})",
    )
    p.set_defaults(func=cmd_run)


def parse_inputs(pairs: list[str]) -> dict[str, Any]:
    """``["a=1", "b=x"]`` -> ``{"a": 1, "b": "x"}``; ValueError names a malformed pair."""
    inputs: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name:
            raise ValueError(f"--input {pair!r} must look like name=value")
        try:
            inputs[name] = json.loads(raw)
        except json.JSONDecodeError:
            inputs[name] = raw
    return inputs


def database_scope(settings: Settings) -> str:
    """The cache scope of a database (its URL, hashed: it may hold a password)."""
    url = settings.resolved_database_url
    if url.startswith("sqlite"):
        from sqlalchemy.engine import make_url

        database = make_url(url).database
        if database and database != ":memory:":
            url = f"sqlite:///{Path(database).resolve()}"
    return "db:" + hashlib.sha256(url.encode()).hexdigest()[:24]


def cmd_run(args: argparse.Namespace) -> int:
    """``autoplat run``."""
    from autoplat.cli import fail, run_async
    from autoplat.cli import report as report_error
    from autoplat.logging import configure_logging

    try:
        inputs = parse_inputs(args.input)
        document = load_graph_file(args.target)
        if args.server:
            _check_client_usage(args)
        else:
            settings = load_settings(
                database_url=args.database_url,
                log_level=args.log_level or os.environ.get("AUTOPLAT_LOG_LEVEL") or "warning",
                log_format=args.log_format,
                # This process runs its own run, whatever roles the servers' settings name.
                roles="all",
            )
    except AutoplatError as exc:
        return fail(exc.message, EXIT_CONFIG)
    except ValueError as exc:
        return fail(str(exc), EXIT_CONFIG)
    if args.server:
        try:
            return asyncio.run(run_remote(args, inputs, document))
        except RequestRefused as exc:
            # The server's one line, then only the details that add to it, as locally.
            report_error(exc)
            return EXIT_CONFIG if exc.http_status in (401, 403) else 1
        except ServerUnreachable as exc:
            return fail(exc.message, EXIT_DATABASE)
    configure_logging(settings)

    async def main(s: Settings) -> int:
        return await run_graph(s, args, inputs, document)

    return run_async(settings, main)


def _check_client_usage(args: argparse.Namespace) -> None:
    if not args.server.startswith(("http://", "https://")):
        raise ValueError(f"--server {args.server!r} must be an http:// or https:// URL")
    if args.user is not None:
        raise ValueError("--user is for local runs; with --server the credentials name the user")
    if args.database_url is not None:
        raise ValueError("--database-url is for local runs; --server runs on the server's")


def load_graph_file(target: str) -> Any | None:
    """The JSON document of ``target`` when it is a file (or ends in .json), else None."""
    path = Path(target)
    if not (path.suffix.lower() == ".json" or path.is_file()):
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValidationFailed(f"cannot read {path}: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValidationFailed(f"{path} is not valid JSON: {exc}") from None


# --- local: this process runs its own run -----------------------------------------------


async def run_graph(
    settings: Settings, args: argparse.Namespace, inputs: dict[str, Any], document: Any | None
) -> int:
    """Import or find the graph, run it here, report; the exit code."""
    from autoplat.platform import Platform

    user_id = args.user or LOCAL_USER_ID
    # own_runs_only: beside a server on the same database this process must neither take
    # other users' queued runs nor fire schedules.
    async with Platform(settings, serve_http=False, own_runs_only=True) as platform:
        await platform.db.users.ensure(user_id)
        graph_id, version = await _resolve(platform, args, user_id, document)
        show = Progress(args.quiet, lambda: platform.blocks)
        # Subscribed before the submit so that no event of the run can be missed; by graph,
        # so that other runs of the user do not crowd the queue.
        with platform.executions.bus.subscribe(user_id=user_id, graph_id=graph_id) as sub:
            # A refusal reaches run_async, which prints it (and the details that add to it).
            run_id = await platform.executions.submit(
                user_id=user_id, graph_id=graph_id, graph_version=version, inputs=inputs
            )
            show.line(f"run {run_id} queued")
            final = await LocalFollower(platform, sub, run_id, user_id, show).follow(args.timeout)
    return report(final)


async def _resolve(
    platform: Platform, args: argparse.Namespace, user_id: str, document: Any | None
) -> tuple[str, int | None]:
    if document is None:
        return args.target, args.version
    from autoplat.graphs.service import GraphService

    cache, digest = ImportCache(), ImportCache.digest(document)
    scope = f"{database_scope(platform.settings)} {user_id}"
    known = [] if getattr(args, "new", False) else cache.lookup(scope, digest)
    for graph_id, version in known:
        if await platform.db.graphs.get(graph_id, version, user_id=user_id) is not None:
            progress(f"{args.target}: graph {graph_id} v{version} (imported before)", args.quiet)
            cache.remember(scope, digest, [(graph_id, version)])
            return graph_id, version
    graph = await GraphService(platform.db.graphs, platform.blocks).create(user_id, document)
    progress(f"imported {args.target} as graph {graph.id} v{graph.version}", args.quiet)
    cache.remember(scope, digest, [(graph.id, graph.version)])
    return graph.id, graph.version


class LocalFollower:
    """Follows one run on the in-process event bus until it ends."""

    def __init__(
        self, platform: Platform, sub: Subscription, run_id: str, user_id: str, show: Progress
    ) -> None:
        self.platform = platform
        self.sub = sub
        self.run_id = run_id
        self.user_id = user_id
        self.show = show

    async def follow(self, timeout: float) -> dict[str, Any]:
        """The run's final ``run_view`` data; stops the run after ``timeout`` s (0: never)."""
        try:
            return await self._follow(timeout)
        finally:
            self.sub.close()  # a replacement subscription (below) is this object's to close

    async def _follow(self, timeout: float) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout if timeout > 0 else None
        while True:
            wait = RECHECK_SECONDS
            if deadline is not None:
                wait = max(0.01, min(wait, deadline - loop.time()))
            try:
                item = await self.sub.get(timeout=wait)
            except TimeoutError:
                if deadline is not None and loop.time() >= deadline:
                    self.show.line(f"timed out after {timeout:g} s: stopping")
                    await self.platform.executions.stop_execution(self.run_id, user_id=self.user_id)
                    deadline = None
                if (ended := await self._ended()) is not None:
                    return ended
                continue
            except SubscriberOverrun:
                # Too far behind to be told which runs lost events: follow this run alone.
                self.sub = self.platform.executions.bus.subscribe(graph_exec_id=self.run_id)
                item = Lagged((self.run_id,), 0)
            if isinstance(item, Lagged):
                if self.run_id in item.graph_exec_ids:
                    self.show.line("  (fell behind the run's events; reading its state)")
                    if (ended := await self._ended()) is not None:
                        return ended
                continue
            if item.graph_exec_id != self.run_id:
                continue
            self.show.event(item.kind, item.data)
            if item.ends_run:
                return item.data

    async def _ended(self) -> dict[str, Any] | None:
        from autoplat.executions.views import run_view

        row = await self.platform.db.executions.get_run(self.run_id)
        if row is None or not is_terminal(row.status):
            return None
        data = run_view(row)
        self.show.event("graph", data)
        return data


# --- client: a running server runs it ---------------------------------------------------
