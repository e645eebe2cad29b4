"""A shared AutoGPT agent that needs an LLM runs on the user's own credential (not charged)
or on the operator's platform credential (charged), against a local OpenAI stand-in; a
missing or foreign credential is refused before the run starts (both databases)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from autoplat.platform import Platform
from autoplat.testing import TEST_USER_ID, client_for, make_settings, running_platform
from tests.support import graphs as tk
from tests.support.servers import FakeLlm, serve

AGENTS = Path(__file__).resolve().parents[3] / "shared" / "compat" / "agents"
AI_FUNCTION = AGENTS / "agent_516d813b-d1bc-470f-add7-c63a4b2c2bad.json"
#: AutoGPT's id of the platform's OpenAI credential (integrations/providers.py).
OPENAI_PLATFORM_ID = "53c25cb8-e3ee-465c-a4d1-e75a4c899c2a"
INPUTS = {"Function Definition": "add(a, b)", "Arguments": "2, 3", "Description": "adds"}

pytestmark = pytest.mark.skipif(not AI_FUNCTION.exists(), reason="shared agents not found")


@pytest.fixture
async def served(
    autoplat_database_url: str, tmp_path: Path
) -> AsyncIterator[tuple[Platform, httpx.AsyncClient, FakeLlm]]:
    fake = FakeLlm()
    async with serve(fake.app()) as url:
        settings = make_settings(
            autoplat_database_url,
            tmp_path,
            llm_provider_urls={"openai": f"{url}/v1"},
            openai_api_key=SecretStr("sk-platform-key"),
        )
        async with running_platform(settings) as (platform, client):
            await platform.db.users.ensure(TEST_USER_ID)
            await platform.credits.add_credits(TEST_USER_ID, 1000)
            yield platform, client, fake


async def _import(client: httpx.AsyncClient) -> dict[str, Any]:
    created = await client.post("/api/graphs", json={"graph": json.loads(AI_FUNCTION.read_text())})
    assert created.status_code == 200, created.text
    graph: dict[str, Any] = created.json()
    return graph


async def _run(
    platform: Platform, client: httpx.AsyncClient, graph: dict[str, Any], reference: Any
) -> Any:
    url = f"/api/graphs/{graph['id']}/execute/{graph['version']}"
    body = {"inputs": INPUTS, "credentials_inputs": {"openai_api_key_credentials": reference}}
    answer = await client.post(url, json=body)
    assert answer.status_code == 200, answer.text
    return await tk.wait_for_run(platform.db, answer.json()["id"], timeout=20)


async def test_the_ai_function_agent_runs_on_the_users_own_key_unbilled(
    served: tuple[Platform, httpx.AsyncClient, FakeLlm],
) -> None:
    platform, client, fake = served
    fake.replies = ["5"]
    created = await client.post(
        "/api/integrations/openai/credentials",
        json={"type": "api_key", "api_key": "sk-users-own-key", "title": "mine"},
    )
    assert created.status_code in (200, 201), created.text
    mine = created.json()
    graph = await _import(client)
    before = await platform.credits.balance(TEST_USER_ID)
    reference = {"id": mine["id"], "provider": "openai", "type": "api_key", "title": "mine"}
    row = await _run(platform, client, graph, reference)
    assert row.status == "COMPLETED", row.error
    assert row.outputs["return"] == ["5"]
    assert [r["_authorization"] for r in fake.requests] == ["Bearer sk-users-own-key"]
    assert await platform.credits.balance(TEST_USER_ID) == before  # the user's own key
    assert "sk-users-own-key" not in json.dumps(row.inputs) + json.dumps(row.stats)


async def test_the_ai_function_agent_runs_on_the_platform_key_and_is_charged(
    served: tuple[Platform, httpx.AsyncClient, FakeLlm],
) -> None:
    platform, client, fake = served
    fake.replies = ["5"]
    graph = await _import(client)
    before = await platform.credits.balance(TEST_USER_ID)
    reference = {"id": OPENAI_PLATFORM_ID, "provider": "openai", "type": "api_key"}
    row = await _run(platform, client, graph, reference)
    assert row.status == "COMPLETED", row.error
    assert [r["_authorization"] for r in fake.requests] == ["Bearer sk-platform-key"]
    assert await platform.credits.balance(TEST_USER_ID) < before


async def test_a_run_with_another_users_credential_is_refused_naming_the_node(
    served: tuple[Platform, httpx.AsyncClient, FakeLlm],
) -> None:
    platform, client, fake = served
    async with client_for(platform, "user-b") as other:
        created = await other.post(
            "/api/integrations/openai/credentials",
            json={"type": "api_key", "api_key": "sk-of-user-b"},
        )
        assert created.status_code in (200, 201), created.text
        theirs = created.json()["id"]
    graph = await _import(client)
    url = f"/api/graphs/{graph['id']}/execute/{graph['version']}"
    reference = {"id": theirs, "provider": "openai", "type": "api_key"}
    body = {"inputs": INPUTS, "credentials_inputs": {"openai_api_key_credentials": reference}}
    answer = await client.post(url, json=body)
    assert answer.status_code == 422, answer.text
    text = answer.text
    assert "credentials" in text and "sk-of-user-b" not in text
    assert fake.requests == []
    _, total = await platform.db.executions.list_runs(user_id=TEST_USER_ID)
    assert total == 0
