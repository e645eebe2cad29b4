"""``autoplat run --server URL``: the command as a client of a running server.

The file is imported with ``POST /api/graphs`` (or the graph it became before is reused),
the run started with ``POST /api/graphs/{id}/execute/{version}`` and followed on ``/ws``,
re-read over REST now and then and whenever the socket closes.

Invariant: a server's error reaches the caller as :class:`RequestRefused` (its HTTP status
and error code kept, for the exit code), a server that does not answer as
:class:`ServerUnreachable`; neither carries the credentials sent.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import TYPE_CHECKING, Any, Final

from autoplat.errors import AutoplatError
from autoplat.executions.cli_output import (
    RECHECK_SECONDS,
    ImportCache,
    Progress,
    progress,
    report,
)
from autoplat.executions.status import TERMINAL

if TYPE_CHECKING:
    import httpx
    from websockets.asyncio.client import ClientConnection

#: How often the follower re-reads the run over an open /ws, whose server never loses a
#: terminal event (reading a run over REST carries all its node executions: not every two
#: seconds).
REMOTE_RECHECK_SECONDS: Final = 10.0


class ServerUnreachable(AutoplatError):
    """The server named by ``--server`` does not answer."""

    code = "server_unreachable"
    status = 503


class RequestRefused(AutoplatError):
    """The server answered a request with an error; ``server_code`` is its error code."""

    code = "request_refused"

    def __init__(
        self,
        message: str,
        *,
        http_status: int = 0,
        server_code: str = "",
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message, details=details)
        self.http_status = http_status
        self.server_code = server_code


async def run_remote(args: argparse.Namespace, inputs: dict[str, Any], document: Any | None) -> int:
    """Import or find the graph on the server, run it there, follow it on /ws; the exit code."""
    import httpx

    headers = {}
    if args.api_key:
        headers["X-API-Key"] = args.api_key
    if args.token:
        headers["Authorization"] = f"Bearer {args.token}"
    base = args.server.rstrip("/")
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as http:
        api = Api(http)
        if document is not None:
            graph = await _import_remote(api, args, base, document)
        else:
            params = {"version": args.version} if args.version else None
            graph = await api.call("GET", f"/api/graphs/{args.target}", params=params)
        follower = RemoteFollower(api, base, headers, str(graph["id"]), Progress(args.quiet))
        final = await follower.run(int(graph["version"]), inputs, args.timeout)
    return report(final)


async def _import_remote(
    api: Api, args: argparse.Namespace, base: str, document: Any
) -> dict[str, Any]:
    """The graph this file became on the server before (if it is still ours), else a new one."""
    cache, digest = ImportCache(), ImportCache.digest(document)
    scope = f"server:{base}"
    known = [] if getattr(args, "new", False) else cache.lookup(scope, digest)
    for graph_id, version in known:
        try:
            graph = await api.call("GET", f"/api/graphs/{graph_id}", params={"version": version})
        except RequestRefused as exc:
            if exc.http_status == 404:  # deleted, or another user's: try the next one
                continue
            raise
        progress(f"{args.target}: graph {graph_id} v{version} (imported before)", args.quiet)
        # Other users' graphs stay recorded: their own runs reuse them.
        cache.remember(scope, digest, list(dict.fromkeys([(graph_id, version), *known])))
        return graph
    graph = await api.call("POST", "/api/graphs", json=document)
    progress(f"imported {args.target} as graph {graph['id']} v{graph['version']}", args.quiet)
    cache.remember(scope, digest, [(str(graph["id"]), int(graph["version"])), *known])
    return graph


class Api:
    """The server's REST API: JSON in and out, its errors as RequestRefused."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """The JSON body of a successful answer."""
        import httpx

        try:
            response = await self.http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ServerUnreachable(f"cannot reach {self.http.base_url}: {exc}") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.is_success and isinstance(body, dict):
            return body
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict):
            error = {"message": f"{method} {path} answered {response.status_code}"}
        raise RequestRefused(
            str(error.get("message") or response.reason_phrase),
            http_status=response.status_code,
            server_code=str(error.get("code") or "unknown"),
            details=[d for d in error.get("details") or [] if isinstance(d, dict)],
        )


class RemoteFollower:
    """Starts one run on the server and follows it on ``/ws`` until it ends."""

    def __init__(
        self, api: Api, base: str, headers: dict[str, str], graph_id: str, show: Progress
    ) -> None:
        self.api = api
        self.ws_url = "ws" + base.removeprefix("http") + "/ws"
        self.headers = headers
        self.graph_id = graph_id
        self.show = show
        self.run_id = ""

    async def run(self, version: int, inputs: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Start the run and return its final state (stopping it after ``timeout`` s)."""
        import websockets

        try:
            ws = await websockets.connect(
                self.ws_url, additional_headers=self.headers, max_size=None, open_timeout=30
            )
        except websockets.InvalidStatus as exc:
            status = exc.response.status_code
            raise RequestRefused(
                f"/ws refused the connection ({status})",
                http_status=status,
                server_code="not_authenticated" if status in (401, 403) else "ws_refused",
            ) from None
        except (OSError, TimeoutError, websockets.InvalidHandshake) as exc:
            raise ServerUnreachable(f"cannot reach {self.ws_url}: {exc}") from None
        async with ws:
            # Subscribed to the graph before the run exists, so that no event of the run
            # can be missed; then to the run itself, which narrows the stream to it.
            graph_channel = await self._request(
                ws, "subscribe_graph_executions", graph_id=self.graph_id
            )
            started = await self.api.call(
                "POST", f"/api/graphs/{self.graph_id}/execute/{version}", json={"inputs": inputs}
            )
            self.run_id = str(started["graph_exec_id"])
            self.show.line(f"run {self.run_id} queued")
            await self._send(ws, "subscribe_graph_execution", graph_exec_id=self.run_id)
            await self._send(ws, "unsubscribe", channel=graph_channel)
            return await self._follow(ws, timeout)

    @staticmethod
    async def _send(ws: ClientConnection, method: str, **data: str) -> None:
        await ws.send(json.dumps({"method": method, "data": data}))

    async def _request(self, ws: ClientConnection, method: str, **data: str) -> str:
        """Send a subscription request before the run exists; the channel of its answer."""
        await self._send(ws, method, **data)
        while True:  # events of other runs of the graph may come first
            answer = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if isinstance(answer, dict) and answer.get("method") in (method, "error"):
                if answer.get("success") is not True:
                    raise RequestRefused(
                        f"/ws refused {method}: {answer.get('error')}",
                        http_status=400,
                        server_code="ws_refused",
                    )
                return str(answer.get("channel"))

    async def _follow(self, ws: ClientConnection | None, timeout: float) -> dict[str, Any]:
        import websockets

        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout if timeout > 0 else None
        while True:
            wait = RECHECK_SECONDS if ws is None else REMOTE_RECHECK_SECONDS
            if deadline is not None:
                wait = max(0.01, min(wait, deadline - loop.time()))
            try:
                if ws is None:  # the socket closed: poll the run instead
                    await asyncio.sleep(wait)
                    raise TimeoutError
                message = json.loads(await asyncio.wait_for(ws.recv(), wait))
            except TimeoutError:
                if deadline is not None and loop.time() >= deadline:
                    self.show.line(f"timed out after {timeout:g} s: stopping")
                    stopped = await self.api.call("POST", f"{self._run_path()}/stop")
                    deadline = None
                    if stopped.get("status") in TERMINAL:
                        return self._ended_with(stopped)
                if (ended := await self._ended()) is not None:
                    return ended
                continue
            except websockets.ConnectionClosed:
                ws = None
                continue
            method = message.get("method") if isinstance(message, dict) else None
            data = message.get("data") if isinstance(message, dict) else None
            if method == "lagged" and isinstance(data, dict):
                if self.run_id in (data.get("graph_exec_ids") or []):
                    self.show.line("  (fell behind the run's events; reading its state)")
                    if (ended := await self._ended()) is not None:
                        return ended
            elif method in ("graph_execution_event", "node_execution_event"):
                if not isinstance(data, dict):
                    continue
                kind = "graph" if method == "graph_execution_event" else "node"
                if data.get("id" if kind == "graph" else "graph_exec_id") != self.run_id:
                    continue
                if kind == "graph" and data.get("status") in TERMINAL:
                    return self._ended_with(data)
                self.show.event(kind, data)

    def _run_path(self) -> str:
        return f"/api/graphs/{self.graph_id}/executions/{self.run_id}"

    async def _ended(self) -> dict[str, Any] | None:
        run = await self.api.call("GET", self._run_path())
        return self._ended_with(run) if run.get("status") in TERMINAL else None

    def _ended_with(self, run: dict[str, Any]) -> dict[str, Any]:
        run.pop("node_executions", None)
        self.show.event("graph", run)
        return run
