"""Every block's self-test passes inside a running platform (on SQLite and PostgreSQL), every
test vector runs over ``POST /api/blocks/{id}/execute`` without a 500, and the network blocks
reach real local servers through the platform's HTTP client."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from autoplat.blocks.base import BlockContext
from autoplat.blocks.selftest import run_self_test
from autoplat.platform import Platform
from autoplat.testing import TEST_USER_ID, make_settings, running_platform
from tests.support.servers import FakeLlm, serve

WEB_REQUEST = "6595ae1f-b924-42cb-9a41-551a0611c4b4"
AI_TEXT = "1f292d4a-41a4-4977-9684-7c8d560b9f91"


async def test_every_block_self_test_in_a_running_platform(autoplat_platform: Platform) -> None:
    await autoplat_platform.db.users.ensure(TEST_USER_ID)
    context = BlockContext(
        settings=autoplat_platform.block_settings,
        http=autoplat_platform.outbound.client_for(TEST_USER_ID),
        user_id=TEST_USER_ID,
    )
    failures = []
    for block in autoplat_platform.blocks:
        try:
            await run_self_test(block, context)
        except AssertionError as exc:
            failures.append(str(exc))
    assert not failures, "\n".join(failures)
    assert len(autoplat_platform.blocks) >= 50


async def test_every_test_vector_runs_over_http(
    autoplat_platform: Platform, autoplat_client: httpx.AsyncClient
) -> None:
    # Priced blocks (the LLM ones) are charged per run like any node.
    await autoplat_platform.db.users.ensure(TEST_USER_ID)
    await autoplat_platform.credits.add_credits(TEST_USER_ID, 10_000)
    problems = []
    for block in autoplat_platform.blocks:
        if block.disabled or getattr(block, "test_subgraphs", None) is not None:
            continue  # disabled: 403 by design; sub-agents need the executor's runner
        if getattr(block, "test_context", None) is not None:
            continue  # its vectors need the block's offline stand-in (an LLM)
        pins: Counter[str] = Counter()
        for vector in block.test_input:
            response = await autoplat_client.post(f"/api/blocks/{block.id}/execute", json=vector)
            if response.status_code == 200:
                pins.update({pin: len(values) for pin, values in response.json().items()})
            elif response.status_code == 422:  # the block reported an error
                pins["error"] += 1
            else:
                problems.append(f"{block.name} {vector}: {response.status_code} {response.text}")
        expected = Counter(pin for pin, _ in block.test_output)
        if pins != expected:
            problems.append(f"{block.name}: pins {dict(pins)} != expected {dict(expected)}")
    assert not problems, "\n".join(problems)


async def echo(request: Request) -> JSONResponse:
    return JSONResponse({"method": request.method, "got": await request.json()})


async def test_web_request_block_reaches_a_local_server(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    app = Starlette(routes=[Route("/echo", echo, methods=["POST"])])
    settings = make_settings(autoplat_database_url, tmp_path, http_allow_private=True)
    async with serve(app) as url, running_platform(settings) as (_, client):
        response = await client.post(
            f"/api/blocks/{WEB_REQUEST}/execute",
            json={"url": f"{url}/echo", "method": "POST", "body": {"n": 1}},
        )
    assert response.status_code == 200, response.text
    assert response.json() == {"response": [{"method": "POST", "got": {"n": 1}}]}


async def test_llm_block_uses_the_configured_endpoint(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    fake = FakeLlm(replies=["Hello from the fake model"])
    async with serve(fake.app()) as url:
        settings = make_settings(
            autoplat_database_url, tmp_path, llm_base_url=f"{url}/v1", llm_api_key="sk-test"
        )
        async with running_platform(settings) as (platform, client):
            await platform.db.users.ensure(TEST_USER_ID)
            await platform.credits.add_credits(TEST_USER_ID, 100)
            response = await client.post(
                f"/api/blocks/{AI_TEXT}/execute", json={"prompt": "Say hi"}
            )
            assert await platform.credits.balance(TEST_USER_ID) < 100
    assert response.status_code == 200, response.text
    assert response.json()["response"] == ["Hello from the fake model"]
    assert fake.requests[0]["_authorization"] == "Bearer sk-test"
