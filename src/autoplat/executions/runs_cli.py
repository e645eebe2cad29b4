"""``autoplat runs list|show|stop``: a user's graph executions from the shell, on the database.

Invariant: these commands see only the runs of ``--user`` (default the local-mode user),
like the API; ``stop`` goes through the execution manager's one stop path, so a run held
by a server anywhere ends TERMINATED (SQLite: the server reads the flag with its next
lease renewal; PostgreSQL: a NOTIFY reaches it at once).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from autoplat.cli import (
    EXIT_FAILURE,
    Command,
    add_json_flag,
    add_user_flag,
    command_on,
    emit_fields,
    emit_json,
    emit_rows,
    offline_platform,
)
from autoplat.errors import ExecutionNotFound
from autoplat.executions.status import is_terminal
from autoplat.executions.views import node_view, run_view

if TYPE_CHECKING:
    from autoplat.platform import Platform

#: How long ``runs stop`` waits for the run to end before it reports what it sees.
STOP_WAIT_SECONDS = 10.0


def register(subparsers: Any) -> None:
    """Add ``runs list|show|stop`` to the ``autoplat`` parser."""
    from autoplat.cli import add_common

    runs = subparsers.add_parser(
        "runs",
        help="list, show and stop graph executions",
        description="A user's graph executions (--user, default the local-mode user) "
        "straight in the database.",
    )
    sub = runs.add_subparsers(dest="runs_command", required=True, metavar="ACTION")

    p = sub.add_parser(
        "list", help="list runs, newest first", description="The user's runs, newest first."
    )
    add_common(p)
    add_user_flag(p)
    p.add_argument("--graph", metavar="ID", help="only the runs of this graph")
    p.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    add_json_flag(p)
    p.set_defaults(func=_command(_list))

    p = sub.add_parser(
        "show",
        help="show one run and its node executions",
        description="Run ID: status, times, inputs, outputs, error and one line per node "
        "execution; --json prints it as GET /api/graphs/{id}/executions/{exec_id} answers.",
    )
    add_common(p)
    p.add_argument("run_id", metavar="ID", help="the run (graph execution) id")
    add_user_flag(p)
    add_json_flag(p)
    p.set_defaults(func=_command(_show))

    p = sub.add_parser(
        "stop",
        help="stop a run",
        description="Ask run ID to stop wherever it runs, wait (up to "
        f"{STOP_WAIT_SECONDS:g} s) until it has ended and print it as JSON. A run that has "
        "ended already is printed as it is.",
    )
    add_common(p)
    p.add_argument("run_id", metavar="ID", help="the run (graph execution) id")
    add_user_flag(p)
    p.add_argument("--no-wait", action="store_true", help="return once the stop is requested")
    p.set_defaults(func=_command(_stop))


Action = Callable[["Platform", argparse.Namespace], Awaitable[int]]


def _command(action: Action) -> Command:
    return command_on(offline_platform, action)


def _summary(view: dict[str, Any]) -> dict[str, Any]:
    stats = view.get("stats") or {}
    return {**view, "walltime": stats.get("walltime"), "nodes": stats.get("node_count")}


async def _list(platform: Platform, args: argparse.Namespace) -> int:
    rows, _ = await platform.db.executions.list_runs(
        user_id=args.user, graph_id=args.graph, limit=max(1, args.limit)
    )
    views = [run_view(r) for r in rows]
    columns = ["id", "graph_id", "graph_version", "status", "created_at", "ended_at"]
    emit_rows(views, columns, as_json=args.json)
    return 0


async def _owned(platform: Platform, args: argparse.Namespace) -> Any:
    row = await platform.db.executions.get_run(args.run_id, user_id=args.user)
    if row is None:
        raise ExecutionNotFound(f"execution {args.run_id} not found")
    return row


async def _show(platform: Platform, args: argparse.Namespace) -> int:
    row = await _owned(platform, args)
    nodes = await platform.db.executions.get_nodes(row.id)
    if args.json:
        emit_json({**run_view(row), "node_executions": [node_view(row, n) for n in nodes]})
        return 0
    view = _summary(run_view(row))
    fields = ["id", "graph_id", "graph_version", "status", "created_at", "started_at"]
    fields += ["ended_at", "walltime", "inputs", "outputs", "error"]
    emit_fields(view, fields, as_json=False)
    print()
    lines = []
    for n in nodes:
        block = platform.blocks.get(n.block_id)
        lines.append(
            {
                "node_exec_id": n.id,
                "node_id": n.node_id,
                "block": block.name if block is not None else n.block_id,
                "status": n.status,
                "started_at": n.started_at,
                "ended_at": n.ended_at,
                "error": n.error,
            }
        )
    columns = ["node_exec_id", "node_id", "block", "status", "started_at", "ended_at", "error"]
    emit_rows(lines, columns, as_json=False)
    return 0


async def _stop(platform: Platform, args: argparse.Namespace) -> int:
    row = await _owned(platform, args)
    if not is_terminal(row.status):
        await platform.executions.stop_execution(row.id, user_id=args.user)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (0 if args.no_wait else STOP_WAIT_SECONDS)
        # The holder (a server, maybe elsewhere) ends it: watch the row, not an event bus.
        while not is_terminal(row.status) and loop.time() < deadline:
            await asyncio.sleep(0.1)
            row = await _owned(platform, args)
    emit_json(run_view(row))
    if is_terminal(row.status) or args.no_wait:
        return 0
    print(
        f"autoplat: run {row.id} is still {row.status} after {STOP_WAIT_SECONDS:g} s "
        "(the stop is recorded; its holder ends it when it hears of it)",
        file=sys.stderr,
    )
    return EXIT_FAILURE
