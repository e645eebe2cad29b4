"""Ideogram image generation: AutoGPT's ``IdeogramModelBlock``.

Invariant: V_3 uses Ideogram's v3 endpoint (aspect ratios as ``WxH``, no colour palette),
older models the legacy ``/generate`` with ``image_request``; style only for V_2 and later,
colour palettes only for V_2 and V_2_TURBO. Upscaling downloads the generated image through
the checked HTTP path (it is a URL the provider chose) and posts it to ``/upscale``. The key
goes only to Ideogram's base URL, in ``Api-Key``.
"""

from __future__ import annotations

import enum
import json
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
    Answer,
    CredentialsRefInput,
    ProviderError,
    ProviderUnavailable,
    api_key,
    call,
    credentials_pin,
    mock_credentials_input,
    platform_cost,
    stand_in,
)
from autoplat.blocks.builtin.web_request import send_request
from autoplat.blocks.schema import pin

PROVIDER = "ideogram"


class IdeogramModelName(enum.StrEnum):
    """Ideogram's model versions."""

    V3 = "V_3"
    V2 = "V_2"
    V1 = "V_1"
    V1_TURBO = "V_1_TURBO"
    V2_TURBO = "V_2_TURBO"


class MagicPromptOption(enum.StrEnum):
    """Whether Ideogram rewrites the prompt."""

    AUTO = "AUTO"
    ON = "ON"
    OFF = "OFF"


class StyleType(enum.StrEnum):
    """Ideogram's styles (V_2 and later)."""

    AUTO = "AUTO"
    GENERAL = "GENERAL"
    REALISTIC = "REALISTIC"
    DESIGN = "DESIGN"
    RENDER_3D = "RENDER_3D"
    ANIME = "ANIME"


class ColorPalettePreset(enum.StrEnum):
    """Ideogram's named palettes."""

    NONE = "NONE"
    EMBER = "EMBER"
    FRESH = "FRESH"
    JUNGLE = "JUNGLE"
    MAGIC = "MAGIC"
    MELON = "MELON"
    MOSAIC = "MOSAIC"
    PASTEL = "PASTEL"
    ULTRAMARINE = "ULTRAMARINE"


class AspectRatio(enum.StrEnum):
    """The legacy aspect ratio names."""

    ASPECT_10_16 = "ASPECT_10_16"
    ASPECT_16_10 = "ASPECT_16_10"
    ASPECT_9_16 = "ASPECT_9_16"
    ASPECT_16_9 = "ASPECT_16_9"
    ASPECT_3_2 = "ASPECT_3_2"
    ASPECT_2_3 = "ASPECT_2_3"
    ASPECT_4_3 = "ASPECT_4_3"
    ASPECT_3_4 = "ASPECT_3_4"
    ASPECT_1_1 = "ASPECT_1_1"
    ASPECT_1_3 = "ASPECT_1_3"
    ASPECT_3_1 = "ASPECT_3_1"


class UpscaleOption(enum.StrEnum):
    """Whether to upscale the result."""

    AI_UPSCALE = "AI Upscale"
    NO_UPSCALE = "No Upscale"


_LEGACY_STYLED = {"V_2", "V_2_TURBO", "V_3"}
_PALETTED = {"V_2", "V_2_TURBO"}
TEST_IMAGE = "https://ideogram.ai/api/images/test-generated-image-url.png"


def v3_aspect_ratio(name: str) -> str:
    """``ASPECT_16_9`` → ``16x9`` (v3's spelling); anything else is square."""
    parts = name.removeprefix("ASPECT_").split("_")
    if len(parts) == 2 and all(p.isdigit() for p in parts):
        return f"{parts[0]}x{parts[1]}"
    return "1x1"


def _image_url(answer: Answer, what: str) -> str:
    if answer.status == 401:
        raise ProviderError(
            "Invalid or expired API key. Please check your Ideogram API credentials."
        )
    if answer.status in (400, 422):
        raise ProviderError(f"Invalid request parameters: HTTP {answer.status}: {answer.quote()}")
    if answer.status >= 500:
        raise ProviderUnavailable(f"Ideogram server error: HTTP {answer.status}: {answer.quote()}")
    if not answer.ok:
        raise ProviderError(f"Client error: HTTP {answer.status}: {answer.quote()}")
    try:
        url = answer.json()["data"][0]["url"]
    except (KeyError, IndexError, TypeError):
        raise ProviderError(f"Failed to {what}: no image in {answer.quote()}") from None
    return str(url)


class IdeogramModelBlock(Block["IdeogramModelBlock.Input"]):
    """Generate an image with Ideogram; the image's URL."""

    class Input(BlockSchema):
        credentials: CredentialsRefInput = credentials_pin(
            PROVIDER,
            "The Ideogram integration can be used with any API key with sufficient "
            "permissions for the blocks it is used on.",
        )
        prompt: str = pin(
            title="Prompt",
            description="Text prompt for image generation",
            placeholder="e.g., 'A futuristic cityscape at sunset'",
        )
        ideogram_model_name: IdeogramModelName = pin(
            IdeogramModelName.V3,
            advanced=False,
            title="Image Generation Model",
            description="The name of the Image Generation Model, e.g., V_3",
        )
        aspect_ratio: AspectRatio = pin(
            AspectRatio.ASPECT_1_1,
            advanced=False,
            title="Aspect Ratio",
            description="Aspect ratio for the generated image",
        )
        upscale: UpscaleOption = pin(
            UpscaleOption.NO_UPSCALE,
            advanced=False,
            title="Upscale Image",
            description="Upscale the generated image",
        )
        magic_prompt_option: MagicPromptOption = pin(
            MagicPromptOption.AUTO,
            title="Magic Prompt Option",
            description="Whether to use MagicPrompt for enhancing the request",
        )
        seed: int | None = pin(
            None, title="Seed", description="Random seed. Set for reproducible generation"
        )
        style_type: StyleType = pin(
            StyleType.AUTO,
            title="Style Type",
            description="Style type to apply, applicable for V_2 and above",
        )
        negative_prompt: str | None = pin(
            None,
            title="Negative Prompt",
            description="Description of what to exclude from the image",
        )
        color_palette_name: ColorPalettePreset = pin(
            ColorPalettePreset.NONE,
            title="Color Palette Preset",
            description="Color palette preset name, choose 'None' to skip",
        )
        custom_color_palette: list[str] | None = pin(
            None,
            title="Custom Color Palette",
            description="Only available for model version V_2 or V_2_TURBO. Provide one or "
            "more color hex codes (e.g., ['#000030', '#1C0C47', '#9900FF', '#4285F4', "
            "'#FFFFFF']) to define a custom color palette. Only used if 'color_palette_name' "
            "is 'NONE'.",
        )

    class Output(BlockOutputSchema):
        result: str = pin(description="Generated image URL")

    id = "6ab085e2-20b3-4055-bc3e-08036e01eca6"
    description = "This block runs Ideogram models with both simple and advanced settings."
    categories = (BlockCategory.AI, BlockCategory.MULTIMEDIA)
    costs = (platform_cost(PROVIDER, 16),)
    input_schema = Input
    output_schema = Output
    test_input = [
        {
            "ideogram_model_name": "V_2",
            "prompt": "A futuristic cityscape at sunset",
            "aspect_ratio": "ASPECT_1_1",
            "upscale": "No Upscale",
            "magic_prompt_option": "AUTO",
            "seed": None,
            "style_type": "AUTO",
            "negative_prompt": None,
            "color_palette_name": "NONE",
            "custom_color_palette": ["#000030", "#1C0C47", "#9900FF", "#4285F4", "#FFFFFF"],
            "credentials": mock_credentials_input(PROVIDER),
        }
    ]
    test_output = [("result", TEST_IMAGE)]
    test_context = stand_in(
        lambda request: httpx.Response(200, json={"data": [{"url": TEST_IMAGE}]}),
        PROVIDER,
        "mock-ideogram-api-key",
    )

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        base = context.settings.provider_url("ideogram")
        headers = {"Api-Key": api_key(context).get_secret_value()}
        model = input_data.ideogram_model_name.value
        if model == IdeogramModelName.V3:
            body: dict[str, Any] = {
                "prompt": input_data.prompt,
                "aspect_ratio": v3_aspect_ratio(input_data.aspect_ratio.value),
                "magic_prompt": input_data.magic_prompt_option.value,
                "style_type": input_data.style_type.value,
            }
            if input_data.seed is not None:
                body["seed"] = input_data.seed
            if input_data.negative_prompt:
                body["negative_prompt"] = input_data.negative_prompt
            url, what = f"{base}/v1/ideogram-v3/generate", "fetch image with V3 endpoint"
        else:
            body = {"image_request": self._legacy_request(input_data)}
            if model in _PALETTED:
                if input_data.color_palette_name != ColorPalettePreset.NONE:
                    body["color_palette"] = {"name": input_data.color_palette_name.value}
                elif input_data.custom_color_palette:
                    members = [{"color_hex": c} for c in input_data.custom_color_palette]
                    body["color_palette"] = {"members": members}
            url, what = f"{base}/generate", "fetch image with legacy endpoint"
        answer = await call(context, "POST", url, headers=headers, json=body)
        result = _image_url(answer, what)
        if input_data.upscale == UpscaleOption.AI_UPSCALE:
            result = await self._upscale(context, base, headers, result)
        yield "result", result

    @staticmethod
    def _legacy_request(input_data: IdeogramModelBlock.Input) -> dict[str, Any]:
        model = input_data.ideogram_model_name.value
        request: dict[str, Any] = {
            "prompt": input_data.prompt,
            "model": model,
            "aspect_ratio": input_data.aspect_ratio.value,
            "magic_prompt_option": input_data.magic_prompt_option.value,
        }
        if model in _LEGACY_STYLED:
            request["style_type"] = input_data.style_type.value
        if input_data.seed is not None:
            request["seed"] = input_data.seed
        if input_data.negative_prompt:
            request["negative_prompt"] = input_data.negative_prompt
        return request

    @staticmethod
    async def _upscale(
        context: BlockContext, base: str, headers: dict[str, str], image_url: str
    ) -> str:
        response, image = await send_request(context, "GET", image_url, {}, {})
        if not response.is_success:
            raise ProviderError(f"Failed to upscale image: HTTP {response.status_code} fetching it")
        answer = await call(
            context,
            "POST",
            f"{base}/upscale",
            headers=headers,
            data={"image_request": json.dumps({})},
            files={"image_file": ("image.png", image, "image/png")},
        )
        return _image_url(answer, "upscale image")
