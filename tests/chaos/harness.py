"""What the chaos tests need beyond ``autoplat.testing``: a PostgreSQL server of their own
that they can restart and whose log they can read, real ``autoplat serve`` processes,
a local HTTP service that makes every block run visible from outside, graph builders
speaking the REST API's JSON, and direct reads of the tables.

Invariant: everything started here is stopped by the fixture or context that started it,
whatever the outcome (a process paused with SIGSTOP is continued before it is asked to
stop), and all traffic stays on 127.0.0.1. The tests observe the platform only from
outside (REST, ``/ws``, the tables, the server logs), so they keep their meaning while the
execution core is rebuilt.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from autoplat.testing import PG_ENV, free_port, make_token, serve_process, wait_ready

# AutoGPT's block ids (frozen by compatibility, so safe to spell out here).
AGENT_INPUT: Final = "c0a8e994-ebf1-4a9c-a4d8-89d09c86741b"
AGENT_OUTPUT: Final = "363ae599-353e-4804-937e-b2ee3cef3da4"
STORE_VALUE: Final = "1ff065e9-88e8-4358-9d82-8dc91f622ba9"
STEP_THROUGH: Final = "f66a3543-28d3-4ab5-8945-9b336371e2ce"
WEB_REQUEST: Final = "6595ae1f-b924-42cb-9a41-551a0611c4b4"
TERMINAL: Final = frozenset({"COMPLETED", "FAILED", "TERMINATED"})

T = TypeVar("T")


def _pg_bindir() -> Path | None:
    for base in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (base / "initdb").exists():
            return base
    return None


PG_BIN = _pg_bindir()
#: Applied to every chaos test module: they need PostgreSQL (a run of the suite with
#: AUTOPLAT_TEST_PG_URL set) and the server binaries to start a PostgreSQL of their own.
needs_postgres = [
    pytest.mark.skipif(
        not os.environ.get(PG_ENV),
        reason="chaos tests need PostgreSQL: several processes share one database (not SQLite)",
    ),
    pytest.mark.skipif(PG_BIN is None, reason="no PostgreSQL server binaries to start one"),
    pytest.mark.slow,
]


# --- a PostgreSQL server of the test's own ---------------------------------------------------


class PrivatePostgres:
    """A throwaway PostgreSQL cluster on a free loopback port (as ``postgres`` when root)."""

    def __init__(self, settings: Mapping[str, str]) -> None:
        assert PG_BIN is not None
        self.bindir = PG_BIN
        self.settings = dict(settings)
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="autoplat-chaos-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self._as_pg: list[str] = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []

    @property
    def admin_url(self) -> str:
        """SQLAlchemy URL of the ``postgres`` database (for DatabaseFactory)."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _pg(self, tool: str, *args: str, timeout: float = 60) -> None:
        subprocess.run(
            [*self._as_pg, str(self.bindir / tool), *args],
            check=True,
            timeout=timeout,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def start(self) -> None:
        """initdb and start, waiting until it accepts connections."""
        self.root.chmod(0o755)
        if os.getuid() == 0:
            shutil.chown(self.root, "postgres")
        self._pg(
            "initdb",
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
        )
        # Settings go to postgresql.conf, not the command line, so that a test may change
        # them with ALTER SYSTEM (the command line would override that).
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{name} = {value}\n" for name, value in self.settings.items())
        options = [f"-p {self.port}", f"-k {self.root}", "-c listen_addresses=127.0.0.1"]
        self._pg(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            " ".join(options),
            "-w",
            "start",
        )

    def restart(self) -> None:
        """``pg_ctl restart -m fast``: every client connection is cut, the server comes back."""
        self._pg("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-m", "fast", "-w", "restart")

    def stop(self) -> None:
        """Stop at once and remove the cluster (idempotent)."""
        if self.data.exists():
            with suppress(subprocess.SubprocessError, OSError):
                self._pg("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def postmaster_pid(self) -> int:
        """The running postmaster's pid (it changes with every restart)."""
        return int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])

    def log_size(self) -> int:
        """The server log's current length: a mark for :meth:`log_since`."""
        return self.log.stat().st_size if self.log.exists() else 0

    def log_since(self, mark: int) -> str:
        """The server log written after ``mark``."""
        with self.log.open("rb") as f:
            f.seek(mark)
            return f.read().decode(errors="replace")


def asyncpg_dsn(url: str) -> str:
    """A plain ``postgresql://`` DSN from a SQLAlchemy URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def lock_waits(log: str) -> Counter[str]:
    """``still waiting`` lock waits in a PostgreSQL log, counted by the waiting statement."""
    waits: Counter[str] = Counter()
    lines = log.splitlines()
    for i, line in enumerate(lines):
        if "still waiting for" not in line:
            continue
        statement = "?"
        for follow in lines[i + 1 : i + 6]:
            if "STATEMENT:" in follow:
                statement = " ".join(follow.split("STATEMENT:", 1)[1].split())
                break
        waits[statement[:140]] += 1
    return waits


# --- real serving processes -------------------------------------------------------------------


@dataclass
class Server:
    """One ``autoplat serve`` process on 127.0.0.1."""

    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path
    paused: bool = False

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    def ws_url(self, user_id: str) -> str:
        """The ``/ws`` address, authenticated as ``user_id``."""
        return f"ws://127.0.0.1:{self.port}/ws?token={make_token(user_id)}"

    async def ready(self, timeout: float = 30.0) -> None:
        """Wait until it answers ``/health``."""
        await wait_ready(self.port, self.proc, timeout)

    def pause(self) -> None:
        """SIGSTOP: the process keeps its sockets but runs nothing, like a long GC pause."""
        self.proc.send_signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        """SIGCONT."""
        self.proc.send_signal(signal.SIGCONT)
        self.paused = False

    def is_stopped(self) -> bool:
        """Whether the kernel reports the process as stopped (state T)."""
        stat = Path(f"/proc/{self.proc.pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] == "T"

    def kill(self) -> None:
        """SIGKILL, and reap it."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        """Continue it if paused, SIGTERM, and SIGKILL if it has not exited in 15 s."""
        if self.proc.poll() is not None:
            return
        if self.paused:
            self.resume()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def log_text(self) -> str:
        """Everything it logged so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def log_events(self) -> list[dict[str, Any]]:
        """Its JSON log lines."""
        events = []
        for line in self.log_text().splitlines():
            try:
                item = json.loads(line)
            except ValueError:
                continue
            if isinstance(item, dict):
                events.append(item)
        return events


#: Settings of every chaos server: blocks may call the local recorder, no scheduler, logs
#: at info (the tests read them), and enough room per user for the loads below.
SERVER_DEFAULTS: Final = {
    "http_allow_private": "true",
    "scheduler_enabled": "false",
    "log_level": "info",
    "user_max_running": "64",
    "run_rate_limit": "0",
}


class Servers:
    """Starts servers for one test and stops every one of them at the end."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.started: list[Server] = []

    def start(
        self,
        name: str,
        database_url: str,
        settings: Mapping[str, str] | None = None,
        *,
        port: int | None = None,
    ) -> Server:
        """Start ``autoplat serve`` with these AUTOPLAT_* settings (by setting name) on
        ``port`` (a free one by default); wait for it with :meth:`Server.ready`."""
        port = port or free_port()
        log = self.workdir / f"serve-{name}.log"
        values = {**SERVER_DEFAULTS, **(settings or {})}
        proc = serve_process(database_url, port, self.workdir, log, **values)
        server = Server(name, port, proc, log)
        self.started.append(server)
        return server

    def stop_all(self) -> None:
        """Stop every server started here (paused ones are continued first)."""
        for server in self.started:
            with suppress(subprocess.SubprocessError, OSError):
                server.stop()

    def notable(self) -> str:
        """Every server's warnings, errors and listener events, each kind once with its
        count, first time and the last line of its exception (for failure messages)."""
        out = []
        for server in self.started:
            kinds: dict[str, tuple[str, int]] = {}
            for e in server.log_events():
                event = str(e.get("event", ""))
                if e.get("level") not in ("warning", "error", "critical") and not (
                    event.startswith("listen")
                ):
                    continue
                detail = str(e.get("error") or "")
                if e.get("exception"):
                    detail = _exception_line(str(e["exception"]))
                key = f"{e.get('level')} {event} {detail[:300]}".strip()
                first, n = kinds.get(key, (str(e.get("timestamp", "")), 0))
                kinds[key] = (first, n + 1)
            lines = [f"  {first} x{n} {key}" for key, (first, n) in kinds.items()]
            out.append(f"--- {server.name}:\n" + "\n".join(lines))
        return "\n".join(out)

    def tails(self, chars: int = 3000) -> str:
        """The end of every server's log, for failure messages."""
        return "\n".join(f"--- {s.name}\n{s.log_text()[-chars:]}" for s in self.started)


def _exception_line(traceback: str) -> str:
    """The line of a logged traceback that names the error (SQLAlchemy adds lines after it)."""
    lines = [line.strip() for line in traceback.strip().splitlines()]
    for line in reversed(lines):
        if ("Error" in line or "Exception" in line) and not line.startswith("(Background"):
            return line
    return lines[-1] if lines else ""


# --- a local HTTP service that records every call ----------------------------------------------


# --- graphs in the REST API's JSON -------------------------------------------------------------


def node(block_id: str, **defaults: Any) -> dict[str, Any]:
    """A node of ``block_id`` with ``defaults`` as its constant inputs (a fresh id)."""
    return {"id": str(uuid.uuid4()), "block_id": block_id, "input_default": defaults}


def link(source: dict[str, Any], out: str, sink: dict[str, Any], into: str) -> dict[str, Any]:
    """A link from ``source.out`` to ``sink.into``."""
    return {"source_id": source["id"], "sink_id": sink["id"], "source_name": out, "sink_name": into}


def graph(name: str, nodes: list[dict[str, Any]], links: list[dict[str, Any]]) -> dict[str, Any]:
    """The body of ``POST /api/graphs``."""
    return {
        "graph": {"name": name, "description": "chaos", "nodes": nodes, "links": links},
        "source": "builder",
    }


def web_fanout(urls: list[str]) -> dict[str, Any]:
    """StepThroughItems over ``urls``; each item is POSTed by its own web-request node."""
    step = node(STEP_THROUGH, items=urls)
    call = node(WEB_REQUEST, method="POST", body={})
    return graph("web fanout", [step, call], [link(step, "item", call, "url")])


def web_pair(stores: int = 0) -> dict[str, Any]:
    """Inputs ``u0`` and ``u1``: POST to u0, then ``stores`` StoreValue nodes, then POST to u1."""
    u0, u1 = node(AGENT_INPUT, name="u0"), node(AGENT_INPUT, name="u1")
    first = node(WEB_REQUEST, method="POST", body={})
    second = node(WEB_REQUEST, method="POST")
    nodes, links = [u0, u1, first], [link(u0, "result", first, "url")]
    prev, pin = first, "response"
    for _ in range(stores):
        store = node(STORE_VALUE)
        nodes.append(store)
        links.append(link(prev, pin, store, "input"))
        prev, pin = store, "output"
    nodes.append(second)
    links += [link(u1, "result", second, "url"), link(prev, pin, second, "body")]
    return graph("web pair", nodes, links)


def echo_graph() -> dict[str, Any]:
    """Input ``x`` -> StoreValue -> output ``y``: the run's input comes back as its output."""
    x, store, y = node(AGENT_INPUT, name="x"), node(STORE_VALUE), node(AGENT_OUTPUT, name="y")
    return graph(
        "echo",
        [x, store, y],
        [link(x, "result", store, "input"), link(store, "output", y, "value")],
    )


def store_fanout(count: int) -> dict[str, Any]:
    """StepThroughItems over ``count`` numbers, each handled by its own StoreValue node."""
    step, store = node(STEP_THROUGH, items=list(range(count))), node(STORE_VALUE)
    return graph(f"fanout of {count}", [step, store], [link(step, "item", store, "input")])


# --- a REST client ---------------------------------------------------------------------------


class Api:
    """An authenticated REST client of one server."""

    def __init__(self, server: Server, user_id: str, *, role: str = "user") -> None:
        self.user_id = user_id
        self.http = httpx.AsyncClient(
            base_url=server.url,
            timeout=30,
            headers={"Authorization": f"Bearer {make_token(user_id, role=role)}"},
        )

    async def __aenter__(self) -> Api:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()

    async def create_graph(self, body: Mapping[str, Any]) -> tuple[str, int]:
        """Create a graph; its id and version."""
        response = await self.http.post("/api/graphs", json=body)
        assert response.status_code == 200, response.text
        data = response.json()
        return str(data["id"]), int(data["version"])

    async def submit(self, graph: tuple[str, int], inputs: Mapping[str, Any]) -> httpx.Response:
        """``POST /api/graphs/{id}/execute/{version}`` (the response, whatever its status)."""
        graph_id, version = graph
        # ASCII JSON (escapes), so that even a lone surrogate can be sent as a client would.
        return await self.http.post(
            f"/api/graphs/{graph_id}/execute/{version}",
            content=json.dumps({"inputs": dict(inputs)}).encode(),
            headers={"content-type": "application/json"},
        )

    async def run(self, graph: tuple[str, int], inputs: Mapping[str, Any]) -> str:
        """Submit a run that must be accepted; its id."""
        response = await self.submit(graph, inputs)
        assert response.status_code == 200, response.text
        return str(response.json()["id"])

    async def grant(self, user_id: str, amount: int) -> None:
        """Grant credits (this client must be an admin's)."""
        response = await self.http.post(
            "/api/admin/credits/grant", json={"user_id": user_id, "amount": amount}
        )
        assert response.status_code == 200, response.text


# --- reading the tables ----------------------------------------------------------------------


class Tables:
    """Direct reads of the execution tables (one asyncpg connection per call)."""

    def __init__(self, database_url: str) -> None:
        self.dsn = asyncpg_dsn(database_url)

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        """Rows as dicts, JSON columns decoded."""
        conn = await asyncpg.connect(self.dsn)
        try:
            await conn.set_type_codec(
                "jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
            )
            rows = await conn.fetch(sql, *args)
        finally:
            await conn.close()
        return [dict(row.items()) for row in rows]

    async def runs(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        """The run rows of ``ids``, by id."""
        rows = await self.fetch("SELECT * FROM graph_executions WHERE id = ANY($1::varchar[])", ids)
        return {row["id"]: row for row in rows}

    async def nodes(self, ids: list[str]) -> list[dict[str, Any]]:
        """The node rows of runs ``ids``."""
        return await self.fetch(
            "SELECT * FROM node_executions WHERE graph_exec_id = ANY($1::varchar[]) ORDER BY seq",
            ids,
        )

    async def wait_terminal(
        self,
        ids: list[str],
        timeout: float,
        *,
        poll: float = 0.1,
        explain: Callable[[], str] | None = None,
    ) -> dict[str, dict[str, Any]]:
        """Poll until every run in ``ids`` is terminal; their rows.

        AssertionError on timeout, with ``explain()`` (e.g. the servers' notable log lines).
        """
        deadline = time.monotonic() + timeout
        while True:
            rows = await self.runs(ids)
            if len(rows) == len(ids) and all(r["status"] in TERMINAL for r in rows.values()):
                return rows
            if time.monotonic() > deadline:
                left = Counter(r["status"] for r in rows.values() if r["status"] not in TERMINAL)
                missing = len(ids) - len(rows)
                raise AssertionError(
                    f"runs not terminal after {timeout:g} s: {dict(left)}, {missing} missing\n"
                    + (explain() if explain else "")
                )
            await asyncio.sleep(poll)


async def wait_for(
    check: Callable[[], Awaitable[T | None]], timeout: float, what: str, poll: float = 0.05
) -> T:
    """Poll ``check`` until it returns something not None (AssertionError after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:g} s")
        await asyncio.sleep(poll)


# --- a /ws client ------------------------------------------------------------------------------


class WsWatch:
    """A ``/ws`` client that reads every message as it comes, from a background task."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.messages: list[dict[str, Any]] = []
        self._conn: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        # Acknowledged channels, without their user prefix ("graph_exec#<id>", "graph#...").
        self._acked: set[str] = set()

    async def start(self, *subscriptions: Mapping[str, Any]) -> WsWatch:
        """Connect, send each subscription and wait for its acknowledgement."""
        self._conn = await ws_connect(self.url, max_size=None, open_timeout=10)
        self._reader = asyncio.create_task(self._read())
        for sub in subscriptions:
            await self.subscribe(sub)
        return self

    async def subscribe(self, sub: Mapping[str, Any]) -> None:
        """Send a subscription and wait until the server has answered it."""
        assert self._conn is not None, "start() first"
        channel = _channel_key(sub)
        await self._conn.send(json.dumps(sub))

        async def acked() -> bool | None:
            return True if channel in self._acked else None

        await wait_for(acked, 10, f"the answer to {sub['method']}", poll=0.01)

    async def _read(self) -> None:
        assert self._conn is not None
        try:
            async for raw in self._conn:
                message = json.loads(raw)
                self.messages.append(message)
                if message.get("success") and isinstance(message.get("channel"), str):
                    self._acked.add(message["channel"].split("|", 1)[-1])
        except ConnectionClosed:
            pass

    def count(self, predicate: Callable[[dict[str, Any]], bool]) -> int:
        """Messages so far that match ``predicate``."""
        return sum(1 for m in self.messages if predicate(m))

    def run_statuses(self, run_id: str) -> list[str]:
        """The statuses of every ``graph_execution_event`` of ``run_id`` so far, in order."""
        return [
            str(m["data"].get("status"))
            for m in self.messages
            if m.get("method") == "graph_execution_event"
            and isinstance(m.get("data"), dict)
            and m["data"].get("id") == run_id
        ]

    async def close(self) -> None:
        """Close the connection and stop reading."""
        if self._conn is not None:
            await self._conn.close()
        if self._reader is not None:
            self._reader.cancel()
            with suppress(asyncio.CancelledError):
                await self._reader


def _channel_key(sub: Mapping[str, Any]) -> str:
    """The acknowledged channel of a subscription, as ``WsWatch`` records it."""
    data = sub.get("data") or {}
    if sub["method"] == "subscribe_graph_execution":
        return f"graph_exec#{data['graph_exec_id']}"
    return f"graph#{data['graph_id']}|executions"


def subscribe_run(run_id: str) -> dict[str, Any]:
    """The ``/ws`` message that subscribes to one run."""
    return {"method": "subscribe_graph_execution", "data": {"graph_exec_id": run_id}}


def subscribe_graph(graph_id: str) -> dict[str, Any]:
    """The ``/ws`` message that subscribes to every run of a graph."""
    return {"method": "subscribe_graph_executions", "data": {"graph_id": graph_id}}
