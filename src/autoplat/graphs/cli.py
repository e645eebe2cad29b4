"""``autoplat graphs import FILE`` and ``autoplat graphs export ID``: the REST import and
export, from the shell, straight against the database."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from autoplat.accounts.auth import LOCAL_USER_ID
from autoplat.cli import EXIT_FAILURE, exit_code_for
from autoplat.config import Settings, load_settings
from autoplat.errors import AutoplatError, ValidationFailed


def register(subparsers: Any) -> None:
    """Add ``graphs import`` and ``graphs export`` to the ``autoplat`` parser."""
    from autoplat.cli import add_common

    graphs = subparsers.add_parser(
        "graphs",
        help="import and export graphs (AutoGPT agent JSON)",
        description="Import AutoGPT agent exports as graphs, and export graphs in that format.",
    )
    sub = graphs.add_subparsers(dest="graphs_command", required=True, metavar="ACTION")

    p = sub.add_parser(
        "import",
        help="import an AutoGPT agent export as a new graph",
        description="Import FILE ('-' for stdin): ids are reassigned, embedded sub-graphs "
        "become graphs of their own. A graph using blocks this platform lacks is refused "
        "with the list of those blocks and their nodes. Prints the new graph's id.",
    )
    add_common(p)
    p.add_argument("file", metavar="FILE", help="the agent JSON file, or - for stdin")
    _add_user(p)
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
    _add_user(p)
    p.set_defaults(func=cmd_export)


def _add_user(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--user",
        default=LOCAL_USER_ID,
        help=f"the owning user id (default: {LOCAL_USER_ID!r}, the local-mode user)",
    )


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(
        database_url=args.database_url,
        # Quiet by default: the command's output is the point, not the platform's logs.
        log_level=args.log_level or os.environ.get("AUTOPLAT_LOG_LEVEL") or "warning",
        log_format=args.log_format,
    )


@asynccontextmanager
async def _graph_service(settings: Settings) -> AsyncIterator[Any]:
    """A GraphService on a connected, migrated database (no executor, no HTTP server)."""
    from autoplat.blocks.registry import BlockRegistry
    from autoplat.db.manager import connected_database
    from autoplat.graphs.service import GraphService

    async with connected_database(settings) as db:
        yield GraphService(db.graphs, BlockRegistry.builtin())


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


def _describe(detail: dict[str, Any]) -> str:
    where = [
        f"{key} {detail[key]}"
        for key in ("field", "node_id", "block_id", "pin")
        if detail.get(key) is not None
    ]
    return f"  {', '.join(where)}: {detail.get('message', '')}" if where else f"  {detail}"


def _report(exc: AutoplatError) -> int:
    print(f"autoplat: {exc.message}", file=sys.stderr)
    for detail in exc.details:
        print(_describe(detail), file=sys.stderr)
    return exit_code_for(exc)


async def _import(settings: Settings, args: argparse.Namespace) -> int:
    data = _read_document(args.file)
    async with _graph_service(settings) as service:
        await service.store.db.users.ensure(args.user)
        graph = await service.create(args.user, data)
    print(json.dumps({"id": graph.id, "version": graph.version, "name": graph.name}))
    return 0


async def _export(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    async with _graph_service(settings) as service:
        exported: dict[str, Any] = await service.export(args.user, args.graph_id, args.version)
    return exported


def _run(args: argparse.Namespace, body: Any) -> Any:
    """Run a command body; our errors become a message (with details) and an exit code."""
    import asyncio

    from autoplat.logging import configure_logging

    try:
        settings = _settings(args)
        configure_logging(settings)
        return asyncio.run(body(settings, args))
    except AutoplatError as exc:
        return _report(exc)


def cmd_import(args: argparse.Namespace) -> int:
    """``autoplat graphs import FILE``."""
    code: int = _run(args, _import)
    return code


def cmd_export(args: argparse.Namespace) -> int:
    """``autoplat graphs export ID``."""
    result = _run(args, _export)
    if isinstance(result, int):
        return result
    text = json.dumps(result, indent=2, ensure_ascii=False) + "\n"
    try:
        if args.output:
            Path(args.output).write_text(text, encoding="utf-8")
        else:
            sys.stdout.write(text)
    except OSError as exc:
        print(f"autoplat: cannot write {args.output}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    return 0
