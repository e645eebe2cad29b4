"""Prometheus metrics: HTTP requests and latencies, plus database counts read at scrape time.

The registry belongs to the platform (never prometheus_client's global default), so two
platforms in one process (tests) keep separate numbers. Request metrics are per process;
the database gauges (executions by status, queue depth, node runs, credits spent) are
cluster-wide and cached for a few seconds so that frequent scrapes stay cheap. Per process
too: block durations and queue waits (observed by the execution core through
:class:`ExecutionObserver`) and whether each role of the process is alive.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from autoplat.db.stats import StatsSnapshot

if TYPE_CHECKING:
    from autoplat.db.manager import DatabaseManager

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: Block runs and queue waits span milliseconds (values, text) to minutes (LLMs, countdowns).
_WORK_BUCKETS = (0.001, 0.005, 0.025, 0.1, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0, 300.0)


class ExecutionObserver(Protocol):
    """What the execution core reports for the metrics (the hooks it calls)."""

    def observe_node_end(self, block: str, status: str, seconds: float) -> None:
        """A node execution of ``block`` (its name) ended with ``status`` after ``seconds``."""

    def observe_queue_wait(self, seconds: float) -> None:
        """A run started ``seconds`` after it was queued."""


class _RoleCollector(Collector):
    """``autoplat_role_up{role}``: 1 for each role this process plays while it is healthy."""

    def __init__(self, read: Callable[[], Mapping[str, bool]]) -> None:
        self.read = read

    @staticmethod
    def _family() -> GaugeMetricFamily:
        return GaugeMetricFamily(
            "autoplat_role_up",
            "1 while this process plays the role and its parts are healthy, else 0.",
            labels=["role"],
        )

    def describe(self) -> Iterator[Metric]:
        # Registration describes collectors: without this it would read the roles (and the
        # platform's loops) before anything runs.
        yield self._family()

    def collect(self) -> Iterator[Metric]:
        family = self._family()
        for role, up in sorted(self.read().items()):
            family.add_metric([role], 1.0 if up else 0.0)
        yield family


class _DatabaseCollector(Collector):
    """Turns the last StatsSnapshot into metric families when the registry is scraped."""

    def __init__(self) -> None:
        self.snapshot = StatsSnapshot()

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot
        runs = GaugeMetricFamily(
            "autoplat_executions", "Graph executions by status.", labels=["status"]
        )
        for status, count in sorted(snap.executions_by_status.items()):
            runs.add_metric([status], count)
        yield runs
        yield GaugeMetricFamily(
            "autoplat_queue_depth", "Graph executions waiting for a worker.", snap.queue_depth
        )
        nodes = CounterMetricFamily(
            "autoplat_node_runs", "Node executions stored, by status.", labels=["status"]
        )
        for status, count in sorted(snap.node_runs_by_status.items()):
            nodes.add_metric([status], count)
        yield nodes
        yield CounterMetricFamily(
            "autoplat_credits_spent", "Credits charged for usage.", snap.credits_spent
        )
        yield GaugeMetricFamily("autoplat_users", "Known users.", snap.users)


class _CounterSource(Collector):
    """A per-process counter family read from a component's own counters at scrape time."""

    def __init__(
        self, name: str, documentation: str, label: str, read: Callable[[], Mapping[str, int]]
    ) -> None:
        self.name, self.documentation, self.label, self.read = name, documentation, label, read

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(self.name, self.documentation, labels=[self.label])
        for value, count in sorted(self.read().items()):
            family.add_metric([value], count)
        yield family


class Metrics:
    """The platform's metrics registry and the instruments the API middleware updates."""

    def __init__(self, db: DatabaseManager, refresh_seconds: float = 5.0) -> None:
        self.db = db
        self.refresh_seconds = refresh_seconds
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "autoplat_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "autoplat_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template.",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.block_duration = Histogram(
            "autoplat_block_duration_seconds",
            "Time a node execution took, by block and end status (this process's runs).",
            ["block", "status"],
            buckets=_WORK_BUCKETS,
            registry=self.registry,
        )
        self.queue_wait = Histogram(
            "autoplat_queue_wait_seconds",
            "Time from a run's submit to its start (runs this process started).",
            buckets=_WORK_BUCKETS,
            registry=self.registry,
        )
        self._database = _DatabaseCollector()
        self.registry.register(self._database)
        self._refreshed_at = float("-inf")

    def add_roles(self, read: Callable[[], Mapping[str, bool]]) -> None:
        """Export the liveness of this process's roles (role -> healthy, read at scrape)."""
        self.registry.register(_RoleCollector(read))

    def observe_node_end(self, block: str, status: str, seconds: float) -> None:
        """Count one node execution that ended (an :class:`ExecutionObserver` hook)."""
        self.block_duration.labels(block, status).observe(max(0.0, seconds))

    def observe_queue_wait(self, seconds: float) -> None:
        """Count one run's wait between submit and start (an :class:`ExecutionObserver` hook)."""
        self.queue_wait.observe(max(0.0, seconds))

    def add_counters(
        self, name: str, documentation: str, label: str, read: Callable[[], Mapping[str, int]]
    ) -> None:
        """Export a component's in-process counters (a label value -> count mapping)."""
        self.registry.register(_CounterSource(name, documentation, label, read))

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request."""
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    async def refresh(self) -> None:
        """Re-read the database counts unless they are fresh enough."""
        now = time.monotonic()
        if now - self._refreshed_at < self.refresh_seconds:
            return
        self._database.snapshot = await self.db.stats.snapshot()
        self._refreshed_at = now

    async def render(self) -> bytes:
        """The exposition text of every metric."""
        await self.refresh()
        return generate_latest(self.registry)


async def metrics_endpoint(request: Request) -> Response:
    """Prometheus metrics in the text exposition format."""
    metrics: Metrics = request.app.state.platform.metrics
    return Response(await metrics.render(), media_type=CONTENT_TYPE_LATEST)


def routes() -> list[BaseRoute]:
    """The ``/metrics`` route, mounted at the root."""
    return [Route("/metrics", metrics_endpoint, methods=["GET"])]
