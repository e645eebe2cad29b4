"""``autoplat jobs list|run``: the system jobs from the shell, on the database."""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import datetime
from typing import Any

from autoplat.config import Settings, load_settings
from autoplat.errors import AutoplatError


def register(subparsers: Any) -> None:
    """Add ``jobs list`` and ``jobs run NAME`` to the parser."""
    from autoplat.cli import add_common

    jobs = subparsers.add_parser(
        "jobs",
        help="list the system jobs or run one now",
        description="The stuck-run monitor and the retention job (GET /api/admin/jobs from "
        "the shell). The database must be migrated.",
    )
    sub = jobs.add_subparsers(dest="jobs_command", required=True, metavar="ACTION")
    p = sub.add_parser("list", help="each job's cron, last run and outcome, as JSON lines")
    add_common(p)
    p.set_defaults(func=cmd_list)
    p = sub.add_parser("run", help="run job NAME now and print its outcome as JSON")
    add_common(p)
    p.add_argument("name", metavar="NAME", help="stuck_monitor or retention")
    p.set_defaults(func=cmd_run)


def _json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


async def _with_jobs(settings: Settings, args: argparse.Namespace) -> int:
    from autoplat.db.manager import connected_database
    from autoplat.scheduler.jobs import SystemJobs

    async with connected_database(settings) as db:
        jobs = SystemJobs(settings, db)
        if args.jobs_command == "run":
            await jobs.run_now(args.name)
        stored = {j.name: j for j in await jobs.store.list_jobs()}
        for name, (cron, _) in jobs.crons.items():
            if args.jobs_command == "run" and name != args.name:
                continue
            row = stored.get(name)
            line: dict[str, Any] = {"name": name, "cron": cron}
            if row is not None:
                line |= {
                    "last_run_at": _json(row.last_run_at),
                    "last_outcome": row.last_outcome,
                    "last_error": row.last_error,
                    "details": row.details,
                }
            print(json.dumps(line))
        return 0


def _run(args: argparse.Namespace) -> int:
    from autoplat.cli import exit_code_for, fail
    from autoplat.logging import configure_logging

    try:
        settings = load_settings(
            database_url=args.database_url,
            log_level=args.log_level or "warning",
            log_format=args.log_format,
        )
        configure_logging(settings)  # logs go to stderr; stdout carries the JSON
        return asyncio.run(_with_jobs(settings, args))
    except AutoplatError as exc:
        return fail(exc.message, exit_code_for(exc))


def cmd_list(args: argparse.Namespace) -> int:
    """``autoplat jobs list``."""
    return _run(args)


def cmd_run(args: argparse.Namespace) -> int:
    """``autoplat jobs run NAME``."""
    return _run(args)
