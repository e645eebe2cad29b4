"""HumanInTheLoopBlock: pause a run until a person approves or rejects some data.

The decision picks the output pin: approved data (edited, if the person edited it) flows
out of ``approved_data``, rejected data out of ``rejected_data``; a message, when given,
out of ``review_message``. The pause itself is the executor's: the block asks through
``context.review``, the node is parked, and it runs again once the decision exists.
"""

from __future__ import annotations

from typing import Any

from autoplat.blocks.base import (
    Block,
    BlockCategory,
    BlockContext,
    BlockOutput,
    BlockOutputSchema,
    BlockSchema,
    BlockType,
    ReviewOutcome,
)
from autoplat.blocks.schema import pin
from autoplat.errors import BlockRunError


class _Approving:
    """Self-test stand-in for the executor's reviews: everything is approved unchanged."""

    async def decide(self, data: Any, *, name: str, editable: bool) -> ReviewOutcome:
        return ReviewOutcome(approved=True, data=data)


class HumanInTheLoopBlock(Block["HumanInTheLoopBlock.Input"]):
    """Pause for a person's review; the data leaves on the pin their decision picks."""

    class Input(BlockSchema):
        data: Any = pin(description="The data a person reviews; it flows on unchanged or edited.")
        name: str = pin(description="What the data is, for the reviewer.")
        editable: bool = pin(True, description="Whether the reviewer may edit the data.")

    class Output(BlockOutputSchema):
        approved_data: Any = pin(description="The data, when the reviewer approves it.")
        rejected_data: Any = pin(description="The data, when the reviewer rejects it.")
        review_message: str = pin(description="The reviewer's message, when there is one.")

    id = "8b2a7b3c-6e9d-4a5f-8c1b-2e3f4a5b6c7d"
    description = (
        "Pause execution for human review. Data flows through approved_data or "
        "rejected_data based on the reviewer's decision."
    )
    categories = (BlockCategory.BASIC,)
    block_type = BlockType.HUMAN_IN_THE_LOOP
    input_schema = Input
    output_schema = Output
    test_input = [
        {"data": {"name": "John Doe", "age": 30}, "name": "User profile data", "editable": True}
    ]
    test_output = [("approved_data", {"name": "John Doe", "age": 30})]

    @staticmethod
    def test_context(context: BlockContext) -> BlockContext:
        """The self-test's reviews approve everything."""
        import dataclasses

        return dataclasses.replace(context, review=_Approving())

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        if context.review is None:
            raise BlockRunError("human review is not available where this block runs")
        outcome = await context.review.decide(
            input_data.data, name=input_data.name, editable=input_data.editable
        )
        yield ("approved_data" if outcome.approved else "rejected_data"), outcome.data
        if outcome.message:
            yield "review_message", outcome.message
