"""Shared AutoGPT agents whose integration blocks now exist import and run end to end: their
provider calls reach local stand-ins (Jina, Google Maps, Ideogram, Replicate, Medium, YouTube,
E2B) with the user's own stored key, their LLM nodes a local OpenAI/Anthropic stand-in on the
platform's keys. Each run says how every node ended (completed, failed, still waiting, or
never reached) and what the agent output; YouTube-to-Blog and the Domain Name Finder, written
for gravitasml's merge of several top-level XML elements, parse their model's and their
script's elements into one dict and reach their outputs. A run without the credentials
it needs is refused with a 422 naming what to add, and ``GET /api/blocks`` marks the blocks
the user has no credentials for (both databases)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from autoplat.testing import TEST_USER_ID, make_settings, running_platform
from tests.support.agent_runs import (
    AGENTS,
    Env,
    add_key,
    agent_env,
    import_agent,
    run_agent,
)
from tests.support.providers import KEY, FakeProviders
from tests.support.servers import FakeAnthropic, FakeLlm, serve

EMAIL_FINDER = AGENTS / "agent_fc2c9976-0962-4625-a27b-d316573a9e7f.json"
COPY_IMPROVER = AGENTS / "agent_f2cc74bb-f43f-4395-9c35-ecb30b5b4fc9.json"
LEAD_FINDER = AGENTS / "agent_a548e507-09a7-4b30-909c-f63fcda10fff.json"
POSTER_MAKER = AGENTS / "agent_31daf49d-31d3-476b-aa4c-099abc59b458.json"
FLUX_IMAGE = AGENTS / "agent_d85882b8-633f-44ce-a315-c20a8c123d19.json"
MEDIUM_BLOGGER = AGENTS / "graph_template_Medium_Blogger_v28.json"
PROVIDERS = ("jina", "google_maps", "ideogram", "replicate", "medium")
LEAD_COLUMNS = ("Name", "Website", "Rating", "Number of Reviews", "Phone Number", "Address")
#: Lead Finder's StoreValue nodes that stand "N/A" in for a field a place lacks.
LEAD_NA_VALUES = ["fd06d8d6", "46a34959", "36eab73e", "5f26aa29", "eb8cc44d", "4a760ac4"]
#: AutoGPT's id of the platform's Replicate credential (integrations/providers.py).
REPLICATE_PLATFORM_ID = "6b9fc200-4726-4973-86c9-cd526f5ce5db"

pytestmark = pytest.mark.skipif(not EMAIL_FINDER.exists(), reason="shared agents not found")


@pytest.fixture
async def env(autoplat_database_url: str, tmp_path: Path) -> AsyncIterator[Env]:
    async with agent_env(autoplat_database_url, tmp_path) as running:
        yield running


async def _all_keys(client: httpx.AsyncClient) -> dict[str, dict[str, str]]:
    return {p: await add_key(client, p) for p in PROVIDERS}


async def test_email_address_finder_searches_with_jina_and_asks_claude(env: Env) -> None:
    env.anthropic.replies = ["The contact is <email>tim@apple.example</email>."]
    refs = await _all_keys(env.client)
    run = await run_agent(
        env, EMAIL_FINDER, {"Business Name": "Apple", "Address": "Cupertino"}, refs
    )
    (search,) = env.fake.seen("jina_search")
    assert search.auth == f"Bearer {KEY}"
    assert search.path == "/jina-search/Email Address of Apple, Cupertino"
    assert run.row.outputs == {"Email": ["tim@apple.example"]}
    assert "About Email Address of Apple" in json.dumps(env.anthropic.requests)
    run.expect(not_run=["266b7255"])  # the "Failed to find email" template
    assert run.outputs("a6e7355e")["positive"] == ["tim@apple.example"]


async def test_webpage_copy_improver_reads_the_page_with_jina_reader(env: Env) -> None:
    env.openai.replies = ["analysis of the page", "improved copy"]
    refs = await _all_keys(env.client)
    run = await run_agent(env, COPY_IMPROVER, {"Homepage URL": "https://shop.example/"}, refs)
    (read,) = env.fake.seen("jina_reader")
    assert read.path == "/jina-reader/https://shop.example/" and read.auth == f"Bearer {KEY}"
    assert "The content of https://shop.example/" in json.dumps(env.openai.requests)
    assert run.row.outputs == {
        "Original Page Analysis": ["analysis of the page"],
        "Improved Webpage Copy": ["improved copy"],
    }
    run.expect()
    assert len(env.openai.requests) == 2


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
    refs = {"google_maps": await add_key(env.client, "google_maps")}
    inputs = {
        "What business type you want to look for?": "Coffee Roasters",
        "Where do you want to search?": "Edinburgh, UK",
        "Search Distance (metres)": 5000,
        "Number of Results": 22,
    }
    run = await run_agent(env, LEAD_FINDER, inputs, refs)
    pages = env.fake.seen("google_maps")
    assert [p.body.get("pageSize") for p in pages] == [20, 2]  # paged with nextPageToken
    assert pages[0].body["textQuery"] == "Coffee Roasters in Edinburgh, UK"
    assert all(p.auth == KEY for p in pages)
    outputs = run.row.outputs
    assert sorted(outputs) == sorted(LEAD_COLUMNS)
    assert sorted(outputs["Name"]) == sorted(f"Roaster {i}" for i in range(22))
    assert sorted(outputs["Phone Number"]) == sorted(f"0131 000 000{i}" for i in range(22))
    assert sorted(outputs["Website"]) == sorted(f"https://roaster{i}.example" for i in range(22))
    assert sorted(outputs["Address"]) == sorted(f"{i} High St, Edinburgh" for i in range(22))
    assert all(len(values) == 22 for values in outputs.values())
    # One search, its template and the four inputs once; every place through its row of
    # extractors, converters and outputs; the "N/A" stand-ins only for a missing field.
    once = ["fcb277c7", "e382ef86", "46381f83", "4b7851a9", "47b5c5f5", "3e71a189"]
    per_place = [n for n in run.nodes if n[:8] not in once and n not in run.notes]
    run.expect(
        not_run=LEAD_NA_VALUES, runs={n: 22 for n in per_place if n[:8] not in LEAD_NA_VALUES}
    )


async def test_poster_maker_draws_with_ideogram(env: Env) -> None:
    env.openai.replies = ["a grumpy chef burning toast"]
    refs = {"ideogram": await add_key(env.client, "ideogram")}
    run = await run_agent(env, POSTER_MAKER, {"Theme": "Cooking"}, refs)
    calls = env.fake.seen("ideogram")
    assert calls and all(c.auth == KEY for c in calls)
    assert all(c.path == "/ideogram/v1/ideogram-v3/generate" for c in calls)  # default V_3
    assert all(c.body["aspect_ratio"] for c in calls)
    # The four Ideogram nodes draw the one scene the LLM wrote, whatever their own prompt.
    assert [c.body["prompt"] for c in calls] == ["a grumpy chef burning toast"] * 4
    assert run.row.outputs == {"Generated Image": [env.fake.image_url] * 4}
    run.expect(runs={"5ac3727a": 4})  # the output collects each image
    assert run.outputs("7543b9b0")["response"] == ["a grumpy chef burning toast"]
    for ideogram in ("28bda769", "e7cdc1a2", "576c5677", "86665e90"):
        assert run.outputs(ideogram) == {"result": [env.fake.image_url]}
    assert "Cooking" in json.dumps(env.openai.requests)


async def test_flux_image_generator_predicts_on_replicate(env: Env) -> None:
    env.openai.replies = ["an octopus at a keyboard"]
    env.fake.replicate_polls = 2
    refs = {"replicate": await add_key(env.client, "replicate")}
    run = await run_agent(env, FLUX_IMAGE, {"Image Subject": "Otto"}, refs)
    create, *polls = env.fake.seen("replicate")
    assert create.path == "/replicate/v1/models/black-forest-labs/flux-1.1-pro/predictions"
    assert create.body["input"]["prompt"] == "an octopus at a keyboard"
    assert create.body["input"]["output_format"] == "png"
    assert isinstance(create.body["input"]["seed"], int)
    assert len(polls) == 2 and all(p.auth == f"Bearer {KEY}" for p in [create, *polls])
    assert run.row.outputs == {"Generated Image": ["https://replicate.delivery/out-0.png"]}
    run.expect()
    assert run.outputs("50bc23e9") == {"result": ["https://replicate.delivery/out-0.png"]}


async def test_medium_blogger_searches_writes_and_publishes(env: Env) -> None:
    env.openai.replies = ['{"CONTENT": "the post body", "TITLE": "the title"}']
    refs = {
        "jina": await add_key(env.client, "jina"),
        "medium": await add_key(env.client, "medium"),
    }
    run = await run_agent(env, MEDIUM_BLOGGER, {}, refs)
    run.expect()
    assert run.row.outputs == {}  # the template has no output node
    assert run.outputs("12e9ec75") == {
        "post_id": ["post-1"],
        "post_url": ["https://medium.com/@tester/post-1-author-1"],
        "published_at": [1700000000000],
    }
    me, post = env.fake.seen("medium")
    assert me.path == "/medium/v1/me"  # the template leaves author_id empty
    assert post.path == "/medium/v1/users/author-1/posts"
    assert post.body["title"] == "the title"
    assert post.body["content"] == "the post body"
    assert post.body["contentFormat"] == "markdown" and post.body["publishStatus"] == "public"


async def test_a_run_without_the_credentials_is_refused_naming_what_to_add(env: Env) -> None:
    graph = await import_agent(env.client, EMAIL_FINDER)  # imports: every block is here
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
    await add_key(env.client, "jina")
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


async def test_youtube_to_blog_transcribes_writes_and_outputs_the_title_post_and_keywords(
    env: Env,
) -> None:
    env.fake.captions = {"vid-blog-01": RICK}
    # What the writing prompt asks for: <title>, <blog_post> and <keywords> side by side,
    # which the parser merges into one dict for the three lookups.
    post = "<title>A title</title>\n<blog_post>The post</blog_post>\n<keywords>k1, k2</keywords>"
    env.openai.replies = ["the analysis", post]
    inputs = {"YouTube URL": "https://www.youtube.com/watch?v=vid-blog-01"}
    run = await run_agent(env, YT_BLOG, inputs, {})
    watch, player, timedtext = env.fake.seen("youtube")
    assert watch.path == "/youtube/watch" and player.body["videoId"] == "vid-blog-01"
    assert timedtext.path == "/youtube/api/timedtext"  # English, without fmt=srv3
    analyse, write = env.openai.requests
    assert "Never gonna give you up\\nNever gonna let you down" in json.dumps(analyse)
    assert "the analysis" in json.dumps(write)
    assert run.outputs("2b85cb39")["response"] == [post]
    assert run.outputs("ffdcd234") == {
        "parsed_xml": [{"title": "A title", "blog_post": "The post", "keywords": "k1, k2"}]
    }
    assert run.row.outputs == {
        "Title": ["A title"],
        "Blog Post": ["The post"],
        "Target Keywords": ["k1, k2"],
    }
    run.expect(not_run=["c8e51364"])  # its Error output


async def test_youtube_to_linkedin_transcribes_then_posts(env: Env) -> None:
    env.fake.captions = {"vid-li-0001": RICK}
    env.openai.replies = ["a LinkedIn post"]
    env.anthropic.replies = ["the post from Claude"]
    inputs = {"Source YouTube Video": "https://youtu.be/vid-li-0001"}
    run = await run_agent(env, YT_LINKEDIN, inputs, {})
    assert len(env.fake.seen("youtube")) == 3
    assert "Never gonna let you down" in json.dumps(env.openai.requests)
    assert len(env.openai.requests) == 3  # style, transcript analysis, style guide
    (write,) = env.anthropic.requests  # the post itself is written by Claude
    assert write["model"] == "claude-sonnet-4-5-20250929"
    assert "a LinkedIn post" in json.dumps(write)  # the GPT answers are in its prompt
    assert run.row.outputs == {"LinkedIn Post": ["the post from Claude"]}
    run.expect()


async def test_a_video_without_captions_fails_its_node_with_youtubes_reason(env: Env) -> None:
    inputs = {"Source YouTube Video": "https://www.youtube.com/watch?v=no-captions"}
    run = await run_agent(env, YT_LINKEDIN, inputs, {}, status="FAILED")
    assert "Subtitles are disabled for this video" in str(run.row.error)
    # The style branch still runs; the post's template waits for the transcript's analysis.
    run.expect(
        failed=["343cce54"], not_run=["36dc1854", "04eab06b", "4d4971f7"], incomplete=["5b5fbcbc"]
    )
    assert run.row.outputs == {} and env.anthropic.requests == []


async def test_youtube_transcription_scraper_reads_search_results_then_transcribes(
    env: Env,
) -> None:
    env.fake.captions = {"vid-aaa-001": RICK, "vid-bbb-002": ["Second video"]}
    urls = [f"https://www.youtube.com/watch?v={v}" for v in ("vid-aaa-001", "vid-bbb-002")]
    env.anthropic.replies = [json.dumps({"list": urls})]
    refs = {"jina": await add_key(env.client, "jina")}
    run = await run_agent(
        env, YT_SCRAPER, {"Search Query": "Auto_GPT", "Number of Videos": 2}, refs
    )
    (read,) = env.fake.seen("jina_reader")
    assert read.path == "/jina-reader/https://www.youtube.com/results"
    assert "Auto_GPT" in json.dumps(env.anthropic.requests)  # the page the reader returned
    players = [r for r in env.fake.seen("youtube") if r.path.endswith("/player")]
    assert sorted(p.body["videoId"] for p in players) == ["vid-aaa-001", "vid-bbb-002"]
    transcripts = ["Youtube Transcripts", "\n".join(RICK), "Second video"]
    assert run.row.outputs == {"Transcripts": [transcripts]}
    # The transcribing loop: once per video, and the list-builder waits for a third entry.
    loop = {"a563e3ed": 2, "49ac5b72": 2, "c38521df": 2, "6231dfea": 3}
    run.expect(runs=loop, incomplete=["6231dfea"])


DOMAIN_FINDER = AGENTS / "agent_b6f6f0d3-49f4-4e3b-8155-ffe9141b32c0.json"


#: What the agent's availability script prints: four top-level elements.
DOMAIN_REPORT = (
    "<results_summary>\n I checked 4 domains for you.\n"
    "Domains available to register now: 3\nDomains already registered: 1\n</results_summary>\n"
    "<available>\nbrewly.com\nbeanbox.com\nroastr.com\n</available>\n"
    "<unavailable>\ncuppa.com\n</unavailable>\n<error>\n</error>\n"
)
DOMAINS = "<domains>brewly.com,beanbox.com,roastr.com,cuppa.com</domains>"


#: The ranking model's reply: the four elements its prompt asks for, side by side.
RANKING = (
    "<product_analysis>Coffee by post for home brewers.</product_analysis>\n"
    "<keywords>coffee, subscription, roast</keywords>\n"
    "<domain_analysis>brewly.com scores 9; roastr.com 8; beanbox.com 7.</domain_analysis>\n"
    "<domains>\nbrewly.com\nroastr.com\nbeanbox.com\n</domains>"
)
#: The retry counter's nodes wait for a failure of the first LLM that never comes.
DOMAIN_WAITING = ["0963256f", "74ae8dfb"]
#: The agent's Error output, and the retry counter's check that only a failure reaches.
DOMAIN_ERROR_PATH = ["7e00122a", "81a851af"]


async def test_domain_name_finder_checks_domains_in_e2b_ranks_the_available_and_suggests_them(
    env: Env,
) -> None:
    env.openai.replies = [DOMAINS, RANKING]
    env.fake.e2b_events = {"*": [{"type": "stdout", "text": DOMAIN_REPORT}]}
    refs = {"e2b": await add_key(env.client, "e2b")}
    run = await run_agent(env, DOMAIN_FINDER, {"Product Pitch": "coffee subscriptions"}, refs)
    (cell,) = env.fake.seen("e2b_sandbox")
    assert "brewly.com,beanbox.com,roastr.com,cuppa.com" in cell.body["code"]
    assert cell.body["language"] == "python"
    assert env.fake.killed == ["sbx1"]  # dispose_sandbox
    assert run.outputs("1177aa11")["stdout_logs"] == [DOMAIN_REPORT]
    # The script's four top-level elements are one dict for the two lookups.
    (report,) = run.outputs("52555e06")["parsed_xml"]
    assert report == {
        "results_summary": (
            "I checked 4 domains for you.\nDomains available to register now: 3\n"
            "Domains already registered: 1"
        ),
        "available": "brewly.com\nbeanbox.com\nroastr.com",
        "unavailable": "cuppa.com",
        "error": "",
    }
    # CountItems on the text between the tags counts its characters (as in AutoGPT).
    assert run.outputs("84659cbb") == {"count": [len(report["available"])]}
    # Only the available domains are ranked, for the pitch.
    _, ranking = env.openai.requests
    asked = json.dumps(ranking)
    assert "brewly.com\\nbeanbox.com\\nroastr.com" in asked and "cuppa.com" not in asked
    assert "coffee subscriptions" in asked
    assert run.outputs("63df7668") == {"output": ["brewly.com\nroastr.com\nbeanbox.com"]}
    assert sorted(run.row.outputs) == ["Domain Suggestions"]
    (suggestions,) = run.row.outputs["Domain Suggestions"]
    summary = (
        "### Summary\n\nI checked 4 domains for you.  \nDomains available to register now: 3"
        "  \nDomains already registered: 1\n\n### How This List Is Ranked\n"
    )
    ranked = (
        "### Domain Suggestions (Ranked)\n\nbrewly.com  \nroastr.com  \nbeanbox.com\n\n\n"
        "### What to Do Next\n"
    )
    assert suggestions.startswith(summary) and ranked in suggestions
    run.expect(not_run=DOMAIN_ERROR_PATH, incomplete=DOMAIN_WAITING)


async def test_domain_name_finder_says_every_domain_is_taken_without_ranking(env: Env) -> None:
    env.openai.replies = [DOMAINS]
    taken = (
        "<results_summary>\nI checked 4 domains for you.\n</results_summary>\n"
        "<available>\n</available>\n"
        "<unavailable>\nbrewly.com\nbeanbox.com\nroastr.com\ncuppa.com\n</unavailable>\n"
        "<error>\n</error>\n"
    )
    env.fake.e2b_events = {"*": [{"type": "stdout", "text": taken}]}
    refs = {"e2b": await add_key(env.client, "e2b")}
    run = await run_agent(env, DOMAIN_FINDER, {"Product Pitch": "coffee subscriptions"}, refs)
    assert len(env.openai.requests) == 1  # nothing to rank
    assert run.outputs("84659cbb") == {"count": [0]}
    assert sorted(run.row.outputs) == ["Domain Suggestions"]
    (suggestions,) = run.row.outputs["Domain Suggestions"]
    assert "### Domain Suggestions (Ranked)\n\nUnfortunately, every single domain" in suggestions
    # The ranking LLM has the pitch but never the domains; its parser and lookup never run.
    run.expect(
        not_run=[*DOMAIN_ERROR_PATH, "aa67b2a4", "63df7668"],
        incomplete=[*DOMAIN_WAITING, "55b1f3b7"],
    )


async def test_domain_name_finder_ranks_the_available_domains_a_single_root_lists(
    env: Env,
) -> None:
    env.openai.replies = [DOMAINS, "<domains>\nbrewly.com\nroastr.com\n</domains>"]
    # A sandbox printing only <available>: the agent ranks, but has no summary to report.
    available = "brewly.com\nbeanbox.com\nroastr.com\ncuppa.com"
    stdout = f"<available>\n{available}\n</available>\n"
    env.fake.e2b_events = {"*": [{"type": "stdout", "text": stdout}]}
    refs = {"e2b": await add_key(env.client, "e2b")}
    run = await run_agent(env, DOMAIN_FINDER, {"Product Pitch": "coffee subscriptions"}, refs)
    assert len(env.openai.requests) == 2  # enough domains available: ranked
    assert "roastr.com" in json.dumps(env.openai.requests[1])
    # CountItems on the text between the tags counts its characters (as in AutoGPT).
    assert run.outputs("84659cbb") == {"count": [len(available)]}
    # No summary in that output: the agent reports what it parsed on its Error output.
    assert run.row.outputs == {"Error": [{"available": available}]}
    ranked = ["55b1f3b7", "aa67b2a4", "63df7668", "187169c5", "84659cbb", "64bc1c5d"]
    assert not set(ranked) & {n[:8] for n, e in run.nodes.items() if not e}
    run.expect(not_run=["ea561c3b", "81a851af"], incomplete=[*DOMAIN_WAITING, "32f86709"])


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
    refs = {"google_maps": await add_key(env.client, "google_maps")}
    run = await run_agent(env, DECISION_MAKER, {}, refs)
    (search,) = env.fake.seen("google_maps")
    assert search.auth == KEY and search.body["textQuery"]
    assert run.row.outputs == {"Results": ["Name: Jane Doe"]}
    run.expect(not_run=["786df672"])  # its Error output
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
            run = await run_agent(
                env, FLUX_IMAGE, {"Image Subject": "Otto"}, {"replicate": reference}
            )
            run.expect()
            spent = before - await platform.credits.balance(TEST_USER_ID)
    assert fake.seen("replicate")[0].auth == f"Bearer {KEY}"
    assert spent >= 10  # AutoGPT's Flux price on the platform key, plus the LLM's
