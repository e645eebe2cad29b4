"""Execution events: in-process subscribers, and their NOTIFY encoding across processes.

Events carry AutoGPT's WebSocket payload shapes: ``graph_execution_event`` data is the run
(``id``, ``status``, ``stats``, ``outputs``...), ``node_execution_event`` data is one node
execution (``node_exec_id``, ``status``, ``input_data``, ``output_data``...). An output event
carries only the new output in ``output_data``; a terminal node event carries them all.

Invariant: publishing never blocks and a subscriber's memory is bounded (``limit`` events,
plus ``limit`` run ids while it lags). A subscriber that falls behind loses events only
behind a :class:`Lagged` notice naming their runs, and keeps every run's terminal graph
event (up to ``limit`` of them per lag; a run beyond that is named in the notice instead).
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from autoplat.errors import AutoplatError
from autoplat.executions.status import TERMINAL
from autoplat.logging import get_logger

log = get_logger("autoplat.executions.events")

EventKind = Literal["graph", "node"]
EVENTS_CHANNEL: Final = "autoplat_events"
#: PostgreSQL refuses NOTIFY payloads of 8000 bytes or more; stay well below.
NOTIFY_LIMIT: Final = 7600
#: An event bigger than this crosses processes as a reference the receiver fetches.
INLINE_LIMIT: Final = 3000
#: Events a subscriber may have waiting before it lags (the default ``limit``).
SUBSCRIBER_QUEUE: Final = 10_000


@dataclass(frozen=True, slots=True)
class ExecutionEvent:
    """One status change or output of a run or of a node execution."""

    kind: EventKind
    data: dict[str, Any]

    @property
    def graph_exec_id(self) -> str:
        """The run the event belongs to."""
        return str(self.data["id"] if self.kind == "graph" else self.data["graph_exec_id"])

    @property
    def user_id(self) -> str:
        """The run's owner."""
        return str(self.data["user_id"])

    @property
    def graph_id(self) -> str:
        """The run's graph."""
        return str(self.data["graph_id"])

    @property
    def status(self) -> str:
        """The status after the change."""
        return str(self.data["status"])

    @property
    def method(self) -> str:
        """The WebSocket method name of this event."""
        return "graph_execution_event" if self.kind == "graph" else "node_execution_event"

    @property
    def ends_run(self) -> bool:
        """Whether this is a run's terminal graph event (the one a subscriber never loses)."""
        return self.kind == "graph" and self.data["status"] in TERMINAL


@dataclass(frozen=True, slots=True)
class Lagged:
    """The subscriber fell behind: events of these runs were discarded unread.

    The consumer should read their current state (rows are durable before their events are
    published, so a read now is at least as new as anything lost). Terminal graph events
    that were kept follow this notice. ``kind`` tells it from an :class:`ExecutionEvent`
    (``if item.kind == "graph"`` narrows the type).
    """

    #: Runs that lost events, in the order of their first loss.
    graph_exec_ids: tuple[str, ...]
    #: Events discarded since the previous notice.
    dropped: int
    kind: Literal["lagged"] = field(default="lagged", init=False)


#: What :meth:`Subscription.get` returns.
Delivery = ExecutionEvent | Lagged


class SubscriberOverrun(AutoplatError):
    """A lagging subscriber lost events of more runs than it can name; it was closed."""

    code = "subscriber_overrun"
    status = 503


@dataclass(eq=False)
class Subscription:
    """A bounded queue of the events matching a filter; filters may change while it is open.

    ``user_id`` None means any user; with no run or graph ids, every run matches. One task
    consumes it. When ``limit`` events wait unread the subscription *lags*: its waiting
    events are discarded except terminal graph events (one per run), and so is every new
    event but those until the consumer's next :meth:`get`, which returns a :class:`Lagged`
    notice naming the runs that lost events. If more than ``limit`` runs lose events in one
    lag, the subscription is closed and :meth:`get` raises :class:`SubscriberOverrun`.
    """

    bus: EventBus
    user_id: str | None
    graph_exec_ids: set[str] = field(default_factory=set)
    graph_ids: set[str] = field(default_factory=set)
    match_all: bool = False
    limit: int = SUBSCRIBER_QUEUE
    #: Events discarded over the subscription's life.
    dropped: int = 0
    #: How many times it lagged.
    lags: int = 0
    overrun: bool = False
    _events: deque[ExecutionEvent] = field(default_factory=deque, init=False, repr=False)
    # Non-empty exactly while lagging: the runs that lost events (a dict keeps their order).
    _lost: dict[str, None] = field(default_factory=dict, init=False, repr=False)
    _lost_events: int = field(default=0, init=False, repr=False)
    # While lagging: the runs whose terminal event is among ``_events``.
    _kept: set[str] = field(default_factory=set, init=False, repr=False)
    _waiter: asyncio.Future[None] | None = field(default=None, init=False, repr=False)

    def matches(self, event: ExecutionEvent) -> bool:
        """Whether this subscription wants ``event``."""
        if self.user_id is not None and event.user_id != self.user_id:
            return False
        if self.match_all:
            return True
        return event.graph_exec_id in self.graph_exec_ids or event.graph_id in self.graph_ids

    def wants_run(self, graph_exec_id: str, graph_id: str) -> bool:
        """Whether events of this run would be delivered (ignoring the user filter)."""
        return self.match_all or graph_exec_id in self.graph_exec_ids or graph_id in self.graph_ids

    @property
    def lagging(self) -> bool:
        """Whether events were discarded that the consumer has not been told of yet."""
        return bool(self._lost)

    def pending(self) -> int:
        """Events waiting to be read (a notice not counted)."""
        return len(self._events)

    def put(self, event: ExecutionEvent) -> None:
        """Queue ``event`` for the consumer; never blocks (the bus calls this)."""
        # The common case costs two length checks and an append.
        if self._lost:
            self._keep_or_lose(event)
        elif len(self._events) < self.limit:
            self._events.append(event)
        else:
            self._lag(event)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _lag(self, event: ExecutionEvent) -> None:
        # Amortised O(1) per event: this walk over ``limit`` events happens once per
        # ``limit`` events queued.
        backlog, self._events = self._events, deque()
        self._kept.clear()
        self.lags += 1
        for queued in backlog:
            self._keep_or_lose(queued)
        self._keep_or_lose(event)
        # Once per subscriber at warning level: a slow client would repeat it every lag.
        log_lag = log.warning if self.lags == 1 else log.debug
        log_lag("events.lagged", user_id=self.user_id, lags=self.lags, runs=len(self._lost))

    def _keep_or_lose(self, event: ExecutionEvent) -> None:
        if self.overrun:
            return
        run_id = event.graph_exec_id
        if event.ends_run:
            if run_id in self._kept:  # a repeat of an end already kept
                self.dropped += 1
                return
            if len(self._events) < self.limit:
                self._kept.add(run_id)
                self._events.append(event)
                return
        self.dropped += 1
        self._lost_events += 1
        if run_id not in self._lost:
            if len(self._lost) >= self.limit:
                self._overrun()
                return
            self._lost[run_id] = None

    def _overrun(self) -> None:
        # ``_lost`` stays non-empty so that ``put`` keeps taking the slow path (which now
        # ignores everything) and the consumer's ``get`` raises at once.
        self.overrun = True
        self._events.clear()
        self._kept.clear()
        self.bus.unsubscribe(self)
        log.warning("events.overrun", user_id=self.user_id, runs=len(self._lost))

    def poll(self) -> Delivery | None:
        """The next event or notice if one is waiting, else None."""
        if self._lost:
            return self._notice()
        return self._events.popleft() if self._events else None

    async def get(self, timeout: float | None = None) -> Delivery:
        """The next event or lag notice (TimeoutError after ``timeout`` seconds).

        Raises SubscriberOverrun once the subscription fell too far behind.
        """
        if not self._events and not self._lost:
            if self._waiter is not None:
                raise RuntimeError("a Subscription has one consumer; get() is already waiting")
            loop = asyncio.get_running_loop()
            async with asyncio.timeout(timeout):
                while not self._events and not self._lost:
                    self._waiter = loop.create_future()
                    try:
                        await self._waiter
                    finally:
                        self._waiter = None
        if self._lost:
            return self._notice()
        return self._events.popleft()

    def _notice(self) -> Lagged:
        if self.overrun:
            raise SubscriberOverrun(
                f"the subscriber fell behind on more than {self.limit} runs and was closed"
            )
        notice = Lagged(tuple(self._lost), self._lost_events)
        self._lost = {}
        self._lost_events = 0
        self._kept.clear()
        return notice

    def close(self) -> None:
        """Stop receiving events."""
        self.bus.unsubscribe(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(slots=True)
class Watched:
    """The runs some subscriber would hear of (``users`` holds None for "every user")."""

    runs: set[str] = field(default_factory=set)
    graphs: set[str] = field(default_factory=set)
    users: set[str | None] = field(default_factory=set)


class EventBus:
    """Delivers execution events to in-process subscribers."""

    def __init__(self, *, subscriber_limit: int | None = None) -> None:
        #: The ``limit`` of new subscriptions (SUBSCRIBER_QUEUE, read when the bus is made).
        self.subscriber_limit = subscriber_limit or SUBSCRIBER_QUEUE
        self._subs: list[Subscription] = []

    def subscribe(
        self,
        *,
        user_id: str | None = None,
        graph_exec_id: str | None = None,
        graph_id: str | None = None,
        limit: int | None = None,
    ) -> Subscription:
        """A new subscription; with neither id it receives every run (of ``user_id``)."""
        sub = Subscription(
            self,
            user_id,
            match_all=graph_exec_id is None and graph_id is None,
            limit=limit or self.subscriber_limit,
        )
        if graph_exec_id is not None:
            sub.graph_exec_ids.add(graph_exec_id)
        if graph_id is not None:
            sub.graph_ids.add(graph_id)
        self._subs.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Remove ``sub`` (idempotent)."""
        if sub in self._subs:
            self._subs.remove(sub)

    def has_subscribers(self) -> bool:
        """Whether anyone listens at all."""
        return bool(self._subs)

    def watched(self) -> Watched:
        """What the subscribers watch: run ids, graph ids, and users watched whole."""
        watched = Watched()
        for sub in self._subs:
            if sub.match_all:
                watched.users.add(sub.user_id)
            else:
                watched.runs |= sub.graph_exec_ids
                watched.graphs |= sub.graph_ids
        return watched

    def wants_run(self, graph_exec_id: str, graph_id: str) -> bool:
        """Whether some subscriber would receive events of this run."""
        return any(s.wants_run(graph_exec_id, graph_id) for s in self._subs)

    def publish(self, events: Iterable[ExecutionEvent]) -> None:
        """Hand each event to every matching subscriber: O(subscribers), never blocks."""
        if not self._subs:
            return
        subs = list(self._subs)
        for event in events:
            for sub in subs:
                if sub.matches(event):
                    sub.put(event)


def encode_notifications(origin: str, events: Iterable[ExecutionEvent]) -> list[str]:
    """NOTIFY payloads for ``events``: JSON batches under the size limit.

    A large event travels as a reference (``{"ref": kind, ...ids}``) that the receiving
    process resolves by reading the row.
    """
    payloads: list[str] = []
    batch: list[str] = []
    size = 0
    for event in events:
        item = json.dumps({"k": event.kind, "d": event.data}, separators=(",", ":"))
        if len(item) > INLINE_LIMIT:
            item = json.dumps({"k": event.kind, "ref": _ref(event)}, separators=(",", ":"))
        if batch and size + len(item) + 64 > NOTIFY_LIMIT:
            payloads.append(_batch(origin, batch))
            batch, size = [], 0
        batch.append(item)
        size += len(item) + 1
    if batch:
        payloads.append(_batch(origin, batch))
    return payloads


def _ref(event: ExecutionEvent) -> dict[str, Any]:
    ref = {"graph_exec_id": event.graph_exec_id, "status": event.status}
    if event.kind == "node":
        ref["node_exec_id"] = event.data["node_exec_id"]
    return ref


def _batch(origin: str, items: list[str]) -> str:
    return '{"o":' + json.dumps(origin) + ',"e":[' + ",".join(items) + "]}"


def decode_notification(payload: str) -> tuple[str, list[dict[str, Any]]]:
    """The origin and the raw items of a NOTIFY payload (``{"k", "d"}`` or ``{"k", "ref"}``)."""
    data = json.loads(payload)
    return str(data.get("o", "")), list(data.get("e", []))
