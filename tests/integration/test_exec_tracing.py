"""Traces of runs (AUTOPLAT_OTEL_ENDPOINT): a run span with a child span per node execution,
sent over OTLP/HTTP to an in-process collector; without the setting nothing is sent and
OpenTelemetry is never imported."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from autoplat.blocks.base import Block, BlockContext, BlockOutput, BlockOutputSchema, BlockSchema
from autoplat.executions.tracing import SHUTDOWN_SECONDS
from autoplat.testing import free_port
from tests.support import graphs as tk
from tests.support.graphs import STORE_VALUE, input_node, node, output_node
from tests.support.otlp import CollectedSpan, otlp_collector

SECRET = "sk-trace-secret-0123456789"
REPO = Path(__file__).resolve().parents[2]


class RefusingBlock(Block["RefusingBlock.Input"]):
    """Test-only block: fails, naming the key it was given in its error."""

    class Input(BlockSchema):
        key: str = ""
        trigger: Any = None

    class Output(BlockOutputSchema):
        value: str = ""

    id = "00000000-0000-4000-8000-0000000077ac"
    input_schema = Input
    output_schema = Output

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        raise ValueError(f"the service refused the key {input_data.key}")
        yield "value", ""  # pragma: no cover - makes this an async generator


def _run_span(spans: list[CollectedSpan], run_id: str) -> CollectedSpan:
    [span] = [
        s for s in spans if s.name == "graph_run" and s.attributes["autoplat.run.id"] == run_id
    ]
    return span


async def test_a_run_is_one_span_with_a_child_span_per_node_execution(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    async with otlp_collector() as collector:
        settings = tk.exec_settings(
            autoplat_database_url,
            tmp_path,
            otel_endpoint=collector.url,
            otel_service_name="autoplat-test",
        )
        async with tk.exec_platform(settings) as platform:
            owner = platform.executions.owner
            row, nodes = await tk.run_graph(platform, tk.chain_graph(1), {"x": 7}, user_id="u-tr")
        # The stop flushed the batch: every span is at the collector once the platform is gone.
    assert row.status == "COMPLETED"
    run = _run_span(collector.spans, row.id)
    assert run.parent_span_id == ""
    assert run.status == "STATUS_CODE_OK"
    assert run.attributes == {
        "autoplat.graph.id": row.graph_id,
        "autoplat.graph.version": row.graph_version,
        "autoplat.run.id": row.id,
        "autoplat.run.attempt": 1,
        "autoplat.user.id": "u-tr",
        "autoplat.run.status": "COMPLETED",
    }
    assert run.resource["service.name"] == "autoplat-test"
    assert run.resource["service.instance.id"] == owner

    children = collector.children(run)
    assert len(children) == 3 == len(nodes)
    by_exec = {span.attributes["autoplat.node_exec.id"]: span for span in children}
    for row_node in nodes:
        span = by_exec[row_node.id]
        assert span.trace_id == run.trace_id
        assert span.status == "STATUS_CODE_OK"
        assert span.attributes["autoplat.node.id"] == row_node.node_id
        assert span.attributes["autoplat.block.id"] == row_node.block_id
        assert span.attributes["autoplat.node.status"] == "COMPLETED"
        assert span.attributes["autoplat.run.id"] == row.id
        assert span.name == span.attributes["autoplat.block.name"]
        assert 0 <= float(span.attributes["autoplat.node.duration_seconds"]) < 10
        assert run.start_ns <= span.start_ns <= span.end_ns <= run.end_ns
        assert "autoplat.node.error" not in span.attributes
    names = sorted(span.name for span in children)
    assert names == ["AgentInputBlock", "AgentOutputBlock", "StoreValueBlock"]
    assert len(collector.spans) == 4  # nothing else: no span per database call or request


async def test_a_failed_node_and_its_run_are_error_spans_with_secrets_masked(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    async with otlp_collector() as collector:
        settings = tk.exec_settings(
            autoplat_database_url, tmp_path, otel_endpoint=collector.url, llm_api_key=SECRET
        )
        async with tk.exec_platform(settings, extra_blocks=[RefusingBlock()]) as platform:
            first = node(STORE_VALUE, input="hello")
            refusing = node(RefusingBlock.id, key=SECRET)
            out = output_node("never")
            graph = tk.graph(
                [first, refusing, out],
                [
                    tk.link(first, "output", refusing, "trigger"),
                    tk.link(refusing, "value", out, "value"),
                ],
            )
            row, nodes = await tk.run_graph(platform, graph, user_id="u-fail")
    assert row.status == "FAILED"
    run = _run_span(collector.spans, row.id)
    assert run.status == "STATUS_CODE_ERROR"
    assert run.attributes["autoplat.run.status"] == "FAILED"
    assert SECRET not in run.status_message and "refused the key" in run.status_message
    assert run.status_message == run.attributes["autoplat.run.error"]

    children = collector.children(run)
    assert sorted(s.attributes["autoplat.node.status"] for s in children) == [
        "COMPLETED",
        "FAILED",
    ]  # the output node never ran: no span for it
    [failed] = [s for s in children if s.attributes["autoplat.node.status"] == "FAILED"]
    [failed_row] = [n for n in nodes if n.status == "FAILED"]
    assert failed.attributes["autoplat.node_exec.id"] == failed_row.id
    assert failed.status == "STATUS_CODE_ERROR"
    assert failed.status_message == ("ValueError: the service refused the key **********")
    assert failed.attributes["autoplat.node.error"] == failed.status_message
    assert failed_row.error is not None and SECRET in failed_row.error  # the run's own record
    assert all(SECRET not in json.dumps(s.attributes) for s in collector.spans)


async def test_a_sub_agents_run_span_is_a_child_of_its_parent_runs_span(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    async with otlp_collector() as collector:
        settings = tk.exec_settings(autoplat_database_url, tmp_path, otel_endpoint=collector.url)
        async with tk.exec_platform(settings) as platform:
            child = await tk.save_graph(platform.db, "u-sub", tk.chain_graph(1))
            agent = node(
                tk.AGENT_EXECUTOR,
                user_id="u-sub",
                graph_id=child.id,
                graph_version=child.version,
                inputs={},
                input_schema={"type": "object", "properties": {"x": {}}, "required": ["x"]},
                output_schema={"type": "object", "properties": {"result": {}}},
            )
            question = input_node("question")
            out = output_node("final")
            graph = tk.graph(
                [question, agent, out],
                [
                    tk.link(question, "result", agent, "x"),
                    tk.link(agent, "result", out, "value"),
                ],
            )
            row, _ = await tk.run_graph(platform, graph, {"question": 3}, user_id="u-sub")
    assert row.status == "COMPLETED", row.error
    parent = _run_span(collector.spans, row.id)
    [sub] = [s for s in collector.children(parent) if s.name == "graph_run"]
    assert sub.attributes["autoplat.parent_run.id"] == row.id
    assert sub.attributes["autoplat.graph.id"] == child.id
    assert sub.attributes["autoplat.run.status"] == "COMPLETED"
    assert len(collector.children(sub)) == 3  # the child graph's own nodes
    assert len(collector.children(parent)) == 4  # three nodes and the sub-agent's run


async def test_a_collector_that_is_down_costs_runs_nothing_and_the_stop_stays_bounded(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    settings = tk.exec_settings(
        autoplat_database_url, tmp_path, otel_endpoint=nobody, drain_timeout=1.0
    )
    async with tk.exec_platform(settings) as platform:
        row, _ = await tk.run_graph(platform, tk.chain_graph(1), {"x": 1})
        loop = asyncio.get_running_loop()
        left_at = loop.time()
    took = loop.time() - left_at
    assert row.status == "COMPLETED"
    # The drain, then the exporter's shutdown, cut short (the export would retry for 5 s).
    assert took < 1.0 + SHUTDOWN_SECONDS + 1.5, took


_NO_ENDPOINT_SCRIPT = """
import asyncio, json, sys
from pathlib import Path
from tests.support import graphs as tk

async def main() -> None:
    settings = tk.exec_settings(sys.argv[1], Path(sys.argv[2]))
    async with tk.exec_platform(settings) as platform:
        row, _ = await tk.run_graph(platform, tk.chain_graph(1), {"x": 1})
    loaded = sorted(name for name in sys.modules if name.startswith("opentelemetry"))
    print(json.dumps({"status": row.status, "loaded": loaded}))

asyncio.run(main())
"""


async def test_without_an_endpoint_nothing_is_exported_and_opentelemetry_is_not_imported(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    async with otlp_collector() as collector:
        # The SDK's own variables point at the collector: only AUTOPLAT_OTEL_ENDPOINT counts.
        env = {
            **os.environ,
            "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
            "OTEL_TRACES_EXPORTER": "otlp",
        }
        env.pop("AUTOPLAT_OTEL_ENDPOINT", None)
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _NO_ENDPOINT_SCRIPT,
            autoplat_database_url,
            str(tmp_path),
            cwd=REPO,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    result = json.loads(out.decode().strip().splitlines()[-1])
    assert result == {"status": "COMPLETED", "loaded": []}
    assert collector.requests == 0
