"""Integration blocks against the local provider stand-in (tests/support/providers.py):
the paths, auth headers and fields of each API, AutoGPT's errors, and what never leaves
(keys in errors, user code run locally)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import SecretStr

from autoplat.blocks.base import Block, BlockContext
from autoplat.blocks.builtin.integrations import replicate
from autoplat.blocks.builtin.integrations.e2b import ExecuteCodeBlock
from autoplat.blocks.builtin.integrations.google_maps import GoogleMapsSearchBlock
from autoplat.blocks.builtin.integrations.ideogram import IdeogramModelBlock, v3_aspect_ratio
from autoplat.blocks.builtin.integrations.jina import ExtractWebsiteContentBlock, SearchTheWebBlock
from autoplat.blocks.builtin.integrations.medium import PublishToMediumBlock
from autoplat.blocks.builtin.integrations.replicate import (
    ReplicateFluxAdvancedModelBlock,
    extract_result,
)
from autoplat.blocks.builtin.integrations.youtube import (
    TranscribeYoutubeVideoBlock,
    extract_video_id,
)
from autoplat.blocks.outbound import OutboundHttp
from autoplat.blocks.selftest import collect_outputs
from autoplat.blocks.settings import BlockSettings
from autoplat.config import Settings
from autoplat.errors import BlockRunError, ConfigError
from autoplat.integrations.model import APIKeyCredentials
from tests.support.providers import KEY, FakeProviders
from tests.support.servers import serve

REF = {"id": "c1", "provider": "x", "type": "api_key"}


@dataclasses.dataclass
class Rig:
    fake: FakeProviders
    context: BlockContext

    def with_key(self, key: str) -> BlockContext:
        creds = APIKeyCredentials(id="c1", provider="x", api_key=SecretStr(key))
        return dataclasses.replace(self.context, credentials={"credentials": creds})


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    fake = FakeProviders()
    async with serve(fake.app()) as url:
        settings = BlockSettings(provider_base_urls=fake.base_urls(url))
        async with OutboundHttp(settings) as outbound:
            context = BlockContext(settings=settings, http=outbound.client_for("u1"))
            yield Rig(fake, Rig(fake, context).with_key(KEY))


async def outputs(block: Block[Any], data: dict[str, Any], context: BlockContext) -> list[Any]:
    return await collect_outputs(block, {"credentials": REF, **data}, context)


def test_provider_base_urls_are_checked_and_trusted() -> None:
    with pytest.raises(ConfigError, match="unknown service nope"):
        BlockSettings.from_settings(Settings(provider_base_urls={"nope": "http://x"}))
    with pytest.raises(ConfigError, match="must be http"):
        BlockSettings.from_settings(Settings(provider_base_urls={"jina_search": "ftp://x"}))
    settings = BlockSettings.from_settings(
        Settings(provider_base_urls={"jina_search": "http://127.0.0.1:9/s/"})
    )
    assert settings.provider_url("jina_search") == "http://127.0.0.1:9/s"
    assert settings.provider_url("jina_reader") == "https://r.jina.ai"
    assert "http://127.0.0.1:9/s" in settings.operator_endpoints()


async def test_jina_search_quotes_the_query_and_maps_errors(rig: Rig) -> None:
    got = await outputs(SearchTheWebBlock(), {"query": "cats & dogs"}, rig.context)
    assert got[0][0] == "results" and "About cats & dogs" in got[0][1]
    (seen,) = rig.fake.seen("jina_search")
    assert seen.auth == f"Bearer {KEY}"
    bad = await outputs(SearchTheWebBlock(), {"query": "x"}, rig.with_key("wrong-key-123"))
    assert bad[0][0] == "error" and bad[0][1].startswith("Search request failed: HTTP 401")
    assert "wrong-key-123" not in bad[0][1]


async def test_jina_reader_and_a_raw_scrape_that_carries_no_key(rig: Rig) -> None:
    url = "https://example.com/page?a=1"
    got = await outputs(ExtractWebsiteContentBlock(), {"url": url}, rig.context)
    assert got == [("content", f"Title: Page\n\nMarkdown Content:\nThe content of {url}")]
    # A raw scrape goes to the author's URL on the checked path: a private one is refused.
    raw = {"url": "http://127.0.0.1:9/secret", "raw_content": True}
    refused = await outputs(ExtractWebsiteContentBlock(), raw, rig.context)
    assert refused[0][0] == "error" and "not allowed" in refused[0][1]


async def test_google_maps_pages_and_stops_at_max_results(rig: Rig) -> None:
    rig.fake.places = [{"id": f"p{i}", "displayName": {"text": f"P{i}"}} for i in range(45)]
    got = await outputs(GoogleMapsSearchBlock(), {"query": "q", "max_results": 41}, rig.context)
    assert [v["name"] for _, v in got] == [f"P{i}" for i in range(41)]
    assert got[0][1]["latitude"] is None and got[0][1]["rating"] == 0.0
    pages = rig.fake.seen("google_maps")
    assert [(p.body["pageSize"], p.body.get("pageToken")) for p in pages] == [
        (20, None),
        (20, "20"),
        (1, "40"),
    ]
    assert all(p.auth == KEY for p in pages)


async def test_google_maps_says_what_to_fix_for_a_bad_key(rig: Rig) -> None:
    got = await outputs(GoogleMapsSearchBlock(), {"query": "q"}, rig.with_key("bad"))
    assert len(got) == 1 and got[0][0] == "error"
    assert "Google rejected the Maps API key" in got[0][1]


async def test_ideogram_legacy_models_send_style_and_palette_only_where_supported(
    rig: Rig,
) -> None:
    block = IdeogramModelBlock()
    base = {"prompt": "p", "seed": 7, "negative_prompt": "no"}
    await outputs(block, {**base, "ideogram_model_name": "V_1"}, rig.context)
    palette = {"custom_color_palette": ["#000000"], "ideogram_model_name": "V_2"}
    await outputs(block, {**base, **palette}, rig.context)
    await outputs(block, {**base, "aspect_ratio": "ASPECT_16_9"}, rig.context)
    v1, v2, v3 = rig.fake.seen("ideogram")
    assert v1.path == "/ideogram/generate" and "style_type" not in v1.body["image_request"]
    assert "color_palette" not in v1.body and v1.body["image_request"]["seed"] == 7
    assert v2.body["color_palette"] == {"members": [{"color_hex": "#000000"}]}
    assert v3.path == "/ideogram/v1/ideogram-v3/generate"
    assert v3.body == {
        "prompt": "p",
        "aspect_ratio": "16x9",
        "magic_prompt": "AUTO",
        "style_type": "AUTO",
        "seed": 7,
        "negative_prompt": "no",
    }
    assert v3_aspect_ratio("ASPECT_1_1") == "1x1" and v3_aspect_ratio("odd") == "1x1"
    bad = await outputs(block, {"prompt": "p"}, rig.with_key("bad"))
    assert bad == [
        ("error", "Invalid or expired API key. Please check your Ideogram API credentials.")
    ]


async def test_replicate_polls_then_reads_the_output(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(replicate, "POLL_INTERVAL", 0.01)
    monkeypatch.setattr(replicate, "RETRY_DELAY", 0.01)
    rig.fake.replicate_polls = 3
    rig.fake.replicate_output = ["https://r.example/a.webp", "https://r.example/b.webp"]
    got = await outputs(ReplicateFluxAdvancedModelBlock(), {"prompt": "p", "seed": 5}, rig.context)
    assert got == [("result", "https://r.example/a.webp")]
    create, *polls = rig.fake.seen("replicate")
    assert create.path.endswith("/black-forest-labs/flux-schnell/predictions")
    assert create.body["input"]["seed"] == 5 and len(polls) == 3
    bad = await outputs(ReplicateFluxAdvancedModelBlock(), {"prompt": "p"}, rig.with_key("bad"))
    assert bad[0][0] == "error" and "HTTP 401" in bad[0][1]
    assert len(rig.fake.seen("replicate")) == 4 + replicate.ATTEMPTS  # AutoGPT's retries
    assert extract_result(["a", "b"]) == "ab" and extract_result([{"k": 1}]) == "{'k': 1}"
    assert extract_result(None) == "No output received"


async def test_medium_posts_for_the_given_author(rig: Rig) -> None:
    data = {
        "author_id": "me-42",
        "title": "T",
        "content": "C",
        "content_format": "html",
        "tags": ["a"],
        "publish_status": "draft",
    }
    got = await outputs(PublishToMediumBlock(), data, rig.context)
    assert [pin for pin, _ in got] == ["post_id", "post_url", "published_at"]
    (post,) = rig.fake.seen("medium")
    assert post.path == "/medium/v1/users/me-42/posts" and post.body["publishStatus"] == "draft"
    bad = await outputs(PublishToMediumBlock(), data, rig.with_key("bad"))
    assert bad == [("error", "Failed to create Medium post: Token was invalid.")]


async def test_youtube_ids_and_transcripts(rig: Rig) -> None:
    assert extract_video_id("https://www.youtube.com/shorts/abc/x") == "abc"
    assert extract_video_id("https://youtube.com/embed/xyz") == "xyz"
    with pytest.raises(BlockRunError, match="Invalid YouTube URL"):
        extract_video_id("https://vimeo.com/1")
    rig.fake.captions = {"v1": ["a & b", "<i>c</i>"]}
    block = TranscribeYoutubeVideoBlock()
    got = await collect_outputs(block, {"youtube_url": "https://youtu.be/v1"}, rig.context)
    assert got == [("video_id", "v1"), ("transcript", "a & b\nc")]


async def test_e2b_creates_executes_and_disposes_without_running_code_here(rig: Rig) -> None:
    rig.fake.e2b_events = {
        "pip install x": [{"type": "stdout", "text": "installed\n"}],
        "print(1)": [
            {"type": "stdout", "text": "1\n"},
            {"type": "stderr", "text": "warn\n"},
            {"type": "result", "text": "1", "json": {"a": 1}, "is_main_result": True},
        ],
        "boom": [{"type": "error", "name": "NameError", "value": "boom", "traceback": "..."}],
    }
    data = {"code": "print(1)", "setup_commands": ["pip install x"]}
    got = await outputs(ExecuteCodeBlock(), data, rig.context)
    assert got == [
        ("main_result", {"text": "1", "json": {"a": 1}}),
        ("results", [{"text": "1", "json": {"a": 1}, "is_main_result": True}]),
        ("response", "1"),
        ("stdout_logs", "1\n"),
        ("stderr_logs", "warn\n"),
    ]
    create = rig.fake.seen("e2b")[0]
    assert create.body == {"templateID": "code-interpreter-v1", "timeout": 300}
    cells = rig.fake.seen("e2b_sandbox")
    assert [c.body["language"] for c in cells] == ["bash", "python"]
    assert rig.fake.killed == ["sbx1"]
    failed = await outputs(
        ExecuteCodeBlock(), {"code": "boom", "dispose_sandbox": False}, rig.context
    )
    assert failed == [("error", "NameError: boom")]
    assert rig.fake.killed == ["sbx1", "sbx2"]  # killed on an error, as AutoGPT does


async def test_discord_reads_the_next_message_over_the_gateway_and_replies(rig: Rig) -> None:
    from autoplat.blocks.builtin.integrations.discord import (
        ReadDiscordMessagesBlock,
        SendDiscordMessageBlock,
    )

    rig.fake.discord_inbox = "what is 2+2?"
    got = await outputs(ReadDiscordMessagesBlock(), {}, rig.context)
    assert got == [
        ("message_content", "what is 2+2?"),
        ("message_id", "m-in"),
        ("channel_id", "c1"),
        ("channel_name", "general"),
        ("user_id", "u-7"),
        ("username", "alice"),
    ]
    refused = await outputs(ReadDiscordMessagesBlock(), {}, rig.with_key("bad"))
    assert refused == [("error", "Login error occurred: Improper token has been passed.")]
    text = "x" * 2500
    sent = await outputs(
        SendDiscordMessageBlock(), {"channel_name": "general", "message_content": text}, rig.context
    )
    assert sent == [("status", "Message sent"), ("message_id", "m2"), ("channel_id", "c1")]
    assert [len(m["content"]) for m in rig.fake.discord_sent] == [2000, 500]
    missing = await outputs(
        SendDiscordMessageBlock(),
        {"channel_name": "random", "message_content": "hi"},
        rig.context,
    )
    assert missing == [("status", "Channel not found: random")]


async def test_ai_image_generator_maps_sizes_and_styles_per_model(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    from autoplat.blocks.builtin.integrations.replicate_image import AIImageGeneratorBlock

    monkeypatch.setattr(replicate, "POLL_INTERVAL", 0.01)
    rig.fake.replicate_output = ["https://r.example/img.jpg"]
    block = AIImageGeneratorBlock()
    data = {
        "prompt": "a fox",
        "model": "Flux 1.1 Pro",
        "size": "wide",
        "style": "digital_illustration",
    }
    assert await outputs(block, data, rig.context) == [("image_url", "https://r.example/img.jpg")]
    await outputs(block, {**data, "model": "Recraft v3"}, rig.context)
    flux, _, recraft, _ = rig.fake.seen("replicate")
    assert flux.path.endswith("/black-forest-labs/flux-1.1-pro/predictions")
    assert flux.body["input"] == {
        "prompt": "digital art of a fox",
        "width": 1440,
        "height": 810,
        "aspect_ratio": "16:9",
        "output_format": "jpg",
        "output_quality": 90,
    }
    assert recraft.body["input"] == {
        "prompt": "a fox",
        "size": "1536x1024",
        "style": "digital_illustration",
    }


def test_runs_on_the_platform_key_are_priced_and_the_users_own_are_free() -> None:
    from autoplat.credits.costs import select_cost
    from autoplat.integrations.providers import BUILTIN_PROVIDERS

    system = {s.name: s.system_credentials_id for s in BUILTIN_PROVIDERS}

    def price(block: Block[Any], provider: str, credentials_id: str, **pins: Any) -> int:
        ref = {"id": credentials_id, "provider": provider, "type": "api_key", "title": "t"}
        cost = select_cost(block.costs, {"credentials": ref, **pins})
        return cost.cost_amount if cost is not None else 0

    assert price(SearchTheWebBlock(), "jina", system["jina"]) == 1
    assert price(SearchTheWebBlock(), "jina", "users-own-key") == 0
    assert price(ExtractWebsiteContentBlock(), "jina", system["jina"], raw_content=False) == 1
    assert price(ExtractWebsiteContentBlock(), "jina", system["jina"], raw_content=True) == 0
    assert price(IdeogramModelBlock(), "ideogram", system["ideogram"]) == 16
    assert price(ReplicateFluxAdvancedModelBlock(), "replicate", system["replicate"]) == 10
    assert price(ExecuteCodeBlock(), "e2b", system["e2b"]) == 2
