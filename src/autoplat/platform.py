"""The composition root: builds every component from explicit settings and runs them.

A process plays the roles its settings name (``AUTOPLAT_ROLES``, ``serve --role``): ``api``
serves REST, ``/ws`` and the web app and submits runs; ``worker`` claims and runs
executions; ``scheduler`` fires schedules and runs the system jobs. Every process serves
``/health``, ``/ready`` and ``/metrics``. Roles apart need PostgreSQL, through which events,
stops and wake-ups cross processes; on SQLite one process plays them all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from types import TracebackType

from starlette.applications import Starlette
from starlette.middleware import Middleware

from autoplat.accounts.auth import Authenticator
from autoplat.api import metrics as metrics_routes
from autoplat.api.app import create_app
from autoplat.api.errors import EXCEPTION_HANDLERS
from autoplat.api.metrics import Metrics
from autoplat.api.middleware import RequestContextMiddleware
from autoplat.api.ratelimit import RateLimiter
from autoplat.api.routes import health
from autoplat.api.server import HttpServer
from autoplat.blocks.outbound import OutboundHttp
from autoplat.blocks.registry import BlockRegistry
from autoplat.blocks.settings import BlockSettings
from autoplat.config import ROLES, Settings
from autoplat.credits.service import CreditService
from autoplat.db.manager import DatabaseManager
from autoplat.db.migrate import ensure_current, migrate_to_head
from autoplat.errors import ConfigError
from autoplat.executions.manager import ExecutionManager
from autoplat.executions.tracing import RunTracing
from autoplat.integrations.service import CredentialsService
from autoplat.logging import get_logger
from autoplat.notifications.jobs import install_notification_jobs
from autoplat.notifications.service import NotificationService
from autoplat.scheduler.scheduler import Scheduler

log = get_logger("autoplat.platform")


class Platform:
    """``async with Platform(settings) as platform:`` runs the whole platform in this loop.

    Components start in order (database, executions, scheduler, HTTP server) and stop in
    reverse, all of them within ONE ``settings.drain_timeout``. A critical loop that cannot
    recover sets :attr:`fatal` (``autoplat serve`` then exits non-zero). Only the parts of
    :attr:`roles` run; the others are built but idle.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        serve_http: bool = True,
        own_runs_only: bool = False,
        blocks: BlockRegistry | None = None,
    ) -> None:
        self.settings = settings
        self.serve_http = serve_http
        #: What this process does: a subset of ``api``, ``worker``, ``scheduler``.
        self.roles = settings.role_set
        # A command that runs one graph here (``autoplat run``) beside a server on the same
        # database: it claims only the runs it submitted and fires no schedules.
        self.own_runs_only = own_runs_only
        #: Set when a critical component gave up; the reason is in :attr:`fatal_reason`.
        self.fatal = asyncio.Event()
        self.fatal_reason = ""
        self._deadline: float | None = None
        self._started = False
        self._scheduling = False
        self.blocks = blocks or BlockRegistry.builtin().with_cost_overrides(settings.block_costs)
        self.db = DatabaseManager(settings)
        self.block_settings = BlockSettings.from_settings(settings)
        self.outbound = OutboundHttp(self.block_settings)
        self.auth = Authenticator(settings, self.db)
        self.rate_limiter = RateLimiter(settings.run_rate_limit)
        self.metrics = Metrics(self.db)
        self.notifications = NotificationService(settings, self.db)
        self.credits = CreditService(settings, self.db, self.blocks, notifier=self.notifications)
        self.credentials = CredentialsService(settings, self.db, self.blocks)
        #: Traces of runs (AUTOPLAT_OTEL_ENDPOINT); its exporter exists only while started.
        self.tracing = RunTracing(settings)
        self.executions = ExecutionManager(
            settings,
            self.db,
            self.blocks,
            credits=self.credits,
            credentials=self.credentials,
            outbound=self.outbound,
            block_settings=self.block_settings,
            own_runs_only=own_runs_only,
            runs_work="worker" in self.roles,
            observer=self.metrics,
            tracer=self.tracing if self.tracing.enabled else None,
            on_fatal=self._on_fatal,
        )
        self.scheduler = Scheduler(settings, self.db, self.executions)
        install_notification_jobs(self.scheduler.jobs, self.notifications)
        self.metrics.add_counters(
            "autoplat_schedule_fires",
            "Schedule fires handled by this process, by outcome.",
            "outcome",
            lambda: self.scheduler.counters,
        )
        self.metrics.add_roles(self.role_health)
        self.app: Starlette = create_app(self) if "api" in self.roles else probe_app(self)
        self.server: HttpServer | None = None
        self._stack = AsyncExitStack()

    async def __aenter__(self) -> Platform:
        try:
            await self._start()
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        log.info("platform.stopping")
        self._started = False  # the roles are going: /metrics says so while the drain runs
        self._deadline = asyncio.get_running_loop().time() + self.settings.drain_timeout
        await self._stack.aclose()
        log.info("platform.stopped")

    def _bounded(self, stop: Callable[[float], Awaitable[None]], share: float) -> None:
        """Stop with ``share`` of what is left of the one drain deadline."""

        async def call() -> None:
            loop = asyncio.get_running_loop()
            deadline = self._deadline or loop.time() + self.settings.drain_timeout
            await stop(max(0.0, deadline - loop.time()) * share)

        self._stack.push_async_callback(call)

    def _on_fatal(self, component: str) -> None:
        if not self.fatal.is_set():
            self.fatal_reason = f"{component} failed repeatedly and was given up on"
            log.critical("platform.fatal", reason=self.fatal_reason)
            self.fatal.set()

    def role_health(self) -> dict[str, bool]:
        """Each role this process plays -> whether its parts are running and healthy."""
        alive = self._started and not self.fatal.is_set()
        failing = set(self.executions.failing()) if alive else set()
        health = {
            # Submits, stops and events need the database writer and, on PostgreSQL, the
            # listener; the HTTP server answering is what this scrape proves.
            "api": alive and not failing & {"flusher", "listen", "notify"},
            "worker": alive and not failing,
            "scheduler": alive and self._scheduling,
        }
        return {role: health[role] for role in sorted(self.roles)}

    def problems(self) -> list[str]:
        """Why the process is not ready (empty when it is)."""
        failing = [f"{name} is failing" for name in self.executions.failing()]
        return [self.fatal_reason, *failing] if self.fatal.is_set() else failing

    async def _start(self) -> None:
        if self.roles != frozenset(ROLES) and not self.settings.is_postgres:
            raise ConfigError(
                f"serving only the role(s) {', '.join(sorted(self.roles))} needs PostgreSQL "
                "(events, stops and wake-ups cross processes through it); on SQLite one "
                "process plays every role: serve without --role or AUTOPLAT_ROLES"
            )
        self._stack.push_async_callback(self.outbound.aclose)
        self._stack.push_async_callback(self.credentials.aclose)
        await self.db.connect()
        self._stack.push_async_callback(self.db.disconnect)
        if self.settings.migrate_on_start:
            await migrate_to_head(self.db.engine)
        else:
            await ensure_current(self.db.engine)
        # Before any work starts; after the database, so a bad URL generates no local key.
        self.credentials.load_keys()
        # Before the runs start, and flushed after they stopped (callbacks run in reverse).
        self.tracing.start(self.executions.owner)
        self._bounded(self.tracing.stop, 1.0)
        await self.executions.start()
        self._bounded(self.executions.stop, 1.0)
        # Runs end where they execute: that process records their notifications.
        await self.notifications.start(self.executions.bus if "worker" in self.roles else None)
        self._bounded(self.notifications.stop, 0.2)
        if self.settings.scheduler_enabled and "scheduler" in self.roles and not self.own_runs_only:
            await self.scheduler.start()
            self._scheduling = True
            self._bounded(self.scheduler.stop, 0.2)
        if self.serve_http:
            self.server = HttpServer(self.app, self.settings)
            await self.server.start()
            if not self.settings.frontend_base_url:
                self.notifications.public_url = self.server.url
            # Open requests (and WebSockets) get a third: running work needs the rest.
            self._bounded(self.server.stop, 1 / 3)
        self._started = True
        log.info("platform.started", database=self.db.dialect, roles=sorted(self.roles))

    @property
    def url(self) -> str:
        """The base URL of the HTTP server."""
        if self.server is None:
            raise ConfigError("the HTTP server is not running")
        return self.server.url


def probe_app(platform: Platform) -> Starlette:
    """The app of a process without the api role: ``/health``, ``/ready`` and ``/metrics``."""
    app = Starlette(
        routes=[*health.routes(), *metrics_routes.routes()],
        middleware=[
            Middleware(
                RequestContextMiddleware,
                max_body_bytes=platform.settings.max_body_bytes,
                metrics=platform.metrics,
            )
        ],
        exception_handlers=EXCEPTION_HANDLERS,
    )
    app.state.platform = platform
    return app
