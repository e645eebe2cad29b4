"""OpenTelemetry traces of runs: one span per graph run, a child span per node execution.

Invariant: nothing of OpenTelemetry is imported, and nothing is exported, unless
``AUTOPLAT_OTEL_ENDPOINT`` is set. Then :meth:`RunTracing.start` (called by the platform at
its start) builds a private ``TracerProvider`` (never the global one, so two platforms in
one process keep separate traces) that batches spans to the collector over OTLP/HTTP
(protobuf), and :meth:`RunTracing.stop` flushes it within a timeout. The hooks run on the
event loop and only queue spans; the export runs in the SDK's own thread.

A span carries ids, names, statuses and durations, never inputs or outputs; a node's error
message is the one its run records, with the process's own secrets masked. A run span
covers the run's time in this process: a run resumed elsewhere gets a span there.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import SecretStr

from autoplat.config import Settings
from autoplat.db.types import utcnow
from autoplat.executions.host import LeaseLost
from autoplat.executions.run import GraphRun
from autoplat.executions.state import NodeRun
from autoplat.executions.status import ExecutionStatus
from autoplat.executions.worker import RunFailedHard
from autoplat.logging import get_logger

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Span, Tracer

log = get_logger("autoplat.executions.tracing")
S = ExecutionStatus
TRACES_PATH = "/v1/traces"
#: Longest error message a span carries (the run's record keeps the whole of it).
MAX_ERROR_CHARS = 1000
#: Seconds one export request may take before it is given up.
EXPORT_TIMEOUT = 5.0
#: The shortest flush at stop: a drain that used its whole deadline still sends the spans
#: of the runs it ended.
MIN_FLUSH_SECONDS = 0.5
#: Seconds the exporter's shutdown may take after the flush.
SHUTDOWN_SECONDS = 1.0
MASK = "**********"


def traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL of a collector's base URL (or of that URL itself)."""
    base = endpoint.rstrip("/")
    return base if base.endswith(TRACES_PATH) else base + TRACES_PATH


def _secrets(settings: Settings) -> list[str]:
    """The process's own secret values (longest first), masked in what a span carries."""
    values = {
        value.get_secret_value()
        for value in settings.model_dump().values()
        if isinstance(value, SecretStr)
    }
    # Short values (an empty key, a one-letter test value) would mask ordinary words.
    return sorted((v for v in values if len(v) >= 6), key=len, reverse=True)


def _ns(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1_000_000_000)


class RunTracing:
    """The platform's :class:`~autoplat.executions.ports.RunTracer`, idle until started."""

    def __init__(self, settings: Settings) -> None:
        self.endpoint = settings.otel_endpoint
        self.service_name = settings.otel_service_name
        self._secrets = _secrets(settings)
        self._provider: TracerProvider | None = None
        self._exporter: SpanExporter | None = None
        self._tracer: Tracer | None = None
        #: The open span of each run this process executes now (keyed by the instance: a
        #: run claimed again after a lapse is a second instance with its own span).
        self._spans: dict[GraphRun, Span] = {}

    @property
    def enabled(self) -> bool:
        """Whether traces are configured (``AUTOPLAT_OTEL_ENDPOINT``)."""
        return bool(self.endpoint)

    def start(self, instance_id: str) -> None:
        """Build the provider and its exporter (nothing happens without an endpoint)."""
        if not self.enabled or self._provider is not None:
            return
        # Imported here: a process without traces never loads OpenTelemetry.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        resource = Resource.create(
            {"service.name": self.service_name, "service.instance.id": instance_id}
        )
        # shutdown_on_exit=False: the platform's stop flushes it, with a timeout.
        provider = TracerProvider(resource=resource, shutdown_on_exit=False)
        exporter = OTLPSpanExporter(endpoint=traces_url(self.endpoint), timeout=EXPORT_TIMEOUT)
        provider.add_span_processor(BatchSpanProcessor(exporter))
        self._provider = provider
        self._exporter = exporter
        self._tracer = provider.get_tracer("autoplat.executions")
        log.info("tracing.started", endpoint=traces_url(self.endpoint))

    async def stop(self, timeout: float) -> None:
        """End what is still open, then flush and shut the exporter down within ``timeout``."""
        provider, exporter = self._provider, self._exporter
        if provider is None or exporter is None:
            return
        for run in list(self._spans):
            self.run_ended(run, asyncio.CancelledError())
        self._provider = self._exporter = None
        self._tracer = None
        seconds = max(MIN_FLUSH_SECONDS, timeout)
        # The SDK exports and joins its thread synchronously: both run off the event loop.
        try:
            # The SDK's flush ignores its own timeout (an export retries for up to
            # EXPORT_TIMEOUT): the wait is bounded here instead.
            await asyncio.wait_for(
                asyncio.to_thread(provider.force_flush, int(seconds * 1000)), seconds
            )
        except TimeoutError:
            log.warning("tracing.flush_timed_out", timeout=round(seconds, 3))
            # The export still retrying holds the processor: shutting the exporter down
            # first cuts it short (the spans of that batch are lost).
            exporter.shutdown()
        try:
            await asyncio.wait_for(asyncio.to_thread(provider.shutdown), SHUTDOWN_SECONDS)
        except TimeoutError:
            log.warning("tracing.shutdown_timed_out", timeout=SHUTDOWN_SECONDS)

    # --- the RunTracer hooks ------------------------------------------------------------

    def run_started(self, run: GraphRun) -> None:
        """Open the run's span (a sub-agent's run is a child of its parent run's span)."""
        tracer = self._tracer
        if tracer is None:
            return
        from opentelemetry import trace

        parent = self._spans.get(run.parent) if run.parent is not None else None
        attributes: dict[str, str | int] = {
            "autoplat.graph.id": run.graph_id,
            "autoplat.graph.version": run.graph_version,
            "autoplat.run.id": run.id,
            "autoplat.run.attempt": run.epoch,
            "autoplat.user.id": run.user_id,
        }
        if run.parent is not None:
            attributes["autoplat.parent_run.id"] = run.parent.id
        self._spans[run] = tracer.start_span(
            "graph_run",
            context=trace.set_span_in_context(parent) if parent is not None else None,
            attributes=attributes,
            start_time=_ns(run.started_at),
        )

    def node_ended(self, run: GraphRun, nr: NodeRun, block: str) -> None:
        """Record the node execution as a finished child span of its run's span."""
        tracer = self._tracer
        parent = self._spans.get(run)
        if tracer is None or parent is None:
            return
        from opentelemetry import trace
        from opentelemetry.trace import Status, StatusCode

        seconds = float(nr.stats.get("walltime", 0.0))
        ended = nr.ended_at or utcnow()
        attributes: dict[str, str | int | float] = {
            "autoplat.run.id": run.id,
            "autoplat.node.id": nr.node_id,
            "autoplat.node_exec.id": nr.id,
            "autoplat.block.id": nr.block_id,
            "autoplat.block.name": block,
            "autoplat.node.status": nr.status.value,
            "autoplat.node.duration_seconds": seconds,
        }
        error = self._clean(nr.error) if nr.status == S.FAILED else None
        if error is not None:
            attributes["autoplat.node.error"] = error
        # Spans are made when the node ends (its start is known then): no span stays open
        # per running node, and a node parked for review makes none until it finishes.
        span = tracer.start_span(
            block,
            context=trace.set_span_in_context(parent),
            attributes=attributes,
            start_time=_ns(nr.started_at or ended),
        )
        if nr.status == S.FAILED:
            span.set_status(Status(StatusCode.ERROR, error or "failed"))
        elif nr.status == S.COMPLETED:
            span.set_status(Status(StatusCode.OK))
        span.end(end_time=_ns(ended))

    def run_ended(self, run: GraphRun, outcome: BaseException | None) -> None:
        """Close the run's span with the status the run left this process in."""
        span = self._spans.pop(run, None)
        if span is None:
            return
        from opentelemetry.trace import Status, StatusCode

        status, error = self._outcome(run, outcome)
        span.set_attribute("autoplat.run.status", status)
        if error is not None:
            span.set_attribute("autoplat.run.error", error)
        if status == S.FAILED.value:
            span.set_status(Status(StatusCode.ERROR, error or "failed"))
        elif status == S.COMPLETED.value:
            span.set_status(Status(StatusCode.OK))
        span.end(end_time=_ns(run.ended_at) if outcome is None else None)

    def _outcome(self, run: GraphRun, outcome: BaseException | None) -> tuple[str, str | None]:
        if outcome is None:
            return run.status.value, self._clean(run.error)
        if isinstance(outcome, LeaseLost):
            return "LEASE_LOST", None  # another process holds it now: its span goes on there
        if isinstance(outcome, asyncio.CancelledError):
            return "INTERRUPTED", None  # this process stopped: the run is handed back
        if isinstance(outcome, RunFailedHard):
            return S.FAILED.value, "the run's data could not be stored"
        return S.FAILED.value, f"internal error: {type(outcome).__name__}"

    def _clean(self, text: str | None) -> str | None:
        """The message with the process's secrets masked, cut to MAX_ERROR_CHARS."""
        if text is None:
            return None
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"
