"""Sub-agent block: run another graph and relay its outputs (blocks.md §3.12)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from autoplat.blocks.base import (
    Block,
    BlockCategory,
    BlockContext,
    BlockOutput,
    BlockSchema,
    BlockType,
)
from autoplat.blocks.schema import pin
from autoplat.errors import BlockRunError


class _EchoSubgraphs:
    """Self-test stand-in for the executor: the child 'graph' echoes each input as an output."""

    def run_subgraph(
        self, *, graph_id: str, graph_version: int, inputs: Mapping[str, Any]
    ) -> AsyncIterator[tuple[str, Any]]:
        async def outputs() -> AsyncIterator[tuple[str, Any]]:
            for name, value in inputs.items():
                yield name, value

        return outputs()


class AgentExecutorBlock(Block["AgentExecutorBlock.Input"]):
    """Run another graph as a sub-agent; each of its outputs is emitted under its name.

    Pins are dynamic: links use the sub-graph's input and output names, validated against
    ``input_schema`` / ``output_schema``. The executor supplies ``context.subgraphs``.
    """

    class Input(BlockSchema):
        user_id: str = pin(description="Owner of the run.")
        graph_id: str = pin(description="Graph to run.")
        graph_version: int = pin(description="Version of that graph.")
        agent_name: str | None = pin(None, description="Display name of the sub-agent.")
        inputs: dict[str, Any] = pin(description="Inputs of the sub-graph, by name.")
        input_schema: dict[str, Any] = pin(description="JSON schema of the sub-graph inputs.")
        output_schema: dict[str, Any] = pin(description="JSON schema of the sub-graph outputs.")
        nodes_input_masks: dict[str, Any] | None = pin(None, hidden=True)

    class Output(BlockSchema):
        """No declared pins: outputs are named after the sub-graph's outputs."""

    id = "e189baac-8c20-45a1-94a7-55177ea42565"
    description = "Runs another agent and emits its outputs."
    categories = (BlockCategory.AGENT,)
    block_type = BlockType.AGENT
    input_schema = Input
    output_schema = Output
    # A whole child run happens inside this node; its own nodes have their own timeouts.
    timeout = 86400.0
    # The self-test runs with the echo stand-in bound by ``test_context_subgraphs``.
    test_input = [
        {
            "user_id": "u1",
            "graph_id": "g1",
            "graph_version": 1,
            "inputs": {"Question": "why?", "n": 2},
            "input_schema": {"type": "object", "properties": {}},
            "output_schema": {"type": "object", "properties": {}},
        }
    ]
    test_output = [("Question", "why?"), ("n", 2)]

    @classmethod
    def pack_inputs(cls, record: Mapping[str, Any]) -> dict[str, Any]:
        """Executor helper: fold link data named after sub-graph inputs into ``inputs``.

        ``record`` is the assembled node input (``input_default`` overlaid with link data);
        keys that are not pins of this block are sub-graph inputs and win over the defaults
        stored in ``input_default.inputs``.
        """
        pins = cls.Input.pin_names()
        packed = {key: value for key, value in record.items() if key in pins}
        inputs = dict(packed.get("inputs") or {})
        inputs.update({key: value for key, value in record.items() if key not in pins})
        packed["inputs"] = inputs
        return packed

    @staticmethod
    def test_subgraphs() -> _EchoSubgraphs:
        """A SubgraphRunner for self-tests, standing in for the executor."""
        return _EchoSubgraphs()

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        runner = context.subgraphs
        if runner is None:
            raise BlockRunError("this context cannot run sub-agents (no subgraph runner)")
        async for name, value in runner.run_subgraph(
            graph_id=input_data.graph_id,
            graph_version=input_data.graph_version,
            inputs=input_data.inputs,
        ):
            yield name, value
