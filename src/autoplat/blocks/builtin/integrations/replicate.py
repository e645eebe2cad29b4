"""Flux models on Replicate: AutoGPT's ``ReplicateFluxAdvancedModelBlock``.

Invariants: a prediction is created on the model's ``/v1/models/{owner}/{name}/predictions``
without asking Replicate to hold the request open, then polled on
``/v1/predictions/{id}`` until it ends; the whole run is tried at most ``ATTEMPTS`` times
(AutoGPT's retry, waits doubling from ``RETRY_DELAY``), and the node's timeout bounds it all.
The token goes only to Replicate's base URL, as a bearer token. The output is read as
AutoGPT's ``extract_result`` reads it: a file URL (or the first of several), joined text,
or the first object's text.
"""

from __future__ import annotations

import asyncio
import enum
import os
from typing import Any

import httpx

from autoplat.blocks.base import (
    Block,
    BlockCategory,
    BlockContext,
    BlockOutput,
    BlockOutputSchema,
    BlockSchema,
)
from autoplat.blocks.builtin.integrations._base import (
    CredentialsRefInput,
    ProviderError,
    ProviderUnavailable,
    api_key,
    call,
    credentials_pin,
    mock_credentials_input,
    platform_cost,
    poll_until,
    raise_for_status,
    stand_in,
)
from autoplat.blocks.schema import pin
from autoplat.logging import get_logger

log = get_logger("autoplat.blocks.replicate")

PROVIDER = "replicate"
ATTEMPTS = 3
RETRY_DELAY = 2.0
POLL_INTERVAL = 0.5
_ENDED = {"succeeded", "failed", "canceled"}
TEST_IMAGE = "https://replicate.com/output/generated-image-url.jpg"


class ReplicateFluxModelName(enum.StrEnum):
    """The Flux models offered, by their display names."""

    FLUX_SCHNELL = "Flux Schnell"
    FLUX_PRO = "Flux Pro"
    FLUX_PRO1_1 = "Flux Pro 1.1"

    @property
    def api_name(self) -> str:
        """The model's ``owner/name`` on Replicate."""
        return _API_NAMES[self]


_API_NAMES = {
    ReplicateFluxModelName.FLUX_SCHNELL: "black-forest-labs/flux-schnell",
    ReplicateFluxModelName.FLUX_PRO: "black-forest-labs/flux-pro",
    ReplicateFluxModelName.FLUX_PRO1_1: "black-forest-labs/flux-1.1-pro",
}


class ImageType(enum.StrEnum):
    """Output file formats."""

    WEBP = "webp"
    JPG = "jpg"
    PNG = "png"


def _is_file_url(value: str) -> bool:
    return value.startswith(("http://", "https://", "data:"))


def extract_result(output: Any) -> str:
    """The block's result from a prediction's ``output`` (AutoGPT's reading of it)."""
    if isinstance(output, list):
        if not output:
            return "Unable to process result. Please contact us with the models and inputs used"
        first = output[0]
        if isinstance(first, str):
            # Replicate's client turns URLs into files, whose URL AutoGPT keeps; text joins.
            return first if _is_file_url(first) else "".join(str(o) for o in output)
        if isinstance(first, dict):
            return str(first)
        return "Unable to process result. Please contact us with the models and inputs used"
    if isinstance(output, str):
        return output
    return "No output received"


async def run_prediction(context: BlockContext, model: str, inputs: dict[str, Any]) -> Any:
    """Create a prediction of ``model`` (``owner/name``), wait for its end, return its output."""
    base = context.settings.provider_url("replicate")
    headers = {"Authorization": f"Bearer {api_key(context).get_secret_value()}"}
    failure: ProviderError | ProviderUnavailable | None = None
    for attempt in range(ATTEMPTS):
        if attempt:
            await asyncio.sleep(RETRY_DELAY * 2 ** (attempt - 1))
        try:
            return await _one_prediction(context, base, headers, model, inputs)
        except (ProviderError, ProviderUnavailable) as exc:
            failure = exc
            log.warning("replicate.attempt_failed", attempt=attempt + 1, error=str(exc))
    assert failure is not None
    raise failure


async def _one_prediction(
    context: BlockContext, base: str, headers: dict[str, str], model: str, inputs: dict[str, Any]
) -> Any:
    answer = await call(
        context,
        "POST",
        f"{base}/v1/models/{model}/predictions",
        headers=headers,
        json={"input": inputs},
    )
    raise_for_status(answer, "Replicate refused the prediction")
    created = answer.json()
    url = f"{base}/v1/predictions/{created.get('id', '') if isinstance(created, dict) else ''}"

    async def read() -> Any:
        answer = await call(context, "GET", url, headers=headers)
        raise_for_status(answer, "Replicate did not report the prediction")
        return answer.json()

    # The node's timeout is the bound AutoGPT's client has too (it waits as long as it runs).
    prediction = await poll_until(
        read,
        lambda p: not isinstance(p, dict) or p.get("status") in _ENDED,
        first=created,
        interval=POLL_INTERVAL,
        timeout=context.settings.node_timeout,
        what="the Replicate prediction",
    )
    if not isinstance(prediction, dict):
        raise ProviderError("Replicate answered with no prediction")
    if prediction.get("status") != "succeeded":
        error = prediction.get("error")
        status = prediction.get("status")
        raise ProviderError(
            f"Replicate prediction failed: {error}" if error else f"Replicate prediction {status}"
        )
    return prediction.get("output")


def _test_answer(request: httpx.Request) -> httpx.Response:
    return httpx.Response(201, json={"id": "p1", "status": "succeeded", "output": TEST_IMAGE})


class ReplicateFluxAdvancedModelBlock(Block["ReplicateFluxAdvancedModelBlock.Input"]):
    """Generate an image with a Flux model on Replicate; the image's URL."""

    class Input(BlockSchema):
        credentials: CredentialsRefInput = credentials_pin(
            PROVIDER,
            "The Replicate integration can be used with any API key with sufficient "
            "permissions for the blocks it is used on.",
        )
        prompt: str = pin(
            title="Prompt",
            description="Text prompt for image generation",
            placeholder="e.g., 'A futuristic cityscape at sunset'",
        )
        replicate_model_name: ReplicateFluxModelName = pin(
            ReplicateFluxModelName.FLUX_SCHNELL,
            advanced=False,
            title="Image Generation Model",
            description="The name of the Image Generation Model, i.e Flux Schnell",
        )
        seed: int | None = pin(
            None, title="Seed", description="Random seed. Set for reproducible generation"
        )
        steps: int = pin(25, title="Steps", description="Number of diffusion steps")
        guidance: float = pin(
            3,
            title="Guidance",
            description="Controls the balance between adherence to the text prompt and image "
            "quality/diversity. Higher values make the output more closely match the prompt "
            "but may reduce overall image quality.",
        )
        interval: float = pin(
            2,
            title="Interval",
            description="Interval is a setting that increases the variance in possible "
            "outputs. Setting this value low will ensure strong prompt following with more "
            "consistent outputs.",
        )
        aspect_ratio: str = pin(
            "1:1",
            title="Aspect Ratio",
            description="Aspect ratio for the generated image",
            placeholder="Choose from: 1:1, 16:9, 2:3, 3:2, 4:5, 5:4, 9:16",
        )
        output_format: ImageType = pin(
            ImageType.WEBP, title="Output Format", description="File format of the output image"
        )
        output_quality: int = pin(
            80,
            title="Output Quality",
            description="Quality when saving the output images, from 0 to 100. Not relevant "
            "for .png outputs",
        )
        safety_tolerance: int = pin(
            2,
            title="Safety Tolerance",
            description="Safety tolerance, 1 is most strict and 5 is most permissive",
        )

    class Output(BlockOutputSchema):
        result: str = pin(description="Generated output")

    id = "90f8c45e-e983-4644-aa0b-b4ebe2f531bc"
    description = "This block runs Flux models on Replicate with advanced settings."
    categories = (BlockCategory.AI, BlockCategory.MULTIMEDIA)
    costs = (platform_cost(PROVIDER, 10),)
    input_schema = Input
    output_schema = Output
    test_input = [
        {
            "credentials": mock_credentials_input(PROVIDER),
            "replicate_model_name": "Flux Schnell",
            "prompt": "A beautiful landscape painting of a serene lake at sunrise",
            "seed": None,
            "steps": 25,
            "guidance": 3.0,
            "interval": 2.0,
            "aspect_ratio": "1:1",
            "output_format": "png",
            "output_quality": 80,
            "safety_tolerance": 2,
        }
    ]
    test_output = [("result", TEST_IMAGE)]
    test_context = stand_in(_test_answer, PROVIDER, "mock-replicate-api-key")

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        seed = input_data.seed
        if seed is None:
            seed = int.from_bytes(os.urandom(4), "big")
        output = await run_prediction(
            context,
            input_data.replicate_model_name.api_name,
            {
                "prompt": input_data.prompt,
                "seed": seed,
                "steps": input_data.steps,
                "guidance": input_data.guidance,
                "interval": input_data.interval,
                "aspect_ratio": input_data.aspect_ratio,
                "output_format": input_data.output_format.value,
                "output_quality": input_data.output_quality,
                "safety_tolerance": input_data.safety_tolerance,
            },
        )
        yield "result", extract_result(output)
