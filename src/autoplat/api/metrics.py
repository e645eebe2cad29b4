"""Prometheus metrics: HTTP requests and latencies, plus database counts read at scrape time.

The registry belongs to the platform (never prometheus_client's global default), so two
platforms in one process (tests) keep separate numbers. Request metrics are per process;
the database gauges (executions by status, queue depth, node runs, credits spent) are
cluster-wide and cached for a few seconds so that frequent scrapes stay cheap.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING

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
        self._database = _DatabaseCollector()
        self.registry.register(self._database)
        self._refreshed_at = float("-inf")

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
