"""GenericWebhookTriggerBlock: the payload of a webhook delivery enters the graph here.

Invariant: the block only passes on what it was given — the delivery's JSON object on
``payload`` (handed to the node by the run's start, see :data:`WEBHOOK_PAYLOAD_INPUT`) and
the ``constants`` set on the node — so a run started any other way emits an empty payload.
The ingress route, not the block, checks the webhook's secret and the payload's size.
"""

from __future__ import annotations

from typing import Any, ClassVar

from autoplat.blocks.base import (
    Block,
    BlockCategory,
    BlockContext,
    BlockOutput,
    BlockOutputSchema,
    BlockSchema,
    BlockType,
)
from autoplat.blocks.schema import pin

#: The run input a webhook delivery's payload travels in (not a graph input: no node is
#: named so); the run's start puts it on the trigger node's ``payload`` pin.
WEBHOOK_PAYLOAD_INPUT = "__webhook_payload__"


class GenericWebhookTriggerBlock(Block["GenericWebhookTriggerBlock.Input"]):
    """Starts a graph from a generic webhook: outputs the delivery's payload (AutoGPT's id)."""

    class Input(BlockSchema):
        payload: dict[str, Any] = pin(
            default_factory=dict, hidden=True, description="The delivery's JSON object."
        )
        constants: dict[str, Any] = pin(
            default_factory=dict,
            description="The constants to be set when the block is put on the graph",
        )

    class Output(BlockOutputSchema):
        payload: dict[str, Any] = pin(
            description="The complete webhook payload that was received from the generic webhook."
        )
        constants: dict[str, Any] = pin(
            description="The constants to be set when the block is put on the graph"
        )

    id = "8fa8c167-2002-47ce-aba8-97572fc5d387"
    description = "This block will output the contents of the generic input for the webhook."
    categories = (BlockCategory.INPUT,)
    block_type = BlockType.WEBHOOK_MANUAL
    input_schema = Input
    output_schema = Output
    #: The pin a webhook delivery's payload is put on when a run starts.
    webhook_payload_pin: ClassVar[str] = "payload"
    test_input = [{"constants": {"key": "value"}, "payload": {"message": "Hello, World!"}}]
    test_output = [("constants", {"key": "value"}), ("payload", {"message": "Hello, World!"})]

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        yield "constants", input_data.constants
        yield "payload", input_data.payload
