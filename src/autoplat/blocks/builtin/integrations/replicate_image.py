"""One interface to several image models on Replicate: AutoGPT's ``AIImageGeneratorBlock``.

Invariant: a semantic size (square, landscape...) maps to each model's own format (ratio,
pixel dimensions or Recraft's ``WxH``); models without native styles get the style as a
prompt prefix ("photorealistic of ..."). Predictions run through ``replicate.run_prediction``
(same base URL, token, polling and retries as the Flux block); the first URL is the result.
"""

from __future__ import annotations

import enum
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
    credentials_pin,
    mock_credentials_input,
    stand_in,
)
from autoplat.blocks.builtin.integrations.replicate import PROVIDER, run_prediction
from autoplat.blocks.schema import pin


class ImageSize(enum.StrEnum):
    """Sizes that map onto every model."""

    SQUARE = "square"
    LANDSCAPE = "landscape"
    PORTRAIT = "portrait"
    WIDE = "wide"
    TALL = "tall"


class ImageStyle(enum.StrEnum):
    """Visual styles (Recraft's names)."""

    ANY = "any"
    REALISTIC = "realistic_image"
    REALISTIC_BW = "realistic_image/b_and_w"
    REALISTIC_HDR = "realistic_image/hdr"
    REALISTIC_NATURAL = "realistic_image/natural_light"
    REALISTIC_STUDIO = "realistic_image/studio_portrait"
    REALISTIC_ENTERPRISE = "realistic_image/enterprise"
    REALISTIC_HARD_FLASH = "realistic_image/hard_flash"
    REALISTIC_MOTION_BLUR = "realistic_image/motion_blur"
    DIGITAL_ART = "digital_illustration"
    PIXEL_ART = "digital_illustration/pixel_art"
    HAND_DRAWN = "digital_illustration/hand_drawn"
    GRAIN = "digital_illustration/grain"
    SKETCH = "digital_illustration/infantile_sketch"
    POSTER = "digital_illustration/2d_art_poster"
    POSTER_2 = "digital_illustration/2d_art_poster_2"
    HANDMADE_3D = "digital_illustration/handmade_3d"
    HAND_DRAWN_OUTLINE = "digital_illustration/hand_drawn_outline"
    ENGRAVING_COLOR = "digital_illustration/engraving_color"


class ImageGenModel(enum.StrEnum):
    """The models offered, by display name."""

    FLUX = "Flux 1.1 Pro"
    FLUX_ULTRA = "Flux 1.1 Pro Ultra"
    RECRAFT = "Recraft v3"
    SD3_5 = "Stable Diffusion 3.5 Medium"


RATIO = {
    ImageSize.SQUARE: "1:1",
    ImageSize.LANDSCAPE: "4:3",
    ImageSize.PORTRAIT: "3:4",
    ImageSize.WIDE: "16:9",
    ImageSize.TALL: "9:16",
}
FLUX_PIXELS = {
    ImageSize.SQUARE: (1024, 1024),
    ImageSize.LANDSCAPE: (1365, 1024),
    ImageSize.PORTRAIT: (1024, 1365),
    ImageSize.WIDE: (1440, 810),
    ImageSize.TALL: (810, 1440),
}
RECRAFT_SIZE = {
    ImageSize.SQUARE: "1024x1024",
    ImageSize.LANDSCAPE: "1365x1024",
    ImageSize.PORTRAIT: "1024x1365",
    ImageSize.WIDE: "1536x1024",
    ImageSize.TALL: "1024x1536",
}
STYLE_WORDS = {
    ImageStyle.REALISTIC: "photorealistic",
    ImageStyle.REALISTIC_BW: "black and white photograph",
    ImageStyle.REALISTIC_HDR: "HDR photograph",
    ImageStyle.REALISTIC_NATURAL: "natural light photograph",
    ImageStyle.REALISTIC_STUDIO: "studio portrait photograph",
    ImageStyle.REALISTIC_ENTERPRISE: "enterprise photograph",
    ImageStyle.REALISTIC_HARD_FLASH: "hard flash photograph",
    ImageStyle.REALISTIC_MOTION_BLUR: "motion blur photograph",
    ImageStyle.DIGITAL_ART: "digital art",
    ImageStyle.PIXEL_ART: "pixel art",
    ImageStyle.HAND_DRAWN: "hand drawn illustration",
    ImageStyle.GRAIN: "grainy digital illustration",
    ImageStyle.SKETCH: "sketchy illustration",
    ImageStyle.POSTER: "2D art poster",
    ImageStyle.POSTER_2: "alternate 2D art poster",
    ImageStyle.HANDMADE_3D: "handmade 3D illustration",
    ImageStyle.HAND_DRAWN_OUTLINE: "hand drawn outline illustration",
    ImageStyle.ENGRAVING_COLOR: "color engraving illustration",
}
TEST_IMAGE = "https://replicate.delivery/generated-image.webp"


def model_request(
    model: ImageGenModel, prompt: str, size: ImageSize, style: ImageStyle
) -> tuple[str, dict[str, Any]]:
    """The Replicate model (``owner/name``) and its inputs."""
    if model == ImageGenModel.RECRAFT:
        return "recraft-ai/recraft-v3", {
            "prompt": prompt,
            "size": RECRAFT_SIZE[size],
            "style": style.value,
        }
    words = STYLE_WORDS.get(style, "")
    styled = f"{words} of {prompt}".strip() if words else prompt
    if model == ImageGenModel.SD3_5:
        return "stability-ai/stable-diffusion-3.5-medium", {
            "prompt": styled,
            "aspect_ratio": RATIO[size],
            "output_format": "webp",
            "output_quality": 90,
            "steps": 40,
            "cfg_scale": 7.0,
        }
    width, height = FLUX_PIXELS[size]
    name = "flux-1.1-pro-ultra" if model == ImageGenModel.FLUX_ULTRA else "flux-1.1-pro"
    return f"black-forest-labs/{name}", {
        "prompt": styled,
        "width": width,
        "height": height,
        "aspect_ratio": RATIO[size],
        "output_format": "jpg",
        "output_quality": 90,
    }


def _first_url(output: Any) -> str | None:
    if isinstance(output, list) and output:
        return str(output[0])
    return output if isinstance(output, str) else None


def _test_answer(request: httpx.Request) -> httpx.Response:
    return httpx.Response(201, json={"id": "p1", "status": "succeeded", "output": [TEST_IMAGE]})


class AIImageGeneratorBlock(Block["AIImageGeneratorBlock.Input"]):
    """Generate an image with the chosen model; its URL."""

    class Input(BlockSchema):
        credentials: CredentialsRefInput = credentials_pin(
            PROVIDER,
            "Enter your Replicate API key to access the image generation API. You can obtain "
            "an API key from https://replicate.com/account/api-tokens.",
        )
        prompt: str = pin(
            title="Prompt",
            description="Text prompt for image generation",
            placeholder="e.g., 'A red panda using a laptop in a snowy forest'",
        )
        model: ImageGenModel = pin(
            ImageGenModel.SD3_5,
            title="Model",
            description="The AI model to use for image generation",
        )
        size: ImageSize = pin(
            ImageSize.SQUARE,
            title="Image Format",
            description="Format of the generated image:\n- Square: Perfect for profile "
            "pictures, icons\n- Landscape: Traditional photo format\n- Portrait: Vertical "
            "photos, portraits\n- Wide: Cinematic format, desktop wallpapers\n- Tall: Mobile "
            "wallpapers, social media stories",
        )
        style: ImageStyle = pin(
            ImageStyle.ANY, title="Image Style", description="Visual style for the generated image"
        )

    class Output(BlockOutputSchema):
        image_url: str = pin(description="URL of the generated image")
        error: str = pin("", description="Error message if generation failed")

    id = "ed1ae7a0-b770-4089-b520-1f0005fad19a"
    description = "Generate images using various AI models through a unified interface"
    categories = (BlockCategory.AI,)
    input_schema = Input
    output_schema = Output
    test_input = [
        {
            "credentials": mock_credentials_input(PROVIDER),
            "prompt": "An octopus using a laptop in a snowy forest with 'AutoGPT' clearly "
            "visible on the screen",
            "model": "Recraft v3",
            "size": "square",
            "style": "realistic_image",
        }
    ]
    test_output = [("image_url", TEST_IMAGE)]
    test_context = stand_in(_test_answer, PROVIDER, "mock-replicate-api-key")

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        model, inputs = model_request(
            input_data.model, input_data.prompt, input_data.size, input_data.style
        )
        try:
            url = _first_url(await run_prediction(context, model, inputs))
        except ProviderError as exc:
            raise ProviderError(f"Failed to generate image: {exc}") from None
        if not url:
            raise ProviderError("Image generation returned an empty result.")
        yield "image_url", url
