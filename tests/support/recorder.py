"""A local HTTP service that counts the requests it is sent, per path.

Invariant: every POST is counted under its path before it is answered (so a count read
after a run has ended includes every request of that run), and the answer is JSON: the
body given for that path, else ``{"ok": true}``. Graphs of web-request nodes pointed at
it make every block run visible from outside the platform.
"""

from __future__ import annotations

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

    def __init__(self, delay: float = 0.0, bodies: Mapping[str, bytes] | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _RecorderHandler)
        self.delay = delay
        self.bodies = dict(bodies or {})
        self.hits: Counter[str] = Counter()
        self.lock = threading.Lock()

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
        cls, delay: float = 0.0, bodies: Mapping[str, bytes] | None = None
    ) -> Iterator[Recorder]:
        """A recorder serving from a thread until the block ends."""
        server = cls(delay, bodies)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield server
        finally:
            server.shutdown()
            server.server_close()


class _RecorderHandler(BaseHTTPRequestHandler):
    server: Recorder

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        with self.server.lock:
            self.server.hits[self.path] += 1
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
