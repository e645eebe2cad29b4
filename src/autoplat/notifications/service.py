"""NotificationService: records notifications, pushes them live, queues and sends e-mail.

Invariant: every notification goes through :meth:`NotificationService.notify`, which
records it in-app (once per event key), hands it to this process's live listeners (the
WebSocket; on PostgreSQL other processes hear of it by LISTEN/NOTIFY at its commit and hand
it to theirs, each id once per process) and, when SMTP is configured and the user wants
that type, writes its e-mail to the outbox in the same transaction — or, for batched
types, a delivery the next batch takes.
Sending happens from the outbox only, so a crash between recording and sending loses
nothing and a retry never sends twice. ZERO_BALANCE passes once per user until a top-up.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine, Mapping
from datetime import datetime, timedelta
from typing import Any

from autoplat.config import Settings
from autoplat.db.manager import DatabaseManager
from autoplat.db.notifications import NOTIFICATIONS_CHANNEL
from autoplat.db.notify_outbox import EmailDraft
from autoplat.db.types import utcnow
from autoplat.executions.events import EventBus, ExecutionEvent, Lagged, SubscriberOverrun
from autoplat.executions.pglisten import PgListener, asyncpg_dsn
from autoplat.executions.status import TERMINAL
from autoplat.executions.views import run_view
from autoplat.logging import get_logger
from autoplat.notifications import mailer
from autoplat.notifications.templates import render_batch, render_single
from autoplat.notifications.types import BATCHED, NotificationType, daily_limit, wants_email
from autoplat.tasks import TaskOwner

log = get_logger("autoplat.notifications")

Listener = Callable[[dict[str, Any]], None]
#: Attempts of an e-mail whose server was unreachable or answered 4xx before it is dropped.
MAX_ATTEMPTS = 5
#: A SENDING row older than this lost its sender.
SENDING_STALE = timedelta(minutes=10)
#: Failed runs in a row of one agent that make a CONTINUOUS_AGENT_ERROR (sent once a streak).
FAILURE_STREAK = 3
#: How far before a lost LISTEN connection the catch-up reads (clocks of processes differ a
#: little; ids dedupe the overlap).
REMOTE_OVERLAP = timedelta(seconds=10)


class NotificationService:
    """Notifications of users: in-app, live and by e-mail."""

    def __init__(self, settings: Settings, db: DatabaseManager) -> None:
        self.settings = settings
        self.db = db
        self.tasks = TaskOwner("notifications")
        self._listeners: dict[str, set[Listener]] = {}
        self._kick: asyncio.Event | None = None
        # One sending pass at a time in this process (the daily limit itself is claimed in
        # the database, exact across processes).
        self._sending = asyncio.Lock()
        # Ids pushed to the live listeners (insertion-ordered), so no one gets one twice.
        self._pushed: dict[str, None] = {}
        # PostgreSQL: hears the notifications other processes record (NOTIFY at commit).
        self._listener: PgListener | None = None
        self._fetches: set[asyncio.Task[None]] = set()
        # Where the unsubscribe link points; the platform sets it once its server listens.
        self.public_url = settings.frontend_base_url.rstrip("/") or (
            f"http://{settings.host}:{settings.port}"
        )

    @property
    def smtp_enabled(self) -> bool:
        """Whether e-mail is configured at all."""
        return bool(self.settings.smtp_host)

    # --- lifecycle ----------------------------------------------------------------------

    async def start(self, bus: EventBus | None) -> None:
        """Follow the runs' terminal events (when given a bus) and send queued e-mail."""
        self._kick = asyncio.Event()
        # Loops that run until stopped: supervised (restarted with backoff when they fail).
        if bus is not None:
            sub = bus.subscribe(user_id=None)
            self.tasks.supervise("runs", lambda: self._follow(sub))
        if self.smtp_enabled:
            self.tasks.supervise("sender", self._sender)
        if self.db.is_postgres:
            self._listener = PgListener(
                asyncpg_dsn(self.settings.resolved_database_url),
                {NOTIFICATIONS_CHANNEL: self._on_announced},
                on_reconnect=self._reconnected,
            )
            await self._listener.connect()
            self.tasks.supervise("listen", self._listener.watch)

    async def stop(self, timeout: float) -> None:
        """Stop following and sending (the loops hold no work a drain would finish: an
        e-mail cut off mid-send is never resent, its outcome being unknown)."""
        await self.tasks.cancel_all(min(timeout, 1.0))
        for task in list(self._fetches):
            task.cancel()
        listener, self._listener = self._listener, None
        if listener is not None:
            await listener.close()

    # --- live listeners -----------------------------------------------------------------

    def listen(self, user_id: str, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with each new notification of the user; returns the undo."""
        self._listeners.setdefault(user_id, set()).add(listener)

        def undo() -> None:
            mine = self._listeners.get(user_id)
            if mine is not None:
                mine.discard(listener)
                if not mine:
                    del self._listeners[user_id]

        return undo

    def _push(self, user_id: str, notification: dict[str, Any]) -> None:
        if notification["id"] in self._pushed:
            return
        self._pushed[notification["id"]] = None
        while len(self._pushed) > 10_000:  # bounded: ids older than any catch-up window go
            self._pushed.pop(next(iter(self._pushed)))
        for listener in list(self._listeners.get(user_id, ())):
            try:
                listener(notification)
            except Exception:  # one broken listener must not silence the others
                log.exception("notifications.listener_failed", user_id=user_id)

    def _on_announced(self, payload: str) -> None:
        """A notification was recorded (by any process): fetch it if someone here listens."""
        try:
            announced = json.loads(payload)
            user_id, notification_id = str(announced["user_id"]), str(announced["id"])
        except (ValueError, KeyError, TypeError):
            log.warning("notifications.bad_announcement")
            return
        if user_id not in self._listeners or notification_id in self._pushed:
            return  # nobody here to tell, or recorded (and pushed) by this process
        self._spawn(self._fetch_and_push(notification_id))

    def _reconnected(self, lost_at: datetime) -> None:
        """The listener was deaf since ``lost_at``: read what was recorded meanwhile."""
        if self._listeners:
            self._spawn(self._catch_up(lost_at - REMOTE_OVERLAP))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work, name="notifications:remote")
        self._fetches.add(task)
        task.add_done_callback(self._fetches.discard)

    async def _fetch_and_push(self, notification_id: str) -> None:
        try:
            found = await self.db.notifications.by_ids([notification_id])
        except Exception:  # a lost push: the notification stays in the user's list
            log.exception("notifications.remote_fetch_failed")
            return
        for item in found:
            self._push(str(item.pop("user_id")), item)

    async def _catch_up(self, since: datetime) -> None:
        try:
            found = await self.db.outbox.recorded_since(list(self._listeners), since)
        except Exception:
            log.exception("notifications.catch_up_failed")
            return
        for item in found:
            self._push(str(item.pop("user_id")), item)

    # --- recording ----------------------------------------------------------------------

    async def notify(
        self,
        user_id: str,
        type: NotificationType | str,
        data: Mapping[str, Any],
        *,
        key: str | None = None,
    ) -> dict[str, Any] | None:
        """Record a notification; None when its key was recorded or ZERO_BALANCE is latched."""
        type = NotificationType(str(type))
        if type is NotificationType.ZERO_BALANCE and not await self.db.outbox.latch_zero_balance(
            user_id
        ):
            return None
        address, prefs = await self._address(user_id)
        emailed = address is not None and wants_email(prefs, type)
        draft: EmailDraft | None = None
        if emailed and type not in BATCHED and address is not None:
            draft = render_single(
                type, dict(data), to_address=address, unsubscribe_url=await self._link(user_id)
            )
        record = await self.db.outbox.record(
            user_id, type.value, data, key=key, batched=emailed and type in BATCHED, email=draft
        )
        if record is None:
            return None
        log.info("notifications.recorded", user_id=user_id, type=type.value)
        self._push(user_id, record)
        if draft is not None and self._kick is not None:
            self._kick.set()
        return record

    async def balance_restored(self, user_id: str) -> None:
        """A top-up or grant arrived: the next zero balance is announced again."""
        await self.db.outbox.release_zero_balance(user_id)

    async def _address(self, user_id: str) -> tuple[str | None, Mapping[str, Any]]:
        """The user's e-mail address (None: no e-mail) and preferences document."""
        user = await self.db.users.get(user_id)
        if user is None:
            return None, {}
        prefs: Mapping[str, Any] = user.preferences or {}
        if not self.smtp_enabled:
            return None, prefs
        chosen = prefs.get("email")
        address = chosen if isinstance(chosen, str) and chosen else user.email
        return (address or None), prefs

    async def _link(self, user_id: str) -> str:
        token = await self.db.outbox.unsubscribe_token(user_id)
        return f"{self.public_url}/api/notifications/unsubscribe?token={token}"

    async def unsubscribe(self, token: str) -> bool:
        """Turn every e-mail type off for the token's user; False for an unknown token."""
        user_id = await self.db.outbox.user_for_token(token)
        if user_id is None:
            return False
        user = await self.db.users.get(user_id)
        document = dict(user.preferences or {}) if user is not None else {}
        document["preferences"] = {t.value: False for t in NotificationType}
        await self.db.users.set_preferences(user_id, document)
        log.info("notifications.unsubscribed", user_id=user_id)
        return True

    # --- runs ---------------------------------------------------------------------------

    async def _follow(self, sub: Any) -> None:
        with sub:
            while True:
                try:
                    item = await sub.get()
                except SubscriberOverrun:
                    log.warning("notifications.overrun")
                    return
                if isinstance(item, Lagged):
                    # Terminal events are kept through a lag, but the notice may name more.
                    for row in await self.db.executions.get_runs(list(item.graph_exec_ids)):
                        if row.status in TERMINAL:
                            await self._run_ended(run_view(row))
                elif isinstance(item, ExecutionEvent) and item.ends_run:
                    await self._run_ended(item.data)

    async def _run_ended(self, run: Mapping[str, Any]) -> None:
        if run.get("parent_node_exec_id"):
            return  # a sub-agent's run: its parent's end is what the user hears of
        user_id, data = str(run["user_id"]), run_notification_data(run)
        try:
            await self.notify(user_id, NotificationType.AGENT_RUN, data, key=f"run:{run['id']}")
            if run["status"] == "FAILED":
                failed = {**data, "error": str(run.get("error") or "")[:500]}
                await self.notify(
                    user_id,
                    NotificationType.BLOCK_EXECUTION_FAILED,
                    failed,
                    key=f"failed:{run['id']}",
                )
                await self._failure_streak(user_id, str(run["graph_id"]), str(run["id"]))
        except Exception:  # a notification must never stop the follower
            log.exception("notifications.run_failed", graph_exec_id=run.get("id"))

    async def _failure_streak(self, user_id: str, graph_id: str, run_id: str) -> None:
        # Exactly FAILURE_STREAK failures in a row (the run before them did not fail): the
        # streak is announced once, however long it grows.
        statuses = await self.db.summaries.recent_statuses(user_id, graph_id, FAILURE_STREAK + 1)
        streak = statuses[:FAILURE_STREAK]
        before = statuses[FAILURE_STREAK:]
        if len(streak) == FAILURE_STREAK and set(streak) == {"FAILED"} and before != ["FAILED"]:
            await self.notify(
                user_id,
                NotificationType.CONTINUOUS_AGENT_ERROR,
                {"graph_id": graph_id, "failures": FAILURE_STREAK, "graph_exec_id": run_id},
                key=f"streak:{run_id}",
            )

    # --- e-mail -------------------------------------------------------------------------

    async def _sender(self) -> None:
        assert self._kick is not None
        while True:
            try:
                await self.send_pending()
            except Exception:  # the outbox keeps what was not sent; try again later
                log.exception("notifications.send_failed")
            self._kick.clear()
            try:
                async with asyncio.timeout(30):
                    await self._kick.wait()
            except TimeoutError:
                pass

    async def send_batches(self, now: datetime | None = None, *, force: bool = False) -> int:
        """Write a batch e-mail for every user whose oldest waiting run is old enough."""
        now = now or utcnow()
        wait = timedelta(minutes=self.settings.notification_batch_minutes)
        made = 0
        for user_id in await self.db.outbox.users_with_due_batch(now if force else now - wait):
            address, _ = await self._address(user_id)
            link = await self._link(user_id)

            render = _batch_renderer(address, link)
            if await self.db.outbox.take_batch(user_id, render) is not None:
                made += 1
        if made and self._kick is not None:
            self._kick.set()
        return made

    async def send_pending(self) -> dict[str, int]:
        """Send every PENDING e-mail once (each claimed by one process)."""
        counts = {"sent": 0, "skipped": 0, "retry": 0, "failed": 0}
        if not self.smtp_enabled:
            return counts
        async with self._sending:
            await self._send_pending(counts)
        return counts

    async def _send_pending(self, counts: dict[str, int]) -> None:
        now = utcnow()
        counts["failed"] += await self.db.outbox.abandon_stale(now - SENDING_STALE)
        since = now - timedelta(days=1)
        for email_id, user_id in await self.db.outbox.pending():
            _, prefs = await self._address(user_id)
            email = await self.db.outbox.claim_within_limit(
                email_id, user_id, utcnow(), daily_limit=daily_limit(prefs), since=since
            )
            if email is None:
                continue
            if isinstance(email, str):  # "limited": the day's e-mails are used up
                counts["skipped"] += 1
                continue
            outcome, reason = await mailer.send(self.settings, email)
            if outcome is mailer.Outcome.SENT:
                await self.db.outbox.finish(email.id, "SENT")
                counts["sent"] += 1
            elif outcome is mailer.Outcome.RETRY and email.attempts < MAX_ATTEMPTS:
                await self.db.outbox.finish(email.id, "PENDING", error=reason)
                counts["retry"] += 1
            else:
                await self.db.outbox.finish(email.id, "FAILED", error=reason)
                counts["failed"] += 1
            if reason is not None:
                log.warning("notifications.email_not_sent", email_id=email.id, reason=reason)


def _batch_renderer(
    address: str | None, link: str
) -> Callable[[list[dict[str, Any]]], EmailDraft | None]:
    def render(items: list[dict[str, Any]]) -> EmailDraft | None:
        if address is None:
            return None  # nobody to write to: the batch closes without an e-mail
        return render_batch(items, to_address=address, unsubscribe_url=link)

    return render


def run_notification_data(run: Mapping[str, Any]) -> dict[str, Any]:
    """What an AGENT_RUN notification says about a finished run."""
    started, ended = run.get("started_at"), run.get("ended_at")
    duration: float | None = None
    if isinstance(started, str) and isinstance(ended, str):
        duration = (datetime.fromisoformat(ended) - datetime.fromisoformat(started)).total_seconds()
    outputs = run.get("outputs") or {}
    return {
        "graph_exec_id": run["id"],
        "graph_id": run["graph_id"],
        "graph_version": run.get("graph_version"),
        "status": run["status"],
        "duration_seconds": duration,
        "outputs": sorted(outputs) if isinstance(outputs, Mapping) else [],
    }
