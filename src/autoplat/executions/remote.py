"""Events from other processes: NOTIFY payloads turned back into local events."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING, Any

from autoplat.executions.events import ExecutionEvent, decode_notification
from autoplat.executions.views import node_view, run_view
from autoplat.logging import get_logger

if TYPE_CHECKING:
    from autoplat.executions.manager import ExecutionManager

log = get_logger("autoplat.executions.remote")


class RemoteEvents:
    """Publishes events that other processes announced with NOTIFY to local subscribers."""

    def __init__(self, manager: ExecutionManager) -> None:
        self.manager = manager
        self._fetches: set[asyncio.Task[None]] = set()

    def on_notification(self, payload: str) -> None:
        """Handle one payload of the events channel (ignores this process's own)."""
        bus = self.manager.bus
        if not bus.has_subscribers():
            return
        origin, items = decode_notification(payload)
        if origin == self.manager.owner:
            return
        events: list[ExecutionEvent] = []
        refs: list[tuple[str, dict[str, Any]]] = []
        for item in items:
            kind = item.get("k")
            if kind not in ("graph", "node"):
                continue
            if "d" in item:
                events.append(ExecutionEvent(kind, item["d"]))
            elif isinstance(item.get("ref"), dict):
                refs.append((kind, item["ref"]))
        bus.publish(events)
        if refs:
            task = asyncio.create_task(self._resolve(refs), name="executions:remote-fetch")
            self._fetches.add(task)
            task.add_done_callback(self._fetches.discard)

    def catch_up(self, since: datetime) -> None:
        """After the listener was deaf (reconnected), re-announce what changed meanwhile.

        Other processes' NOTIFYs of that time are gone for good: the runs the local
        subscribers watch that changed since ``since`` are read and their current state
        published (a subscriber may see a terminal event twice; it never misses one).
        """
        if not self.manager.bus.has_subscribers():
            return
        task = asyncio.create_task(self._catch_up(since), name="executions:remote-catch-up")
        self._fetches.add(task)
        task.add_done_callback(self._fetches.discard)

    async def _catch_up(self, since: datetime) -> None:
        watched = self.manager.bus.watched()
        try:
            rows = await self.manager.db.executions.changed_since(
                since,
                run_ids=sorted(watched.runs),
                graph_ids=sorted(watched.graphs),
                user_ids=sorted(u for u in watched.users if u is not None),
                everyone=None in watched.users,
            )
        except Exception:
            log.exception("remote.catch_up_failed")
            return
        log.info("remote.caught_up", runs=len(rows))
        self.manager.bus.publish([ExecutionEvent("graph", run_view(row)) for row in rows])

    async def _resolve(self, refs: list[tuple[str, dict[str, Any]]]) -> None:
        store = self.manager.db.executions
        try:
            runs = {
                r.id: r for r in await store.get_runs([ref["graph_exec_id"] for _, ref in refs])
            }
            events = []
            for kind, ref in refs:
                run = runs.get(ref["graph_exec_id"])
                if run is None:
                    continue
                if kind == "graph":
                    events.append(ExecutionEvent("graph", run_view(run)))
                    continue
                for row in await store.get_nodes(run.id, [ref["node_exec_id"]]):
                    data = node_view(run, row)
                    data["event_type"] = "node_execution_update"
                    events.append(ExecutionEvent("node", data))
            self.manager.bus.publish(events)
        except Exception:
            log.exception("remote.fetch_failed")
