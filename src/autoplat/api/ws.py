"""``/ws``: execution events over a WebSocket, in AutoGPT's protocol.

Client messages are ``{"method": ..., "data": ...}``: ``subscribe_graph_execution``
(``{"graph_exec_id"}``), ``subscribe_graph_executions`` (``{"graph_id"}``), ``unsubscribe``
(``{"channel"}``) and ``heartbeat``. The server answers each with ``{"method", "success",
"channel"?}`` and pushes ``graph_execution_event`` / ``node_execution_event`` messages on
the subscribed channels. Authentication is the REST API's: an ``Authorization: Bearer``
header or a ``?token=`` query parameter (browsers cannot set headers on a WebSocket).

A client that reads too slowly gets ``{"method": "lagged", "channel", "data":
{"graph_exec_ids": [...]}}`` followed by a ``graph_execution_event`` with the current state
of each run named, in place of the events it lost; terminal run events are never lost (a
client may get one twice after a lag: as the current state and as the event itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from autoplat.accounts.auth import Principal
from autoplat.api.context import get_platform
from autoplat.api.guards import check_local_request, refuse_handshake
from autoplat.errors import AutoplatError, NotAuthenticated, PermissionDenied
from autoplat.executions.events import ExecutionEvent, Lagged, SubscriberOverrun, Subscription
from autoplat.executions.views import run_view
from autoplat.logging import get_logger

log = get_logger("autoplat.api.ws")
#: Close code for a failed authentication (AutoGPT's).
AUTH_FAILED = 4001
#: Close code for a client that fell too far behind to be caught up ("try again later").
TOO_FAR_BEHIND = 1013
#: Close code when the event stream fails on the server.
INTERNAL_ERROR = 1011
#: Runs read per query when catching a lagged client up.
CATCH_UP_BATCH = 500


def exec_channel(user_id: str, graph_exec_id: str) -> str:
    """The channel name of one run's events."""
    return f"{user_id}|graph_exec#{graph_exec_id}"


def graph_channel(user_id: str, graph_id: str) -> str:
    """The channel name of all runs of one graph."""
    return f"{user_id}|graph#{graph_id}|executions"


async def _authenticate(ws: WebSocket) -> Principal:
    headers = {k.lower(): v for k, v in ws.headers.items()}
    token = ws.query_params.get("token")
    if token is not None:
        bearer = f"Bearer {token}"
        # Every credential must be valid: a ?token= beside another Authorization is refused.
        if headers.setdefault("authorization", bearer) != bearer:
            raise NotAuthenticated("send the token in the Authorization header or as ?token=")
    principal = await get_platform(ws).auth.authenticate(headers)
    principal.require("READ_GRAPH")
    return principal


class Session:
    """One connected client: its subscription and the messages it sends.

    Invariant: the last ``graph_execution_event`` the client gets for a run it follows is
    the run's latest state. Events lost because the client read too slowly are replaced by
    a ``lagged`` message (our extension; AutoGPT clients ignore unknown methods) and the
    current state of each run named in it, read from the database.
    """

    def __init__(self, ws: WebSocket, principal: Principal, sub: Subscription) -> None:
        self.ws = ws
        self.user_id = principal.user_id
        self.sub = sub

    async def pump(self) -> None:
        """Send every matching event to the client, and catch it up after each lag."""
        try:
            while True:
                item = await self.sub.get()
                if isinstance(item, Lagged):
                    await self.catch_up(item)
                else:
                    await self.ws.send_text(json.dumps(self.message(item)))
        except WebSocketDisconnect:
            pass
        except SubscriberOverrun as exc:
            # Too far behind to name what it lost: a reconnect starts it afresh.
            await self._close(TOO_FAR_BEHIND, exc.message)
        except Exception:
            # Nobody awaits the pump until the client leaves: without this the client
            # would wait for events that never come.
            log.exception("ws.pump_failed", user_id=self.user_id)
            await self._close(INTERNAL_ERROR, "the event stream failed")

    async def _close(self, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):  # the client may be gone already
            await self.ws.close(code=code, reason=reason[:120])

    def message(self, event: ExecutionEvent) -> dict[str, Any]:
        """The WebSocket message of an event, on the channel the client subscribed to."""
        channel = self.channel(event.graph_exec_id, event.graph_id)
        return {"method": event.method, "channel": channel, "data": event.data}

    def channel(self, graph_exec_id: str, graph_id: str) -> str:
        """The channel the client hears a run on: the run's own if subscribed, else its graph's."""
        if graph_exec_id in self.sub.graph_exec_ids:
            return exec_channel(self.user_id, graph_exec_id)
        return graph_channel(self.user_id, graph_id)

    async def catch_up(self, notice: Lagged) -> None:
        """Per channel: a ``lagged`` message naming its runs, then each run's current state."""
        store = get_platform(self.ws).db.executions
        ids = list(notice.graph_exec_ids)
        rows: dict[str, Any] = {}
        for start in range(0, len(ids), CATCH_UP_BATCH):
            for found in await store.get_runs(ids[start : start + CATCH_UP_BATCH]):
                rows[found.id] = found
        lagged: dict[str, list[str]] = {}
        states: dict[str, list[Any]] = {}
        for run_id in ids:
            row = rows.get(run_id)
            if row is None or row.user_id != self.user_id:
                # Deleted since: nothing to show, but a client following the run hears why
                # its events stopped.
                if run_id in self.sub.graph_exec_ids:
                    lagged.setdefault(exec_channel(self.user_id, run_id), []).append(run_id)
                continue
            if not self.sub.wants_run(row.id, row.graph_id):
                continue  # unsubscribed since
            channel = self.channel(row.id, row.graph_id)
            lagged.setdefault(channel, []).append(row.id)
            states.setdefault(channel, []).append(row)
        for channel, run_ids in lagged.items():
            message = {"method": "lagged", "channel": channel, "data": {"graph_exec_ids": run_ids}}
            await self.ws.send_text(json.dumps(message))
            for row in states.get(channel, []):
                state = {
                    "method": "graph_execution_event",
                    "channel": channel,
                    "data": run_view(row),
                }
                await self.ws.send_text(json.dumps(state))

    async def handle(self, raw: str) -> dict[str, Any]:
        """Answer one client message."""
        try:
            message = json.loads(raw)
        except json.JSONDecodeError as exc:
            return _error(f"message is not JSON: {exc}")
        if not isinstance(message, dict) or not isinstance(message.get("method"), str):
            return _error("message must be an object with a 'method'")
        method, data = message["method"], message.get("data")
        if method == "heartbeat":
            return {"method": "heartbeat", "data": "pong", "success": True}
        if method == "subscribe_graph_execution":
            exec_id = _field(data, "graph_exec_id")
            if exec_id is None:
                return _error("data.graph_exec_id is required", method)
            self.sub.graph_exec_ids.add(exec_id)
            return _ok(method, exec_channel(self.user_id, exec_id))
        if method == "subscribe_graph_executions":
            graph_id = _field(data, "graph_id")
            if graph_id is None:
                return _error("data.graph_id is required", method)
            self.sub.graph_ids.add(graph_id)
            return _ok(method, graph_channel(self.user_id, graph_id))
        if method == "unsubscribe":
            channel = _field(data, "channel")
            if channel is None:
                return _error("data.channel is required", method)
            self._unsubscribe(channel)
            return _ok(method, channel)
        return _error(f"unknown method {method!r}", method)

    def _unsubscribe(self, channel: str) -> None:
        _, _, rest = channel.partition("|")
        if rest.startswith("graph_exec#"):
            self.sub.graph_exec_ids.discard(rest[len("graph_exec#") :])
        elif rest.startswith("graph#"):
            self.sub.graph_ids.discard(rest[len("graph#") :].split("|", 1)[0])


def _field(data: Any, name: str) -> str | None:
    value = data.get(name) if isinstance(data, dict) else None
    return value if isinstance(value, str) and value else None


def _ok(method: str, channel: str) -> dict[str, Any]:
    return {"method": method, "success": True, "channel": channel}


def _error(message: str, method: str = "error") -> dict[str, Any]:
    return {"method": "error", "success": False, "error": message, "request": method}


async def websocket_endpoint(ws: WebSocket) -> None:
    """Serve one WebSocket client until it disconnects."""
    settings = get_platform(ws).settings
    if not settings.auth_configured:
        try:
            check_local_request(ws.scope, settings.allowed_host_names)
        except PermissionDenied as exc:
            await refuse_handshake(ws, exc)
            return
    try:
        principal = await _authenticate(ws)
    except AutoplatError as exc:
        await ws.close(code=AUTH_FAILED, reason=exc.message[:120])
        return
    await ws.accept()
    bus = get_platform(ws).executions.bus
    sub = bus.subscribe(user_id=principal.user_id)
    sub.match_all = False
    session = Session(ws, principal, sub)
    pump = asyncio.create_task(session.pump(), name="ws:pump")
    # Notifications of the user, as they are recorded here (bounded: a stalled client
    # misses some, and GET /api/notifications still has them all).
    notices: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=100)
    unlisten = get_platform(ws).notifications.listen(
        principal.user_id, lambda n: None if notices.full() else notices.put_nowait(n)
    )
    notifier = asyncio.create_task(_send_notifications(ws, notices), name="ws:notifications")
    try:
        while True:
            raw = await ws.receive_text()
            await ws.send_text(json.dumps(await session.handle(raw)))
    except WebSocketDisconnect:
        pass
    except Exception:
        log.exception("ws.failed", user_id=principal.user_id)
    finally:
        unlisten()
        notifier.cancel()
        sub.close()
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pump


async def _send_notifications(ws: WebSocket, notices: asyncio.Queue[dict[str, Any]]) -> None:
    """Send each notification as a ``notification`` message (AutoGPT's method name)."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            notice = await notices.get()
            await ws.send_text(json.dumps({"method": "notification", "data": notice}))


def routes() -> list[WebSocketRoute]:
    """The WebSocket route (mounted at the root, like AutoGPT's ``/ws``)."""
    return [WebSocketRoute("/ws", websocket_endpoint)]
