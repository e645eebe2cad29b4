"""A row the database refuses fails its own run and nothing else: the flusher splits the
write until the run at fault stands alone (PostgreSQL: SQLite stores what it is given)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from autoplat.blocks.base import Block, BlockContext, BlockOutput, BlockOutputSchema, BlockSchema
from autoplat.testing import PG_ENV
from tests.support import graphs as tk
from tests.support.graphs import link, node, output_node

pytestmark = pytest.mark.skipif(
    not os.environ.get(PG_ENV), reason="SQLite does not enforce column lengths"
)
USER = "user-a"


class LongIdBlock(Block["LongIdBlock.Input"]):
    """Test-only: its id is longer than node_executions.block_id allows (VARCHAR(36))."""

    class Input(BlockSchema):
        value: int = 0

    class Output(BlockOutputSchema):
        value: int = 0

    id = "00000000-0000-4000-8000-0000000000ff-too-long"
    input_schema = Input
    output_schema = Output

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        yield "value", input_data.value


async def test_an_unstorable_row_fails_only_its_run(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    settings = tk.exec_settings(autoplat_database_url, tmp_path)
    async with tk.exec_platform(settings, extra_blocks=[LongIdBlock()]) as platform:
        start = node(tk.STORE_VALUE, input=1)
        bad = node(LongIdBlock.id)
        poisoned = tk.graph([start, bad], [link(start, "output", bad, "value")])
        saved_bad = await tk.save_graph(platform.db, USER, poisoned)
        good = tk.graph(
            [s := node(tk.STORE_VALUE, input=2), o := output_node("out")],
            [link(s, "output", o, "value")],
        )
        saved_good = await tk.save_graph(platform.db, USER, good)
        runs = []
        for index in range(20):
            saved = saved_bad if index == 7 else saved_good
            runs.append(
                await platform.executions.submit(
                    user_id=USER, graph_id=saved.id, graph_version=saved.version, inputs={}
                )
            )
        rows = [await tk.wait_for_run(platform.db, run_id, timeout=20) for run_id in runs]
        statuses = [row.status for row in rows]
        assert statuses[7] == "FAILED"
        assert statuses[:7] + statuses[8:] == ["COMPLETED"] * 19
        assert rows[7].error == (
            "the run's data could not be stored: StringDataRightTruncationError"
        )
        assert {n.status for n in await platform.db.executions.get_nodes(runs[7])} <= {
            "COMPLETED",
            "TERMINATED",
        }
        await asyncio.sleep(0.2)
        assert platform.problems() == []  # the process stays ready
