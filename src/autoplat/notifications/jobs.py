"""The notification system jobs: batch e-mail, the periodic summaries, operator alerts.

Invariant: a summary is keyed by (period, user, start), so a job run twice for one period
(two processes, a manual run) records it once; a user without runs in the period gets
nothing. Alerts are logged always and posted only when ``AUTOPLAT_ALERT_WEBHOOK_URL`` is set.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from autoplat.logging import get_logger
from autoplat.notifications.service import NotificationService
from autoplat.notifications.types import NotificationType
from autoplat.scheduler.jobs import SystemJobs

log = get_logger("autoplat.notifications.jobs")

BATCHES = "notification_batches"
ALERTS = "operator_alerts"
#: Below this many node runs in the window a block's error rate is noise.
MIN_BLOCK_RUNS = 10
PERIODS: dict[str, tuple[NotificationType, str]] = {
    "daily_summary": (NotificationType.DAILY_SUMMARY, "0 6 * * *"),
    "weekly_summary": (NotificationType.WEEKLY_SUMMARY, "0 6 * * 1"),
    "monthly_summary": (NotificationType.MONTHLY_SUMMARY, "0 6 1 * *"),
}


def previous_period(type: NotificationType, now: datetime) -> tuple[datetime, datetime]:
    """The last whole UTC day, Monday-to-Monday week or calendar month before ``now``."""
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if type is NotificationType.DAILY_SUMMARY:
        return today - timedelta(days=1), today
    if type is NotificationType.WEEKLY_SUMMARY:
        end = today - timedelta(days=today.weekday())
        return end - timedelta(days=7), end
    end = today.replace(day=1)
    return (end - timedelta(days=1)).replace(day=1), end


async def send_summaries(
    service: NotificationService, type: NotificationType, start: datetime, end: datetime
) -> int:
    """One summary notification per user with runs in ``[start, end)``; how many were sent."""
    sent = 0
    period = type.value.split("_")[0].lower()
    for user_id in await service.db.summaries.active_users(start, end):
        data = await service.db.summaries.summary_data(user_id, start, end)
        if data["runs"] == 0:
            continue
        data["period"] = period
        key = f"summary:{type.value}:{user_id}:{start.isoformat()}"
        if await service.notify(user_id, type, data, key=key) is not None:
            sent += 1
    return sent


class NotificationJobs:
    """The bodies of the notification system jobs."""

    def __init__(self, service: NotificationService) -> None:
        self.service = service
        self.settings = service.settings

    async def batches(self, now: datetime) -> dict[str, Any]:
        """Write the batch e-mails that are due, then send the outbox."""
        made = await self.service.send_batches(now)
        return {"batches": made, **await self.service.send_pending()}

    def summary(self, type: NotificationType) -> Any:
        async def body(now: datetime) -> dict[str, Any]:
            start, end = previous_period(type, now)
            sent = await send_summaries(self.service, type, start, end)
            return {"start": start.isoformat(), "end": end.isoformat(), "summaries": sent}

        return body

    async def alerts(self, now: datetime) -> dict[str, Any]:
        """Late runs and blocks failing too often: logged, and posted to the webhook."""
        db = self.service.db
        late = await db.summaries.late_runs(
            now - timedelta(seconds=self.settings.alert_late_queued_seconds),
            now - timedelta(seconds=self.settings.alert_late_running_seconds),
        )
        failing = [
            b
            for b in await db.summaries.block_error_rates(now - timedelta(hours=1))
            if b.total >= MIN_BLOCK_RUNS and b.rate >= self.settings.alert_block_error_rate
        ]
        lines: list[str] = []
        if late["queued"]:
            lines.append(
                f"{len(late['queued'])} run(s) queued too long: {', '.join(late['queued'][:10])}"
            )
        if late["running"]:
            lines.append(
                f"{len(late['running'])} run(s) running too long: {', '.join(late['running'][:10])}"
            )
        for block in failing:
            lines.append(
                f"block {block.block_id} failed {block.failed} of {block.total} runs "
                f"in the last hour ({block.rate:.0%})"
            )
        for line in lines:
            log.warning("operator.alert", alert=line)
        posted = bool(lines) and await self._post("\n".join(lines))
        return {
            "late_queued": len(late["queued"]),
            "late_running": len(late["running"]),
            "failing_blocks": len(failing),
            "posted": posted,
        }

    async def _post(self, text: str) -> bool:
        url = self.settings.alert_webhook_url
        if not url:
            return False
        # "content" is Discord's field, "text" Slack's; each ignores the other.
        payload = {"content": f"autoplat alert\n{text}"[:1900], "text": f"autoplat alert\n{text}"}
        try:
            async with httpx.AsyncClient(timeout=10) as http:
                response = await http.post(url, json=payload)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            log.warning("operator.alert_post_failed", error=type(exc).__name__)
            return False
        return True


def install_notification_jobs(jobs: SystemJobs, service: NotificationService) -> None:
    """Add the notification jobs to the platform's system jobs."""
    bodies = NotificationJobs(service)
    jobs.add(BATCHES, "* * * * *", 30.0, bodies.batches)
    for name, (type, cron) in PERIODS.items():
        jobs.add(name, cron, 1800.0, bodies.summary(type))
    jobs.add(ALERTS, "*/5 * * * *", 120.0, bodies.alerts)
