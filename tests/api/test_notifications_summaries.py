"""Summaries and operator alerts on both databases.

A period's summary counts the user's runs, successes, failures, credits and agents, is
recorded once however often its job runs, and an empty period sends nothing; late runs are
posted to the operator's webhook in a Discord- and Slack-compatible body.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from autoplat.db.types import utcnow
from autoplat.notifications.jobs import previous_period, send_summaries
from autoplat.notifications.types import NotificationType
from autoplat.testing import TEST_USER_ID, client_for
from tests.support.graphs import (
    FlakyBlock,
    SleepBlock,
    exec_platform,
    exec_settings,
    graph,
    input_node,
    link,
    node,
    output_node,
    run_graph,
    save_graph,
    wait_for_run,
)


def _echo() -> Any:
    source, sink = input_node("x"), output_node("y")
    return graph([source, sink], [link(source, "result", sink, "value")], name="Echo")


async def test_a_summary_counts_the_period_once_and_an_empty_period_sends_nothing(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    async with exec_platform(exec_settings(autoplat_database_url, tmp_path)) as platform:
        await run_graph(platform, _echo(), {"x": 1})
        await run_graph(platform, _echo(), {"x": 2})
        await platform.db.users.ensure("idle-user")
        now = utcnow()
        start, end = now - timedelta(hours=1), now + timedelta(hours=1)
        daily = NotificationType.DAILY_SUMMARY
        service = platform.notifications
        assert await send_summaries(service, daily, start, end) == 1
        assert await send_summaries(service, daily, start, end) == 0  # once per period
        async with client_for(platform, TEST_USER_ID) as client:
            body = (await client.get("/api/notifications", params={"type": "DAILY_SUMMARY"})).json()
        [summary] = body["items"]
        data = summary["data"]
        assert (data["runs"], data["successes"], data["failures"]) == (2, 2, 0)
        assert data["credits_spent"] == 0 and data["period"] == "daily"
        assert sum(a["runs"] for a in data["top_agents"]) == 2
        assert data["top_agents"][0]["graph_name"] == "Echo"
        assert data["longest_run"]["seconds"] >= 0
        idle, _ = await platform.db.notifications.list_for("idle-user")
        assert idle == []
        # Yesterday was empty: the scheduled job sends nothing.
        details = await platform.scheduler.jobs.run_now("daily_summary")
        assert details["summaries"] == 0
        weekly = await platform.scheduler.jobs.run_now("weekly_summary")
        assert weekly["summaries"] == 0


def test_periods_are_whole_days_weeks_and_months() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 3, 4, 10, 30, tzinfo=UTC)  # a Wednesday
    assert previous_period(NotificationType.DAILY_SUMMARY, now) == (
        datetime(2026, 3, 3, tzinfo=UTC),
        datetime(2026, 3, 4, tzinfo=UTC),
    )
    assert previous_period(NotificationType.WEEKLY_SUMMARY, now) == (
        datetime(2026, 2, 23, tzinfo=UTC),
        datetime(2026, 3, 2, tzinfo=UTC),
    )
    assert previous_period(NotificationType.MONTHLY_SUMMARY, now) == (
        datetime(2026, 2, 1, tzinfo=UTC),
        datetime(2026, 3, 1, tzinfo=UTC),
    )


class _Hook(BaseHTTPRequestHandler):
    bodies: list[dict[str, object]] = []

    def do_POST(self) -> None:
        _Hook.bodies.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def _operator_hook() -> Iterator[tuple[str, list[dict[str, object]]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    _Hook.bodies = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/alerts", _Hook.bodies
    finally:
        server.shutdown()
        server.server_close()


async def test_late_runs_are_posted_to_the_operator_webhook(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    with _operator_hook() as (hook_url, bodies):
        settings = exec_settings(
            autoplat_database_url,
            tmp_path,
            alert_webhook_url=hook_url,
            alert_late_running_seconds=0.01,
        )
        async with exec_platform(settings, extra_blocks=[SleepBlock()]) as platform:
            sleeper = node(SleepBlock.id, seconds=5)
            saved = await save_graph(platform.db, TEST_USER_ID, graph([sleeper], []))
            run_id = await platform.executions.submit(
                user_id=TEST_USER_ID, graph_id=saved.id, graph_version=saved.version, inputs={}
            )
            while True:
                row = await platform.db.executions.get_run(run_id)
                if row is not None and row.status == "RUNNING":
                    break
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.05)
            details = await platform.scheduler.jobs.run_now("operator_alerts")
            assert details["late_running"] == 1 and details["posted"] is True
            # One post, readable by Discord ("content") and Slack ("text").
            [body] = bodies
            assert run_id in str(body["content"]) and run_id in str(body["text"])
            assert "running too long" in str(body["text"])
            async with client_for(platform, TEST_USER_ID) as client:
                await client.post(f"/api/graphs/{saved.id}/executions/{run_id}/stop")


async def test_failed_runs_are_notified_and_a_failure_streak_once(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    settings = exec_settings(autoplat_database_url, tmp_path, node_retries=0)
    async with exec_platform(settings, extra_blocks=[FlakyBlock()]) as platform:
        saved = await save_graph(
            platform.db, TEST_USER_ID, graph([node(FlakyBlock.id, fail_times=1000)], [])
        )

        async def counts() -> dict[str, int]:
            items, _ = await platform.db.notifications.list_for(TEST_USER_ID, limit=100)
            found: dict[str, int] = {}
            for item in items:
                found[item["type"]] = found.get(item["type"], 0) + 1
            return found

        for attempt in range(1, 5):
            run_id = await platform.executions.submit(
                user_id=TEST_USER_ID, graph_id=saved.id, graph_version=saved.version, inputs={}
            )
            row = await wait_for_run(platform.db, run_id)
            assert row.status == "FAILED"
            for _ in range(200):  # the follower records them as the run's end is announced
                if (await counts()).get("BLOCK_EXECUTION_FAILED", 0) == attempt:
                    break
                await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)
        found = await counts()
        assert found["AGENT_RUN"] == 4 and found["BLOCK_EXECUTION_FAILED"] == 4
        assert found["CONTINUOUS_AGENT_ERROR"] == 1  # the third failure; not again at the fourth
