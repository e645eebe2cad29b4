"""An in-process OpenTelemetry collector for tests: OTLP/HTTP traces, protobuf encoded.

It answers ``POST /v1/traces`` as the OTLP specification says a collector does: the body
is an ``ExportTraceServiceRequest`` (``Content-Type: application/x-protobuf``, optionally
gzip-encoded), the answer an ``ExportTraceServiceResponse``; anything else is 415. Every
span received is kept, flattened, with its resource's attributes. Nothing runs at import.
"""

from __future__ import annotations

import contextlib
import gzip
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Status
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support.servers import serve

PROTOBUF = "application/x-protobuf"
Scalar = str | int | float | bool


def _value(value: AnyValue) -> Scalar:
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "int_value":
        return value.int_value
    if kind == "double_value":
        return value.double_value
    if kind == "bool_value":
        return value.bool_value
    raise AssertionError(f"unexpected attribute value kind {kind!r}")


def _attributes(pairs: list[KeyValue]) -> dict[str, Scalar]:
    return {pair.key: _value(pair.value) for pair in pairs}


@dataclass(frozen=True)
class CollectedSpan:
    """One span as the collector received it (ids in hex, status by its OTLP name)."""

    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    attributes: dict[str, Scalar]
    status: str
    status_message: str
    start_ns: int
    end_ns: int
    resource: dict[str, Scalar]


@dataclass
class OtlpCollector:
    """The spans received so far, and how many requests reached ``/v1/traces``."""

    spans: list[CollectedSpan] = field(default_factory=list)
    requests: int = 0
    url: str = ""

    async def _traces(self, request: Request) -> Response:
        self.requests += 1
        if request.headers.get("content-type", "").split(";")[0].strip() != PROTOBUF:
            return Response(status_code=415)
        body = await request.body()
        if request.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        export = ExportTraceServiceRequest()
        export.ParseFromString(body)
        for resource_spans in export.resource_spans:
            resource = _attributes(list(resource_spans.resource.attributes))
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    self.spans.append(
                        CollectedSpan(
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex(),
                            name=span.name,
                            attributes=_attributes(list(span.attributes)),
                            status=Status.StatusCode.Name(span.status.code),
                            status_message=span.status.message,
                            start_ns=span.start_time_unix_nano,
                            end_ns=span.end_time_unix_nano,
                            resource=resource,
                        )
                    )
        answer = ExportTraceServiceResponse().SerializeToString()
        return Response(answer, media_type=PROTOBUF)

    def app(self) -> Starlette:
        """The collector's ASGI app."""
        return Starlette(routes=[Route("/v1/traces", self._traces, methods=["POST"])])

    def named(self, name: str) -> list[CollectedSpan]:
        """The spans received with this name."""
        return [span for span in self.spans if span.name == name]

    def children(self, parent: CollectedSpan) -> list[CollectedSpan]:
        """The spans received whose parent is ``parent``."""
        return [
            s
            for s in self.spans
            if s.parent_span_id == parent.span_id and s.trace_id == parent.trace_id
        ]


@contextlib.asynccontextmanager
async def otlp_collector() -> AsyncIterator[OtlpCollector]:
    """A collector listening on a free 127.0.0.1 port (its base URL in ``url``)."""
    collector = OtlpCollector()
    async with serve(collector.app()) as url:
        collector.url = url
        yield collector
