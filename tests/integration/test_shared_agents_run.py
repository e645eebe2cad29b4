"""Shared AutoGPT agents whose integration blocks now exist import and run end to end: their
provider calls reach local stand-ins (Jina, Google Maps, Ideogram, Replicate, Medium) with
the user's own stored key, their LLM nodes a local OpenAI/Anthropic stand-in on the
platform's keys; a run without the credentials it needs is refused with a 422 naming what to
add, and ``GET /api/blocks`` marks the blocks the user has no credentials for (both
databases)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from autoplat.platform import Platform
from autoplat.testing import TEST_USER_ID, make_settings, running_platform
from tests.support import graphs as tk
from tests.support.providers import KEY, FakeProviders
from tests.support.servers import FakeAnthropic, FakeLlm, serve

AGENTS = Path(__file__).resolve().parents[3] / "shared" / "compat" / "agents"
EMAIL_FINDER = AGENTS / "agent_fc2c9976-0962-4625-a27b-d316573a9e7f.json"
COPY_IMPROVER = AGENTS / "agent_f2cc74bb-f43f-4395-9c35-ecb30b5b4fc9.json"
LEAD_FINDER = AGENTS / "agent_a548e507-09a7-4b30-909c-f63fcda10fff.json"
POSTER_MAKER = AGENTS / "agent_31daf49d-31d3-476b-aa4c-099abc59b458.json"
FLUX_IMAGE = AGENTS / "agent_d85882b8-633f-44ce-a315-c20a8c123d19.json"
MEDIUM_BLOGGER = AGENTS / "graph_template_Medium_Blogger_v28.json"
PROVIDERS = ("jina", "google_maps", "ideogram", "replicate", "medium")
#: AutoGPT's id of the platform's Replicate credential (integrations/providers.py).
REPLICATE_PLATFORM_ID = "6b9fc200-4726-4973-86c9-cd526f5ce5db"

pytestmark = pytest.mark.skipif(not EMAIL_FINDER.exists(), reason="shared agents not found")


@dataclass
class Env:
    platform: Platform
    client: httpx.AsyncClient
    fake: FakeProviders
    openai: FakeLlm
    anthropic: FakeAnthropic


@pytest.fixture
async def env(autoplat_database_url: str, tmp_path: Path) -> AsyncIterator[Env]:
    fake, openai, anthropic = FakeProviders(), FakeLlm(), FakeAnthropic()
    async with serve(fake.app()) as url, serve(openai.app()) as llm, serve(anthropic.app()) as an:
        settings = make_settings(
            autoplat_database_url,
            tmp_path,
            provider_base_urls=fake.base_urls(url),
            llm_provider_urls={
                "openai": f"{llm}/v1",
                "anthropic": f"{an}/v1",
                "open_router": f"{llm}/v1",
            },
            openai_api_key=SecretStr("sk-platform-openai"),
            open_router_api_key=SecretStr("sk-platform-open-router"),
            anthropic_api_key=SecretStr("sk-platform-anthropic"),
        )
        async with running_platform(settings) as (platform, client):
            await platform.db.users.ensure(TEST_USER_ID)
            await platform.credits.add_credits(TEST_USER_ID, 10_000)
            yield Env(platform, client, fake, openai, anthropic)


async def _add_key(client: httpx.AsyncClient, provider: str) -> dict[str, str]:
    created = await client.post(
        f"/api/integrations/{provider}/credentials",
        json={"type": "api_key", "api_key": KEY, "title": f"my {provider}"},
    )
    assert created.status_code in (200, 201), created.text
    return {"id": created.json()["id"], "provider": provider, "type": "api_key"}


async def _import(client: httpx.AsyncClient, path: Path) -> dict[str, Any]:
    created = await client.post("/api/graphs", json={"graph": json.loads(path.read_text())})
    assert created.status_code == 200, created.text
    graph: dict[str, Any] = created.json()
    return graph


async def _run(
    env: Env, path: Path, inputs: dict[str, Any], refs: dict[str, dict[str, str]]
) -> Any:
    graph = await _import(env.client, path)
    url = f"/api/graphs/{graph['id']}/execute/{graph['version']}"
    body = {
        "inputs": inputs,
        "credentials_inputs": {f"{p}_api_key_credentials": r for p, r in refs.items()},
    }
    answer = await env.client.post(url, json=body)
    assert answer.status_code == 200, answer.text
    row = await tk.wait_for_run(env.platform.db, answer.json()["id"], timeout=30)
    assert row.status == "COMPLETED", row.error
    # The users' keys never land in what a run keeps.
    assert KEY not in json.dumps(row.inputs, default=str) + json.dumps(row.outputs, default=str)
    return row


async def _all_keys(client: httpx.AsyncClient) -> dict[str, dict[str, str]]:
    return {p: await _add_key(client, p) for p in PROVIDERS}


async def test_email_address_finder_searches_with_jina_and_asks_claude(env: Env) -> None:
    env.anthropic.replies = ["The contact is <email>tim@apple.example</email>."]
    refs = await _all_keys(env.client)
    row = await _run(env, EMAIL_FINDER, {"Business Name": "Apple", "Address": "Cupertino"}, refs)
    (search,) = env.fake.seen("jina_search")
    assert search.auth == f"Bearer {KEY}"
    assert search.path == "/jina-search/Email Address of Apple, Cupertino"
    assert row.outputs["Email"] == ["tim@apple.example"]
    assert "About Email Address of Apple" in json.dumps(env.anthropic.requests)


async def test_webpage_copy_improver_reads_the_page_with_jina_reader(env: Env) -> None:
    env.openai.replies = ["analysis of the page", "improved copy"]
    refs = await _all_keys(env.client)
    row = await _run(env, COPY_IMPROVER, {"Homepage URL": "https://shop.example/"}, refs)
    (read,) = env.fake.seen("jina_reader")
    assert read.path == "/jina-reader/https://shop.example/" and read.auth == f"Bearer {KEY}"
    assert "The content of https://shop.example/" in json.dumps(env.openai.requests)
    assert row.outputs["Original Page Analysis"] == ["analysis of the page"]
    assert row.outputs["Improved Webpage Copy"] == ["improved copy"]


async def test_lead_finder_lists_places_from_google_maps(env: Env) -> None:
    env.fake.places = [
        {
            "id": f"place-{i}",
            "displayName": {"text": f"Roaster {i}"},
            "formattedAddress": f"{i} High St, Edinburgh",
            "nationalPhoneNumber": f"0131 000 000{i}",
            "websiteUri": f"https://roaster{i}.example",
            "rating": 4.5,
            "userRatingCount": 10 + i,
            "location": {"latitude": 55.9, "longitude": -3.2},
            "googleMapsUri": f"https://maps.google.com/?cid={i}",
        }
        for i in range(25)
    ]
    refs = {"google_maps": await _add_key(env.client, "google_maps")}
    inputs = {
        "What business type you want to look for?": "Coffee Roasters",
        "Where do you want to search?": "Edinburgh, UK",
        "Search Distance (metres)": 5000,
        "Number of Results": 22,
    }
    row = await _run(env, LEAD_FINDER, inputs, refs)
    pages = env.fake.seen("google_maps")
    assert [p.body.get("pageSize") for p in pages] == [20, 2]  # paged with nextPageToken
    assert pages[0].body["textQuery"] == "Coffee Roasters in Edinburgh, UK"
    assert all(p.auth == KEY for p in pages)
    assert sorted(row.outputs["Name"]) == sorted(f"Roaster {i}" for i in range(22))
    assert len(row.outputs["Phone Number"]) == 22


async def test_poster_maker_draws_with_ideogram(env: Env) -> None:
    env.openai.replies = ["a grumpy chef burning toast"]
    refs = {"ideogram": await _add_key(env.client, "ideogram")}
    row = await _run(env, POSTER_MAKER, {"Theme": "Cooking"}, refs)
    calls = env.fake.seen("ideogram")
    assert calls and all(c.auth == KEY for c in calls)
    assert all(c.path == "/ideogram/v1/ideogram-v3/generate" for c in calls)  # default V_3
    assert all(c.body["aspect_ratio"] for c in calls)
    assert env.fake.image_url in row.outputs["Generated Image"]


async def test_flux_image_generator_predicts_on_replicate(env: Env) -> None:
    env.openai.replies = ["an octopus at a keyboard"]
    env.fake.replicate_polls = 2
    refs = {"replicate": await _add_key(env.client, "replicate")}
    row = await _run(env, FLUX_IMAGE, {"Image Subject": "Otto"}, refs)
    create, *polls = env.fake.seen("replicate")
    assert create.path == "/replicate/v1/models/black-forest-labs/flux-1.1-pro/predictions"
    assert create.body["input"]["prompt"] == "an octopus at a keyboard"
    assert create.body["input"]["output_format"] == "png"
    assert isinstance(create.body["input"]["seed"], int)
    assert len(polls) == 2 and all(p.auth == f"Bearer {KEY}" for p in [create, *polls])
    assert row.outputs["Generated Image"] == ["https://replicate.delivery/out-0.png"]


async def test_medium_blogger_searches_writes_and_publishes(env: Env) -> None:
    env.openai.replies = ['{"CONTENT": "the post body", "TITLE": "the title"}']
    refs = {
        "jina": await _add_key(env.client, "jina"),
        "medium": await _add_key(env.client, "medium"),
    }
    await _run(env, MEDIUM_BLOGGER, {}, refs)
    me, post = env.fake.seen("medium")
    assert me.path == "/medium/v1/me"  # the template leaves author_id empty
    assert post.path == "/medium/v1/users/author-1/posts"
    assert post.body["title"] == "the title"
    assert post.body["content"] == "the post body"
    assert post.body["contentFormat"] == "markdown" and post.body["publishStatus"] == "public"


async def test_a_run_without_the_credentials_is_refused_naming_what_to_add(env: Env) -> None:
    graph = await _import(env.client, EMAIL_FINDER)  # imports: every block is here
    url = f"/api/graphs/{graph['id']}/execute/{graph['version']}"
    answer = await env.client.post(url, json={"inputs": {"Business Name": "Apple"}})
    assert answer.status_code == 422, answer.text
    details = answer.json()["error"]["details"]
    assert any(
        d.get("field", d.get("pin")) == "credentials"
        and d.get("block_id") == "87840993-2053-44b7-8da4-187ad4ee518c"
        for d in details
    ), details
    assert env.fake.requests == []


async def test_the_block_list_marks_blocks_the_user_has_no_credentials_for(env: Env) -> None:
    async def marks() -> dict[str, list[str]]:
        listed = await env.client.get("/api/blocks", params={"page_size": 250})
        assert listed.status_code == 200, listed.text
        return {b["name"]: b["missingCredentials"] for b in listed.json()["items"]}

    before = await marks()
    assert before["SearchTheWebBlock"] == ["jina"]
    assert before["GoogleMapsSearchBlock"] == ["google_maps"]
    assert before["CalculatorBlock"] == []
    assert before["AITextGeneratorBlock"] == []  # LLM blocks fall back to platform keys
    await _add_key(env.client, "jina")
    after = await marks()
    assert after["SearchTheWebBlock"] == after["ExtractWebsiteContentBlock"] == []
    assert after["GoogleMapsSearchBlock"] == ["google_maps"]


async def test_a_platform_key_clears_the_mark(autoplat_database_url: str, tmp_path: Path) -> None:
    settings = make_settings(
        autoplat_database_url, tmp_path, replicate_api_key=SecretStr("r8-platform")
    )
    async with running_platform(settings) as (_, client):
        listed = await client.get("/api/blocks", params={"page_size": 250})
        marks = {b["name"]: b["missingCredentials"] for b in listed.json()["items"]}
        assert marks["ReplicateFluxAdvancedModelBlock"] == []
        assert marks["IdeogramModelBlock"] == ["ideogram"]


YT_BLOG = AGENTS / "agent_e437cc95-e671-489d-b915-76561fba8c7f.json"
YT_LINKEDIN = AGENTS / "agent_e7bb29a1-23c7-4fee-aa3b-5426174b8c52.json"
YT_SCRAPER = AGENTS / "agent_c775f60d-b99f-418b-8fe0-53172258c3ce.json"
RICK = ["Never gonna give you up", "Never gonna let you down"]


async def test_youtube_to_blog_transcribes_then_writes(env: Env) -> None:
    env.fake.captions = {"vid-blog-01": RICK}
    env.openai.replies = [
        "the analysis",
        "<blog><title>A title</title><keywords>k1, k2</keywords>"
        "<blog_post>The post</blog_post></blog>",
    ]
    inputs = {"YouTube URL": "https://www.youtube.com/watch?v=vid-blog-01"}
    await _run(env, YT_BLOG, inputs, {})
    watch, player, timedtext = env.fake.seen("youtube")
    assert watch.path == "/youtube/watch" and player.body["videoId"] == "vid-blog-01"
    assert timedtext.path == "/youtube/api/timedtext"  # English, without fmt=srv3
    assert "Never gonna give you up\\nNever gonna let you down" in json.dumps(env.openai.requests)


async def test_youtube_to_linkedin_transcribes_then_posts(env: Env) -> None:
    env.fake.captions = {"vid-li-0001": RICK}
    env.openai.replies = ["a LinkedIn post"]
    inputs = {"Source YouTube Video": "https://youtu.be/vid-li-0001"}
    row = await _run(env, YT_LINKEDIN, inputs, {})
    assert len(env.fake.seen("youtube")) == 3
    assert "Never gonna let you down" in json.dumps(env.openai.requests)
    assert row.outputs["LinkedIn Post"]


async def test_a_video_without_captions_fails_its_node_with_youtubes_reason(env: Env) -> None:
    graph = await _import(env.client, YT_LINKEDIN)
    url = f"/api/graphs/{graph['id']}/execute/{graph['version']}"
    inputs = {"Source YouTube Video": "https://www.youtube.com/watch?v=no-captions"}
    answer = await env.client.post(url, json={"inputs": inputs})
    assert answer.status_code == 200, answer.text
    row = await tk.wait_for_run(env.platform.db, answer.json()["id"], timeout=30)
    assert row.status == "FAILED"
    assert "Subtitles are disabled for this video" in str(row.error)


async def test_youtube_transcription_scraper_reads_search_results_then_transcribes(
    env: Env,
) -> None:
    env.fake.captions = {"vid-aaa-001": RICK, "vid-bbb-002": ["Second video"]}
    urls = [f"https://www.youtube.com/watch?v={v}" for v in ("vid-aaa-001", "vid-bbb-002")]
    env.anthropic.replies = [json.dumps({"list": urls})]
    refs = {"jina": await _add_key(env.client, "jina")}
    row = await _run(env, YT_SCRAPER, {"Search Query": "Auto_GPT", "Number of Videos": 2}, refs)
    (read,) = env.fake.seen("jina_reader")
    assert read.path == "/jina-reader/https://www.youtube.com/results"
    assert "Auto_GPT" in json.dumps(env.anthropic.requests)  # the page the reader returned
    players = [r for r in env.fake.seen("youtube") if r.path.endswith("/player")]
    assert sorted(p.body["videoId"] for p in players) == ["vid-aaa-001", "vid-bbb-002"]
    assert "Second video" in json.dumps(row.outputs)


DOMAIN_FINDER = AGENTS / "agent_b6f6f0d3-49f4-4e3b-8155-ffe9141b32c0.json"


async def test_domain_name_finder_checks_domains_in_an_e2b_sandbox(env: Env) -> None:
    env.openai.replies = [
        "<domains>brewly.com,beanbox.com,roastr.com,cuppa.com</domains>",
        "<domains>\nbrewly.com\nroastr.com\n</domains>",
    ]
    # One root: the agent's script prints several, which AutoGPT's XMLParserBlock (and
    # ours) refuses; the stand-in answers what a parseable run looks like.
    stdout = "<available>\nbrewly.com\nbeanbox.com\nroastr.com\ncuppa.com\n</available>\n"
    env.fake.e2b_events = {"*": [{"type": "stdout", "text": stdout}]}
    refs = {"e2b": await _add_key(env.client, "e2b")}
    row = await _run(env, DOMAIN_FINDER, {"Product Pitch": "coffee subscriptions"}, refs)
    (cell,) = env.fake.seen("e2b_sandbox")
    assert "brewly.com,beanbox.com,roastr.com,cuppa.com" in cell.body["code"]
    assert cell.body["language"] == "python"
    assert env.fake.killed == ["sbx1"]  # dispose_sandbox
    assert len(env.openai.requests) == 2  # enough domains available: ranked
    assert "roastr.com" in json.dumps(env.openai.requests[1])
    # No summary in that output: the agent reports what it parsed on its Error output.
    assert "roastr.com" in json.dumps(row.outputs["Error"])


DECISION_MAKER = AGENTS / "agent_6e16e65a-ad34-4108-b4fd-4a23fced5ea2.json"


def _decision_maker_llm(body: dict[str, Any]) -> Any:
    """The Orchestrator asks its web_search tool once, then answers; the Web Search
    sub-agent's model answers the question."""
    if not body.get("tools"):
        return "Jane Doe owns Acme Roasters."
    if any(m.get("role") == "tool" for m in body["messages"]):
        return "<identified_owner_ceo>Name: Jane Doe</identified_owner_ceo>"
    arguments = json.dumps({"question": "Who owns Acme Roasters?"})
    function = {"name": "web_search", "arguments": arguments}
    tool_call = {"id": "search_1", "type": "function", "function": function}
    return {"role": "assistant", "content": None, "tool_calls": [tool_call]}


async def test_decision_maker_lead_finder_finds_places_then_asks_the_orchestrator(
    env: Env,
) -> None:
    env.fake.places = [
        {"id": "acme", "displayName": {"text": "Acme Roasters"}, "formattedAddress": "1 High St"}
    ]
    env.openai.responder = _decision_maker_llm
    refs = {"google_maps": await _add_key(env.client, "google_maps")}
    row = await _run(env, DECISION_MAKER, {}, refs)
    (search,) = env.fake.seen("google_maps")
    assert search.auth == KEY and search.body["textQuery"]
    assert row.outputs["Results"] == ["Name: Jane Doe"]
    prompt = next(r for r in env.openai.requests if r.get("tools"))["messages"][-1]["content"]
    assert "Acme Roasters" in prompt


async def test_the_flux_agent_on_the_platform_replicate_key_is_charged(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    fake, openai = FakeProviders(), FakeLlm()
    openai.replies = ["a prompt"]
    async with serve(fake.app()) as url, serve(openai.app()) as llm:
        settings = make_settings(
            autoplat_database_url,
            tmp_path,
            provider_base_urls=fake.base_urls(url),
            llm_provider_urls={"openai": f"{llm}/v1"},
            openai_api_key=SecretStr("sk-platform-openai"),
            replicate_api_key=SecretStr(KEY),  # the operator's key, offered to every user
        )
        async with running_platform(settings) as (platform, client):
            await platform.db.users.ensure(TEST_USER_ID)
            await platform.credits.add_credits(TEST_USER_ID, 1000)
            env = Env(platform, client, fake, openai, FakeAnthropic())
            reference = {"id": REPLICATE_PLATFORM_ID, "provider": "replicate", "type": "api_key"}
            before = await platform.credits.balance(TEST_USER_ID)
            await _run(env, FLUX_IMAGE, {"Image Subject": "Otto"}, {"replicate": reference})
            spent = before - await platform.credits.balance(TEST_USER_ID)
    assert fake.seen("replicate")[0].auth == f"Bearer {KEY}"
    assert spent >= 10  # AutoGPT's Flux price on the platform key, plus the LLM's
