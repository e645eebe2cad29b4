"""``autoplat schedules list|pause|resume`` and ``autoplat jobs list|run``, on the database.

Invariant: schedules change through :class:`~autoplat.scheduler.service.ScheduleService`,
the API's one path (pausing keeps its reason; resuming re-validates the graph and fires
from the next cron time on); running servers pick the change up with their next reload
(about a second). Output is the answer alone; errors are one line.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import TYPE_CHECKING, Any

from autoplat.cli import add_json_flag, add_user_flag, emit_json, emit_rows
from autoplat.config import Settings

if TYPE_CHECKING:
    from autoplat.platform import Platform


def register(subparsers: Any) -> None:
    """Add ``schedules list|pause|resume`` and ``jobs list|run`` to the parser."""
    from autoplat.cli import add_common

    schedules = subparsers.add_parser(
        "schedules",
        help="list, pause and resume schedules",
        description="A user's cron schedules (--user, default the local-mode user) straight "
        "in the database; running servers pick changes up within about a second.",
    )
    sub = schedules.add_subparsers(dest="schedules_command", required=True, metavar="ACTION")
    p = sub.add_parser(
        "list",
        help="list schedules, newest first",
        description="The user's schedules with their next fire time (in their own timezone).",
    )
    add_common(p)
    add_user_flag(p)
    p.add_argument("--graph", metavar="ID", help="only the schedules of this graph")
    add_json_flag(p)
    p.set_defaults(func=_schedule_command("list"))
    for action, text in (
        ("pause", "stop firing schedule ID until it is resumed"),
        ("resume", "fire schedule ID again, from its next cron time on"),
    ):
        p = sub.add_parser(action, help=text, description=f"{text.capitalize()}; prints it.")
        add_common(p)
        p.add_argument("schedule_id", metavar="ID", help="the schedule id")
        add_user_flag(p)
        p.set_defaults(func=_schedule_command(action))

    jobs = subparsers.add_parser(
        "jobs",
        help="list the system jobs or run one now",
        description="The stuck-run monitor and the retention job (GET /api/admin/jobs from "
        "the shell).",
    )
    sub = jobs.add_subparsers(dest="jobs_command", required=True, metavar="ACTION")
    p = sub.add_parser("list", help="each job's cron, last run and outcome")
    add_common(p)
    add_json_flag(p)
    p.set_defaults(func=cmd_list)
    p = sub.add_parser("run", help="run job NAME now and print its outcome as JSON")
    add_common(p)
    p.add_argument("name", metavar="NAME", help="stuck_monitor or retention")
    p.set_defaults(func=cmd_run)


# --- schedules --------------------------------------------------------------------------


def _schedule_command(action: str) -> Any:
    def run(args: argparse.Namespace) -> int:
        from autoplat.cli import offline_platform, run_command

        async def body(settings: Settings) -> int:
            async with offline_platform(settings) as platform:
                return await _schedules(platform, action, args)

        return run_command(args, body)

    return run


async def _schedules(platform: Platform, action: str, args: argparse.Namespace) -> int:
    from autoplat.scheduler.service import ScheduleService

    service = ScheduleService(platform)
    if action == "pause":
        emit_json(service.view(await service.pause(args.user, args.schedule_id)).model_dump())
        return 0
    if action == "resume":
        emit_json(service.view(await service.resume(args.user, args.schedule_id)).model_dump())
        return 0
    views: list[dict[str, Any]] = []
    offset = 0
    while True:
        records, total = await service.store.list_schedules(
            user_id=args.user, graph_id=args.graph, offset=offset, limit=200
        )
        views += [service.view(r).model_dump() for r in records]
        offset += len(records)
        if not records or offset >= total:
            break
    columns = ["id", "name", "graph_id", "cron", "timezone", "status", "next_run_time"]
    emit_rows(views, columns, as_json=args.json)
    return 0


# --- system jobs ------------------------------------------------------------------------


def _json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


async def _with_jobs(settings: Settings, args: argparse.Namespace) -> int:
    from autoplat.db.manager import connected_database
    from autoplat.notifications.jobs import install_notification_jobs
    from autoplat.notifications.service import NotificationService
    from autoplat.scheduler.jobs import SystemJobs

    async with connected_database(settings) as db:
        jobs = SystemJobs(settings, db)
        # The notification jobs too (batches, summaries, alerts); e-mail goes out here.
        install_notification_jobs(jobs, NotificationService(settings, db))
        if args.jobs_command == "run":
            await jobs.run_now(args.name)
        stored = {j.name: j for j in await jobs.store.list_jobs()}
        lines: list[dict[str, Any]] = []
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
            lines.append(line)
        if args.jobs_command == "run":
            for line in lines:
                emit_json(line)
        else:
            columns = ["name", "cron", "last_run_at", "last_outcome", "last_error"]
            emit_rows(lines, columns, as_json=args.json)
        return 0


def _run(args: argparse.Namespace) -> int:
    from autoplat.cli import run_command

    return run_command(args, lambda settings: _with_jobs(settings, args))


def cmd_list(args: argparse.Namespace) -> int:
    """``autoplat jobs list``."""
    return _run(args)


def cmd_run(args: argparse.Namespace) -> int:
    """``autoplat jobs run NAME``."""
    return _run(args)
