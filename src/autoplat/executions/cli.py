"""``autoplat run FILE_OR_ID --input name=value``: run a graph, show progress, print the
outputs.

With a server configured (``--server`` / ``$AUTOPLAT_SERVER_URL``, credentials from
``--api-key`` / ``$AUTOPLAT_API_KEY`` or ``--token`` / ``$AUTOPLAT_TOKEN``) it is a client of
that server: the file is imported with ``POST /api/graphs``, the run started with ``POST
/api/graphs/{id}/execute/{version}`` and followed on ``/ws``. Otherwise it runs the graph in
this process on the configured database, claiming only its own run and firing no schedule,
so that it is safe beside a server on the same database.

A file run before is not imported again: the graph each file's content (canonical JSON,
sha256) became is remembered per database or server in the user's cache
(``$XDG_CACHE_HOME/autoplat/imports.json``) and reused, at the version imported, as long
as it still exists for this user; ``--new`` imports a fresh copy.

Invariant: stdout gets exactly one JSON object, the outputs of the ended run; progress and
errors go to stderr. The exit code is 0 only for a COMPLETED run, 1 for any other end or a
refused request, 2 for bad usage or rejected credentials, 3 when the database (or the
server) cannot be reached.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from autoplat.accounts.auth import LOCAL_USER_ID
from autoplat.cli import EXIT_CONFIG, EXIT_DATABASE, EXIT_FAILURE
from autoplat.config import Settings, load_settings
from autoplat.errors import AutoplatError, ValidationFailed
from autoplat.executions.events import Lagged, SubscriberOverrun, Subscription
from autoplat.executions.status import TERMINAL, is_terminal

if TYPE_CHECKING:
    import httpx
    from websockets.asyncio.client import ClientConnection

    from autoplat.blocks.registry import BlockRegistry
    from autoplat.platform import Platform

SERVER_ENV: Final = "AUTOPLAT_SERVER_URL"
API_KEY_ENV: Final = "AUTOPLAT_API_KEY"
TOKEN_ENV: Final = "AUTOPLAT_TOKEN"
#: How often a follower re-reads the run while no event arrives: a run can end where this
#: process cannot hear it (another process on SQLite, a closed WebSocket).
RECHECK_SECONDS: Final = 2.0
#: The same over an open /ws, whose server never loses a terminal event (reading a run
#: over REST carries all its node executions: not every two seconds).
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


def register(subparsers: Any) -> None:
    """Add ``run`` to the ``autoplat`` parser."""
    from autoplat.cli import add_common

    p = subparsers.add_parser(
        "run",
        help="run a graph (an agent JSON file or a stored graph id) and print its outputs",
        description="Run FILE_OR_ID: an AutoGPT agent JSON file is imported first (as a new "
        "graph); otherwise it names a stored graph. Inputs are given as --input name=value "
        "(the value is JSON when it parses, else text). Progress goes to stderr; the outputs "
        "are printed to stdout as JSON. With --server (or $AUTOPLAT_SERVER_URL) the run goes "
        "through that server's API as the user of --api-key or --token; otherwise it runs in "
        "this process on the configured database (as --user), claiming no other run and "
        "firing no schedule. Exit codes: 0 completed, 1 failed or terminated, 2 bad usage "
        "or credentials, 3 database or server unreachable.",
    )
    add_common(p)
    p.add_argument("target", metavar="FILE_OR_ID", help="agent JSON file, or a graph id")
    p.add_argument(
        "--input",
        "-i",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a graph input (repeatable)",
    )
    p.add_argument("--version", type=int, help="graph version (default: the active one)")
    p.add_argument("--user", help=f"user to run as, without --server (default: {LOCAL_USER_ID})")
    p.add_argument("--timeout", type=float, default=0, help="stop the run after N seconds")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress lines")
    p.add_argument(
        "--new",
        action="store_true",
        help="import FILE as a new graph even if the same content was imported before",
    )
    p.add_argument(
        "--server",
        default=os.environ.get(SERVER_ENV) or None,
        metavar="URL",
        help=f"run through the autoplat server at URL (default: ${SERVER_ENV})",
    )
    p.add_argument(
        "--api-key",
        default=os.environ.get(API_KEY_ENV) or None,
        help=f"API key for --server, sent as X-API-Key (default: ${API_KEY_ENV})",
    )
    p.add_argument(
        "--token",
        default=os.environ.get(TOKEN_ENV) or None,
        help=f"bearer token (JWT) for --server (default: ${TOKEN_ENV})",
    )
    p.set_defaults(func=cmd_run)


def parse_inputs(pairs: list[str]) -> dict[str, Any]:
    """``["a=1", "b=x"]`` -> ``{"a": 1, "b": "x"}``; ValueError names a malformed pair."""
    inputs: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name:
            raise ValueError(f"--input {pair!r} must look like name=value")
        try:
            inputs[name] = json.loads(raw)
        except json.JSONDecodeError:
            inputs[name] = raw
    return inputs


class ImportCache:
    """Which graph (id, version) each file content became, per database or server.

    Best effort: a cache that cannot be read or written only means importing again. The
    graphs it names are always checked before use (another user, a deleted graph: gone).
    """

    #: Entries kept (the least recently used go first).
    LIMIT = 500

    def __init__(self, path: Path | None = None) -> None:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        self.path = path or Path(base) / "autoplat" / "imports.json"

    @staticmethod
    def digest(document: Any) -> str:
        """The content hash of a graph document (key order and spacing do not count)."""
        canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def lookup(self, scope: str, digest: str) -> list[tuple[str, int]]:
        """The graphs recorded for this content in ``scope``, newest first."""
        entry = self._load().get(f"{scope} {digest}")
        if not isinstance(entry, dict) or not isinstance(entry.get("graphs"), list):
            return []
        return [
            (str(g[0]), int(g[1]))
            for g in entry["graphs"]
            if isinstance(g, list) and len(g) == 2 and isinstance(g[1], int)
        ]

    def remember(self, scope: str, digest: str, graphs: list[tuple[str, int]]) -> None:
        """Record (or, with an empty list, forget) the graphs of this content in ``scope``."""
        data = self._load()
        key = f"{scope} {digest}"
        if graphs:
            data[key] = {"graphs": [list(g) for g in graphs[:5]], "used": time.time()}
        else:
            data.pop(key, None)
        if len(data) > self.LIMIT:
            ranked = sorted(data, key=lambda k: float(data[k].get("used", 0)), reverse=True)
            data = {k: data[k] for k in ranked[: self.LIMIT]}
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            partial = self.path.with_name(f".{self.path.name}.{os.getpid()}")
            partial.write_text(json.dumps(data), encoding="utf-8")
            os.replace(partial, self.path)


def database_scope(settings: Settings) -> str:
    """The cache scope of a database (its URL, hashed: it may hold a password)."""
    url = settings.resolved_database_url
    if url.startswith("sqlite"):
        from sqlalchemy.engine import make_url

        database = make_url(url).database
        if database and database != ":memory:":
            url = f"sqlite:///{Path(database).resolve()}"
    return "db:" + hashlib.sha256(url.encode()).hexdigest()[:24]


def cmd_run(args: argparse.Namespace) -> int:
    """``autoplat run``."""
    from autoplat.cli import fail, run_async
    from autoplat.logging import configure_logging

    try:
        inputs = parse_inputs(args.input)
        document = load_graph_file(args.target)
        if args.server:
            _check_client_usage(args)
        else:
            settings = load_settings(
                database_url=args.database_url,
                log_level=args.log_level or os.environ.get("AUTOPLAT_LOG_LEVEL") or "warning",
                log_format=args.log_format,
                # This process runs its own run, whatever roles the servers' settings name.
                roles="all",
            )
    except AutoplatError as exc:
        return fail(exc.message, EXIT_CONFIG)
    except ValueError as exc:
        return fail(str(exc), EXIT_CONFIG)
    if args.server:
        try:
            return asyncio.run(run_remote(args, inputs, document))
        except RequestRefused as exc:
            _print_details(exc)
            return fail(exc.message, EXIT_CONFIG if exc.http_status in (401, 403) else 1)
        except ServerUnreachable as exc:
            return fail(exc.message, EXIT_DATABASE)
    configure_logging(settings)

    async def main(s: Settings) -> int:
        return await run_graph(s, args, inputs, document)

    return run_async(settings, main)


def _check_client_usage(args: argparse.Namespace) -> None:
    if not args.server.startswith(("http://", "https://")):
        raise ValueError(f"--server {args.server!r} must be an http:// or https:// URL")
    if args.user is not None:
        raise ValueError("--user is for local runs; with --server the credentials name the user")
    if args.database_url is not None:
        raise ValueError("--database-url is for local runs; --server runs on the server's")


def load_graph_file(target: str) -> Any | None:
    """The JSON document of ``target`` when it is a file (or ends in .json), else None."""
    path = Path(target)
    if not (path.suffix.lower() == ".json" or path.is_file()):
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValidationFailed(f"cannot read {path}: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValidationFailed(f"{path} is not valid JSON: {exc}") from None


# --- local: this process runs its own run -----------------------------------------------


async def run_graph(
    settings: Settings, args: argparse.Namespace, inputs: dict[str, Any], document: Any | None
) -> int:
    """Import or find the graph, run it here, report; the exit code."""
    from autoplat.platform import Platform

    user_id = args.user or LOCAL_USER_ID
    # own_runs_only: beside a server on the same database this process must neither take
    # other users' queued runs nor fire schedules.
    async with Platform(settings, serve_http=False, own_runs_only=True) as platform:
        await platform.db.users.ensure(user_id)
        graph_id, version = await _resolve(platform, args, user_id, document)
        show = Progress(args.quiet, lambda: platform.blocks)
        # Subscribed before the submit so that no event of the run can be missed; by graph,
        # so that other runs of the user do not crowd the queue.
        with platform.executions.bus.subscribe(user_id=user_id, graph_id=graph_id) as sub:
            try:
                run_id = await platform.executions.submit(
                    user_id=user_id, graph_id=graph_id, graph_version=version, inputs=inputs
                )
            except ValidationFailed as exc:
                _print_details(exc)
                raise
            show.line(f"run {run_id} queued")
            final = await LocalFollower(platform, sub, run_id, user_id, show).follow(args.timeout)
    return report(final)


async def _resolve(
    platform: Platform, args: argparse.Namespace, user_id: str, document: Any | None
) -> tuple[str, int | None]:
    if document is None:
        return args.target, args.version
    from autoplat.graphs.service import GraphService

    cache, digest = ImportCache(), ImportCache.digest(document)
    scope = f"{database_scope(platform.settings)} {user_id}"
    known = [] if getattr(args, "new", False) else cache.lookup(scope, digest)
    for graph_id, version in known:
        if await platform.db.graphs.get(graph_id, version, user_id=user_id) is not None:
            _progress(f"{args.target}: graph {graph_id} v{version} (imported before)", args.quiet)
            cache.remember(scope, digest, [(graph_id, version)])
            return graph_id, version
    graph = await GraphService(platform.db.graphs, platform.blocks).create(user_id, document)
    _progress(f"imported {args.target} as graph {graph.id} v{graph.version}", args.quiet)
    cache.remember(scope, digest, [(graph.id, graph.version)])
    return graph.id, graph.version


class LocalFollower:
    """Follows one run on the in-process event bus until it ends."""

    def __init__(
        self, platform: Platform, sub: Subscription, run_id: str, user_id: str, show: Progress
    ) -> None:
        self.platform = platform
        self.sub = sub
        self.run_id = run_id
        self.user_id = user_id
        self.show = show

    async def follow(self, timeout: float) -> dict[str, Any]:
        """The run's final ``run_view`` data; stops the run after ``timeout`` s (0: never)."""
        try:
            return await self._follow(timeout)
        finally:
            self.sub.close()  # a replacement subscription (below) is this object's to close

    async def _follow(self, timeout: float) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout if timeout > 0 else None
        while True:
            wait = RECHECK_SECONDS
            if deadline is not None:
                wait = max(0.01, min(wait, deadline - loop.time()))
            try:
                item = await self.sub.get(timeout=wait)
            except TimeoutError:
                if deadline is not None and loop.time() >= deadline:
                    self.show.line(f"timed out after {timeout:g} s: stopping")
                    await self.platform.executions.stop_execution(self.run_id, user_id=self.user_id)
                    deadline = None
                if (ended := await self._ended()) is not None:
                    return ended
                continue
            except SubscriberOverrun:
                # Too far behind to be told which runs lost events: follow this run alone.
                self.sub = self.platform.executions.bus.subscribe(graph_exec_id=self.run_id)
                item = Lagged((self.run_id,), 0)
            if isinstance(item, Lagged):
                if self.run_id in item.graph_exec_ids:
                    self.show.line("  (fell behind the run's events; reading its state)")
                    if (ended := await self._ended()) is not None:
                        return ended
                continue
            if item.graph_exec_id != self.run_id:
                continue
            self.show.event(item.kind, item.data)
            if item.ends_run:
                return item.data

    async def _ended(self) -> dict[str, Any] | None:
        from autoplat.executions.views import run_view

        row = await self.platform.db.executions.get_run(self.run_id)
        if row is None or not is_terminal(row.status):
            return None
        data = run_view(row)
        self.show.event("graph", data)
        return data


# --- client: a running server runs it ---------------------------------------------------


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
        _progress(f"{args.target}: graph {graph_id} v{version} (imported before)", args.quiet)
        # Other users' graphs stay recorded: their own runs reuse them.
        cache.remember(scope, digest, list(dict.fromkeys([(graph_id, version), *known])))
        return graph
    graph = await api.call("POST", "/api/graphs", json=document)
    _progress(f"imported {args.target} as graph {graph['id']} v{graph['version']}", args.quiet)
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


# --- output -----------------------------------------------------------------------------


def report(final: dict[str, Any]) -> int:
    """Print the outputs (stdout) and a failure line (stderr); the exit code."""
    print(json.dumps(final.get("outputs") or {}, indent=2, default=str))
    status = str(final.get("status"))
    if status != "COMPLETED":
        print(f"autoplat: run {status}: {final.get('error') or ''}", file=sys.stderr)
        return EXIT_FAILURE
    return 0


def _print_details(exc: AutoplatError) -> None:
    for detail in exc.details:
        print(f"  {detail.get('pin') or ''}: {detail.get('message')}", file=sys.stderr)


def _progress(line: str, quiet: bool) -> None:
    if not quiet:
        print(line, file=sys.stderr, flush=True)


class Progress:
    """Progress lines on stderr: one per status change of the run and of each node."""

    def __init__(self, quiet: bool, blocks: Callable[[], BlockRegistry] | None = None) -> None:
        self.quiet = quiet
        self._blocks_of = blocks
        self._blocks: BlockRegistry | None = None

    def line(self, text: str) -> None:
        """Print one progress line (unless quiet)."""
        _progress(text, self.quiet)

    def event(self, kind: str, data: dict[str, Any]) -> None:
        """The line of one event of the run (graph or node)."""
        if self.quiet:
            return
        status = str(data.get("status"))
        if kind == "graph":
            stats = data.get("stats") or {}
            extra = f" in {stats['walltime']:.3f} s" if "walltime" in stats else ""
            self.line(f"run {status}{extra}")
            return
        if status == "RUNNING" and data.get("output_data"):
            return  # one line per status change, not per output
        error = f": {data['error']}" if data.get("error") else ""
        node_id = str(data.get("node_id"))[:8]
        self.line(
            f"  {status:<10} {self._block_name(str(data.get('block_id')))} ({node_id}){error}"
        )

    def _block_name(self, block_id: str) -> str:
        if self._blocks is None:
            # A client knows the builtin blocks by id (the server's have the same ids).
            from autoplat.blocks.registry import BlockRegistry

            self._blocks = self._blocks_of() if self._blocks_of else BlockRegistry.builtin()
        block = self._blocks.get(block_id)
        return block.name if block is not None else block_id
