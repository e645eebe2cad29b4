"""``autoplat run FILE_OR_ID --input name=value``: run a graph here, show progress, print
the outputs.

The run goes through the durable queue like any other (a server on the same database may
pick it up too); this process runs workers until the run ends. Progress goes to stderr,
the outputs as one JSON object to stdout; the exit code is 0 only for a COMPLETED run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from autoplat.accounts.auth import LOCAL_USER_ID
from autoplat.cli import EXIT_CONFIG, EXIT_FAILURE
from autoplat.config import Settings, load_settings
from autoplat.errors import AutoplatError, ValidationFailed
from autoplat.executions.events import ExecutionEvent


def register(subparsers: Any) -> None:
    """Add ``run`` to the ``autoplat`` parser."""
    from autoplat.cli import add_common

    p = subparsers.add_parser(
        "run",
        help="run a graph (an agent JSON file or a stored graph id) and print its outputs",
        description="Run FILE_OR_ID: an AutoGPT agent JSON file is imported first (as a new "
        "graph of --user); otherwise it names a stored graph. Inputs are given as "
        "--input name=value (the value is JSON when it parses, else text). Progress goes "
        "to stderr; the outputs are printed to stdout as JSON.",
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
    p.add_argument("--user", default=LOCAL_USER_ID, help="user to run as (default: local)")
    p.add_argument("--timeout", type=float, default=0, help="stop the run after N seconds")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress lines")
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


def cmd_run(args: argparse.Namespace) -> int:
    """``autoplat run``."""
    from autoplat.cli import fail, run_async
    from autoplat.logging import configure_logging

    try:
        inputs = parse_inputs(args.input)
        document = load_graph_file(args.target)
        settings = load_settings(
            database_url=args.database_url,
            log_level=args.log_level or os.environ.get("AUTOPLAT_LOG_LEVEL") or "warning",
            log_format=args.log_format,
        )
    except AutoplatError as exc:
        return fail(exc.message, EXIT_CONFIG)
    except ValueError as exc:
        return fail(str(exc), EXIT_CONFIG)
    configure_logging(settings)

    async def main(s: Settings) -> int:
        return await run_graph(s, args, inputs, document)

    return run_async(settings, main)


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


async def run_graph(
    settings: Settings, args: argparse.Namespace, inputs: dict[str, Any], document: Any | None
) -> int:
    """Import or find the graph, run it, report; the exit code."""
    import asyncio

    from autoplat.platform import Platform

    async with Platform(settings, serve_http=False) as platform:
        await platform.db.users.ensure(args.user)
        graph_id, version = await _resolve(platform, args, document)
        with platform.executions.bus.subscribe(user_id=args.user) as sub:
            try:
                run_id = await platform.executions.submit(
                    user_id=args.user, graph_id=graph_id, graph_version=version, inputs=inputs
                )
            except ValidationFailed as exc:
                for detail in exc.details:
                    print(f"  {detail.get('pin') or ''}: {detail.get('message')}", file=sys.stderr)
                raise
            _progress(f"run {run_id} queued", args.quiet)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + args.timeout if args.timeout > 0 else None
            while True:
                wait = None if deadline is None else max(0.01, deadline - loop.time())
                try:
                    event = await sub.get(timeout=wait)
                except TimeoutError:
                    _progress(f"timed out after {args.timeout:g} s: stopping", args.quiet)
                    await platform.executions.stop_execution(run_id, user_id=args.user)
                    deadline = None
                    continue
                if event.graph_exec_id != run_id:
                    continue
                _show(event, platform, args.quiet)
                if event.kind == "graph" and event.status in ("COMPLETED", "FAILED", "TERMINATED"):
                    break
    print(json.dumps(event.data.get("outputs") or {}, indent=2, default=str))
    if event.status != "COMPLETED":
        print(f"autoplat: run {event.status}: {event.data.get('error') or ''}", file=sys.stderr)
        return EXIT_FAILURE
    return 0


async def _resolve(
    platform: Any, args: argparse.Namespace, document: Any | None
) -> tuple[str, int | None]:
    if document is None:
        return args.target, args.version
    from autoplat.graphs.service import GraphService

    graph = await GraphService(platform.db.graphs, platform.blocks).create(args.user, document)
    _progress(f"imported {args.target} as graph {graph.id} v{graph.version}", args.quiet)
    return graph.id, graph.version


def _progress(line: str, quiet: bool) -> None:
    if not quiet:
        print(line, file=sys.stderr, flush=True)


def _show(event: ExecutionEvent, platform: Any, quiet: bool) -> None:
    data = event.data
    if event.kind == "graph":
        stats = data.get("stats") or {}
        extra = f" in {stats['walltime']:.3f} s" if "walltime" in stats else ""
        _progress(f"run {event.status}{extra}", quiet)
        return
    if event.status == "RUNNING" and data.get("output_data"):
        return  # one line per status change, not per output
    block = platform.blocks.get(data["block_id"])
    name = block.name if block is not None else data["block_id"]
    error = f": {data['error']}" if data.get("error") else ""
    _progress(f"  {event.status:<10} {name} ({str(data['node_id'])[:8]}){error}", quiet)
