"""LLM blocks inside runs: the calls and tokens a node used are in its statistics."""

from __future__ import annotations

from pathlib import Path

from autoplat.blocks.builtin.llm import AITextGeneratorBlock
from tests.support import graphs as tk
from tests.support.graphs import link, node, output_node
from tests.support.servers import FakeLlm, serve


async def test_a_node_records_the_llm_calls_and_tokens_it_used(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    fake = FakeLlm()
    fake.replies = ["a haiku"]
    async with serve(fake.app()) as url:
        settings = tk.exec_settings(
            autoplat_database_url, tmp_path, llm_base_url=f"{url}/v1", llm_api_key="sk-test"
        )
        async with tk.exec_platform(settings) as platform:
            writer = node(AITextGeneratorBlock.id, prompt="write a haiku", model="gpt-4o-mini")
            out = output_node("text")
            g = tk.graph([writer, out], [link(writer, "response", out, "value")])
            row, nodes = await tk.run_graph(platform, g)
    assert row.status == "COMPLETED", row.error
    assert row.outputs == {"text": ["a haiku"]}
    stats = next(n.stats for n in nodes if n.node_id == writer.id)
    assert stats is not None
    assert stats["llm_call_count"] == 1
    assert stats["input_token_count"] == 11 and stats["output_token_count"] == 7
