"""``autoplat graphs import|export|list|show|delete``: the REST graph routes, from the shell,
straight against the database.

Invariant: every action acts for one user (``--user``, default the local-mode user) and
sees only that user's graphs, like the API; output is the answer alone (a table, JSON
with ``--json``), errors one line (plus the per-node details of a refused import).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
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
)
from autoplat.config import Settings
from autoplat.errors import ValidationFailed

if TYPE_CHECKING:
    from autoplat.graphs.service import GraphService


def register(subparsers: Any) -> None:
    """Add ``graphs import|export|list|show|delete`` to the ``autoplat`` parser."""
    from autoplat.cli import add_common

    graphs = subparsers.add_parser(
        "graphs",
        help="import, export, list, show and delete graphs",
        description="Graphs of one user (--user, default the local-mode user) straight in "
        "the database: import AutoGPT agent exports, export graphs in that format, list, "
        "show and delete them.",
    )
    sub = graphs.add_subparsers(dest="graphs_command", required=True, metavar="ACTION")

    p = sub.add_parser(
        "import",
        help="import an AutoGPT agent export as a new graph",
        description="Import FILE ('-' for stdin): ids are reassigned, embedded sub-graphs "
        "become graphs of their own. A graph using blocks this platform lacks is refused "
        "with the list of those blocks and their nodes. Prints the new graph's id; "
        "`autoplat run FILE` then runs that graph rather than importing FILE again.",
    )
    add_common(p)
    p.add_argument("file", metavar="FILE", help="the agent JSON file, or - for stdin")
    add_user_flag(p)
    p.set_defaults(func=cmd_import)

    p = sub.add_parser(
        "export",
        help="export a graph as AutoGPT agent JSON",
        description="Write graph ID (its active version, or --version) in AutoGPT's export "
        "format, sub-graphs included and secrets stripped, to stdout or --output.",
    )
    add_common(p)
    p.add_argument("graph_id", metavar="ID", help="the graph id")
    p.add_argument("--version", type=int, help="the version (default: the active one)")
    p.add_argument("--output", "-o", help="write to this file instead of stdout")
    add_user_flag(p)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser(
        "list",
        help="list the user's graphs",
        description="The active version of each of the user's graphs, newest first.",
    )
    add_common(p)
    add_user_flag(p)
    add_json_flag(p)
    p.set_defaults(func=_command(_list))

    p = sub.add_parser(
        "show",
        help="show one graph",
        description="Graph ID (its active version, or --version): name, versions, nodes, "
        "inputs and outputs; --json prints it as GET /api/graphs/{id} answers.",
    )
    add_common(p)
    p.add_argument("graph_id", metavar="ID", help="the graph id")
    p.add_argument("--version", type=int, help="the version (default: the active one)")
    add_user_flag(p)
    add_json_flag(p)
    p.set_defaults(func=_command(_show))

    p = sub.add_parser(
        "delete",
        help="delete a graph",
        description="Delete every version of graph ID, its library entry and its schedules "
        "(its past runs stay). Prints what was deleted as JSON.",
    )
    add_common(p)
    p.add_argument("graph_id", metavar="ID", help="the graph id")
    add_user_flag(p)
    p.set_defaults(func=_command(_delete))


@asynccontextmanager
async def _graph_service(settings: Settings) -> AsyncIterator[GraphService]:
    """A GraphService on a connected, migrated database (no executor, no HTTP server)."""
    from autoplat.blocks.registry import BlockRegistry
    from autoplat.db.manager import connected_database
    from autoplat.graphs.service import GraphService

    async with connected_database(settings) as db:
        yield GraphService(db.graphs, BlockRegistry.builtin())


Action = Callable[["GraphService", argparse.Namespace], Awaitable[int]]


def _command(action: Action) -> Command:
    return command_on(_graph_service, action)


def _read_document(file: str) -> Any:
    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationFailed(f"cannot read {file}: {exc}") from None
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise ValidationFailed(f"{file} is not valid JSON: {exc}") from None
    # PostgreSQL cannot store NUL characters; refuse them here like the REST API does.
    if "\x00" in text or "\\u0000" in text:
        raise ValidationFailed(f"{file} contains a NUL character (\\u0000), which cannot be stored")
    return data


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


async def _import(service: GraphService, args: argparse.Namespace, scope: str) -> int:
    from autoplat.executions.cli_output import ImportCache

    data = _read_document(args.file)
    await service.store.db.users.ensure(args.user)
    graph = await service.create(args.user, data)
    # Remembered as `autoplat run FILE` remembers its imports, so that the README's
    # `graphs import FILE` then `run FILE` makes one graph, not two of the same content.
    cache, digest = ImportCache(), ImportCache.digest(data)
    scope = f"{scope} {args.user}"
    cache.remember(scope, digest, [(graph.id, graph.version), *cache.lookup(scope, digest)])
    print(json.dumps({"id": graph.id, "version": graph.version, "name": graph.name}))
    return 0


async def _export(service: GraphService, args: argparse.Namespace) -> int:
    exported = await service.export(args.user, args.graph_id, args.version)
    text = json.dumps(exported, indent=2, ensure_ascii=False) + "\n"
    try:
        if args.output:
            await asyncio.to_thread(Path(args.output).write_text, text, encoding="utf-8")
        else:
            sys.stdout.write(text)
    except OSError as exc:
        print(f"autoplat: cannot write {args.output}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    return 0


async def _list(service: GraphService, args: argparse.Namespace) -> int:
    rows: list[dict[str, Any]] = []
    offset = 0
    while True:
        graphs, total = await service.store.list_graphs(user_id=args.user, offset=offset, limit=200)
        rows += [service.meta(g) for g in graphs]
        offset += len(graphs)
        if not graphs or offset >= total:
            break
    emit_rows(rows, ["id", "version", "name", "node_count", "created_at"], as_json=args.json)
    return 0


def _pin_names(schema: Any) -> list[str]:
    properties = schema.get("properties") if isinstance(schema, dict) else None
    return sorted(properties) if isinstance(properties, dict) else []


async def _show(service: GraphService, args: argparse.Namespace) -> int:
    graph = await service.get(args.user, args.graph_id, args.version)
    view = service.view(graph)
    if args.json:
        emit_json(view)
        return 0
    versions = await service.store.count_versions(graph.id, user_id=args.user)
    summary = {
        **view,
        "versions": versions,
        "nodes": len(graph.nodes),
        "links": len(graph.links),
        "inputs": ", ".join(_pin_names(view.get("input_schema"))) or None,
        "outputs": ", ".join(_pin_names(view.get("output_schema"))) or None,
    }
    fields = ["id", "name", "version", "is_active", "versions", "nodes", "links", "inputs"]
    fields += ["outputs", "created_at", "description"]
    emit_fields(summary, fields, as_json=False)
    return 0


async def _delete(service: GraphService, args: argparse.Namespace) -> int:
    removed = await service.delete(args.user, args.graph_id)
    print(json.dumps({"deleted": True, "id": args.graph_id, "versions": removed}))
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    """``autoplat graphs import FILE``."""
    from autoplat.cli import run_command
    from autoplat.executions.cli import database_scope

    async def body(settings: Settings) -> int:
        async with _graph_service(settings) as service:
            return await _import(service, args, database_scope(settings))

    return run_command(args, body)


def cmd_export(args: argparse.Namespace) -> int:
    """``autoplat graphs export ID``."""
    return _command(_export)(args)
