"""A run's task logs with its ids bound, so every line a block or node logs names its run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import structlog

from autoplat.blocks.base import Block, BlockContext, BlockOutput, BlockOutputSchema, BlockSchema
from tests.support import graphs as tk
from tests.support.graphs import node, output_node


class LogContextBlock(Block["LogContextBlock.Input"]):
    """Test-only block: emits the structlog context variables bound where it runs."""

    class Input(BlockSchema):
        pass

    class Output(BlockOutputSchema):
        context: dict[str, Any] = {}

    id = "00000000-0000-4000-8000-00000000c0de"
    input_schema = Input
    output_schema = Output

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        yield "context", dict(structlog.contextvars.get_contextvars())


async def test_a_runs_ids_are_bound_for_its_logs(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    settings = tk.exec_settings(autoplat_database_url, tmp_path)
    async with tk.exec_platform(settings, extra_blocks=[LogContextBlock()]) as platform:
        probe = node(LogContextBlock.id)
        out = output_node("ctx")
        graph = tk.graph([probe, out], [tk.link(probe, "context", out, "value")])
        row, _ = await tk.run_graph(platform, graph, user_id="user-log")
    assert row.status == "COMPLETED"
    [bound] = row.outputs["ctx"]
    assert bound["graph_exec_id"] == row.id
    assert bound["graph_id"] == row.graph_id
    assert bound["user_id"] == "user-log"
