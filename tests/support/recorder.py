"""A local HTTP service that counts the requests it is sent, per path.

Invariant: every POST is counted under its path before it is answered (so a count read
after a run has ended includes every request of that run), and the answer is JSON: the
body given for that path, else ``{"ok": true}``. Graphs of web-request nodes pointed at
it make every block run visible from outside the platform. A recorder started held counts
each request as it arrives but answers none until :meth:`Recorder.release`, so a test can
keep a server's work from racing ahead of a step it must take first. Connections are
numbered in the order they are accepted and each request is logged with its connection's
number, so a test can tell the requests a server had begun to send before some moment
(:meth:`Recorder.connections`) from those sent after it.
"""

from __future__ import annotations

import select
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Recorder(ThreadingHTTPServer):
    """Counts requests per path and answers JSON: ``bodies[path]`` or ``{"ok": true}``.

    Graphs of web-request nodes pointed at it make every block run visible from outside
    the platform, so a test can tell a node that ran twice.
    """

    daemon_threads = True

    def __init__(
        self,
        delay: float = 0.0,
        bodies: Mapping[str, bytes] | None = None,
        *,
        held: bool = False,
    ) -> None:
        super().__init__(("127.0.0.1", 0), _RecorderHandler)
        self.delay = delay
        self.bodies = dict(bodies or {})
        self.hits: Counter[str] = Counter()
        self.lock = threading.Lock()
        # (connection number, path) of every request, in the order they were counted.
        self.requests: list[tuple[int, str]] = []
        self.accepted = 0
        self._numbers: dict[socket.socket, int] = {}
        # Held across accept and numbering, so connections() never sees one accepted
        # from the kernel's queue but not yet numbered.
        self._accepting = threading.Lock()
        # Set while requests may be answered; a held recorder starts with it clear.
        self.open = threading.Event()
        if not held:
            self.open.set()

    def get_request(self) -> tuple[socket.socket, Any]:
        """Accept the next connection and number it (1, 2, ...)."""
        with self._accepting:
            request, address = super().get_request()
            with self.lock:
                self.accepted += 1
                self._numbers[request] = self.accepted
        return request, address

    def connection_number(self, request: socket.socket) -> int:
        """The number given to this accepted connection."""
        with self.lock:
            return self._numbers.pop(request, 0)

    def connections(self, timeout: float = 30.0) -> int:
        """How many connections had reached this service so far: once the kernel's queue
        of connections not yet accepted is empty, the number of the last one accepted.

        A client stopped right after it connected or sent a request is covered: its
        connection is in that queue, or numbered, even if its request is read later.
        """
        deadline = time.monotonic() + timeout
        while True:
            with self._accepting:
                waiting, _, _ = select.select([self.socket], [], [], 0)
                if not waiting:
                    with self.lock:
                        return self.accepted
            if time.monotonic() > deadline:
                raise AssertionError(f"connections still queued after {timeout:g} s")
            time.sleep(0.01)

    def paths_on(self, up_to: int) -> set[str]:
        """Paths of the requests that came on connections numbered up to ``up_to``."""
        with self.lock:
            return {path for number, path in self.requests if number <= up_to}

    def release(self) -> None:
        """Answer the held requests (each after ``delay``) and every later one."""
        self.open.set()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.server_address[1]}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: a client that went away (a killed server) is part of these tests."""

    def total(self) -> int:
        """Requests so far."""
        with self.lock:
            return sum(self.hits.values())

    def snapshot(self) -> Counter[str]:
        """A copy of the hits so far."""
        with self.lock:
            return Counter(self.hits)

    @classmethod
    @contextmanager
    def running(
        cls,
        delay: float = 0.0,
        bodies: Mapping[str, bytes] | None = None,
        *,
        held: bool = False,
    ) -> Iterator[Recorder]:
        """A recorder serving from a thread until the block ends (``held``: answering
        nothing until :meth:`release`)."""
        server = cls(delay, bodies, held=held)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield server
        finally:
            # A test that failed while holding must not leave handler threads waiting.
            server.release()
            server.shutdown()
            server.server_close()


class _RecorderHandler(BaseHTTPRequestHandler):
    server: Recorder

    def setup(self) -> None:
        super().setup()
        self.number = self.server.connection_number(self.request)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        with self.server.lock:
            self.server.hits[self.path] += 1
            self.server.requests.append((self.number, self.path))
        # Counted before it waits: a held request is visible, as one in flight would be.
        self.server.open.wait()
        if self.server.delay:
            time.sleep(self.server.delay)
        body = self.server.bodies.get(self.path, b'{"ok": true}')
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read ``hits``."""
