"""The HTTP server: uvicorn run as an owned task on the platform's event loop.

Invariant: a server that cannot start raises ConfigError from :meth:`HttpServer.start`
(a port held by another process names the address); uvicorn's own way out, exiting the
process, never leaves its task.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
from collections.abc import Generator

import uvicorn
from starlette.types import ASGIApp

from autoplat.config import Settings
from autoplat.errors import ConfigError
from autoplat.logging import get_logger

log = get_logger("autoplat.api")


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its own signal handling: the platform owns SIGINT/SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class HttpServer:
    """Serves the ASGI app on the configured host and port until stopped."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        config = uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            lifespan="off",
            ws="websockets-sansio",
            timeout_graceful_shutdown=max(1, int(settings.drain_timeout)),
        )
        self._server = _EmbeddedServer(config)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Bind the socket and start serving; raise ConfigError when the port is taken."""
        await self._check_address()
        self._task = asyncio.create_task(self._serve(), name="api:uvicorn")
        while not self._server.started:
            if self._task.done():
                exc = self._task.exception() if not self._task.cancelled() else None
                raise ConfigError(f"HTTP server failed to start: {exc or 'could not bind'}")
            await asyncio.sleep(0.01)
        log.info("api.listening", url=self.url)

    async def _check_address(self) -> None:
        """Refuse an address another process holds, with the reason, before uvicorn tries."""
        host, port = self._server.config.host, self._server.config.port
        if port == 0:  # any free port: nothing to hold
            return
        try:
            probe = await asyncio.get_running_loop().create_server(asyncio.Protocol, host, port)
        except OSError as exc:
            why = "address already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
            hint = " (another process listens there: --port or AUTOPLAT_PORT picks another)"
            raise ConfigError(
                f"cannot listen on {host}:{port}: {why or os.strerror(exc.errno or 0)}"
                + (hint if exc.errno == errno.EADDRINUSE else "")
            ) from None
        probe.close()
        await probe.wait_closed()

    async def _serve(self) -> None:
        try:
            await self._server.serve()
        except SystemExit as exc:
            # uvicorn exits when it cannot start; here that fails this task, not the process
            # (a SystemExit would leave the event loop itself).
            raise RuntimeError(f"uvicorn could not start (exit {exc.code})") from None

    @property
    def port(self) -> int:
        """The bound port (useful when the setting was 0)."""
        sock = self._server.servers[0].sockets[0]
        return int(sock.getsockname()[1])

    @property
    def url(self) -> str:
        """The base URL of the server."""
        host = self._server.config.host
        return f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{self.port}"

    async def stop(self, timeout: float) -> None:
        """Stop accepting connections and let open requests finish, up to ``timeout``."""
        if self._task is None:
            return
        self._server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout)
        except TimeoutError:
            self._server.force_exit = True
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
        self._task = None
