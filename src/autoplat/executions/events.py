"""Execution events: in-process subscribers, and their NOTIFY encoding across processes.

Events carry AutoGPT's WebSocket payload shapes: ``graph_execution_event`` data is the run
(``id``, ``status``, ``stats``, ``outputs``...), ``node_execution_event`` data is one node
execution (``node_exec_id``, ``status``, ``input_data``, ``output_data``...). An output event
carries only the new output in ``output_data``; a terminal node event carries them all.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from autoplat.logging import get_logger

log = get_logger("autoplat.executions.events")

EventKind = Literal["graph", "node"]
EVENTS_CHANNEL: Final = "autoplat_events"
#: PostgreSQL refuses NOTIFY payloads of 8000 bytes or more; stay well below.
NOTIFY_LIMIT: Final = 7600
#: An event bigger than this crosses processes as a reference the receiver fetches.
INLINE_LIMIT: Final = 3000
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


@dataclass(eq=False)
class Subscription:
    """A queue of the events matching a filter; filters may change while it is open.

    ``user_id`` None means any user; with no run or graph ids, every run matches.
    """

    bus: EventBus
    user_id: str | None
    graph_exec_ids: set[str] = field(default_factory=set)
    graph_ids: set[str] = field(default_factory=set)
    match_all: bool = False
    #: Events lost because the subscriber fell more than SUBSCRIBER_QUEUE events behind.
    dropped: int = 0
    queue: asyncio.Queue[ExecutionEvent] = field(
        default_factory=lambda: asyncio.Queue(SUBSCRIBER_QUEUE)
    )

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

    async def get(self, timeout: float | None = None) -> ExecutionEvent:
        """The next event (TimeoutError after ``timeout`` seconds)."""
        if not self.queue.empty():
            return self.queue.get_nowait()
        if timeout is None:
            return await self.queue.get()
        return await asyncio.wait_for(self.queue.get(), timeout)

    def close(self) -> None:
        """Stop receiving events."""
        self.bus.unsubscribe(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EventBus:
    """Delivers execution events to in-process subscribers."""

    def __init__(self) -> None:
        self._subs: list[Subscription] = []

    def subscribe(
        self,
        *,
        user_id: str | None = None,
        graph_exec_id: str | None = None,
        graph_id: str | None = None,
    ) -> Subscription:
        """A new subscription; with neither id it receives every run (of ``user_id``)."""
        sub = Subscription(self, user_id, match_all=graph_exec_id is None and graph_id is None)
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

    def wants_run(self, graph_exec_id: str, graph_id: str) -> bool:
        """Whether some subscriber would receive events of this run."""
        return any(s.wants_run(graph_exec_id, graph_id) for s in self._subs)

    def publish(self, events: Iterable[ExecutionEvent]) -> None:
        """Hand each event to every matching subscriber (never blocks)."""
        if not self._subs:
            return
        subs = list(self._subs)
        for event in events:
            for sub in subs:
                if sub.matches(event):
                    try:
                        sub.queue.put_nowait(event)
                    except asyncio.QueueFull:
                        sub.dropped += 1
                        if sub.dropped == 1:  # once per subscriber, not once per event
                            log.warning("events.dropped", graph_exec_id=event.graph_exec_id)


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
