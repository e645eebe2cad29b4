"""The block catalogue and single-block runs over HTTP."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from autoplat.platform import Platform
from autoplat.testing import make_settings, running_platform

CALCULATOR = "b1ab9b19-67a6-406d-abf5-2dba76d00c79"
AI_TEXT_GENERATOR = "1f292d4a-41a4-4977-9684-7c8d560b9f91"
PRINT_TO_CONSOLE = "f3b1c1b2-4c4f-4f0d-8d2f-4c4f0d8d2f4c"  # disabled, like upstream
AI_TEXT = "1f292d4a-41a4-4977-9684-7c8d560b9f91"


async def test_list_blocks_with_schemas_and_costs(
    autoplat_platform: Platform, autoplat_client: httpx.AsyncClient
) -> None:
    response = await autoplat_client.get("/api/blocks?page_size=250")
    assert response.status_code == 200
    listing = response.json()
    blocks = {b["id"]: b for b in listing["items"]}
    assert listing["pagination"]["total_items"] == len(blocks)
    enabled = [b for b in autoplat_platform.blocks if not b.disabled]
    assert set(blocks) == {b.id for b in enabled}
    assert PRINT_TO_CONSOLE not in blocks
    calculator = blocks[CALCULATOR]
    assert calculator["name"] == "CalculatorBlock"
    assert {"a", "b", "operation"} <= set(calculator["inputSchema"]["properties"])
    assert "result" in calculator["outputSchema"]["properties"]
    assert calculator["costs"] == []
    # LLM blocks are priced per model (on the platform's credential).
    models = {c["cost_filter"].get("model") for c in blocks[AI_TEXT]["costs"]}
    assert "gpt-4o-mini" in models and all(c["cost_amount"] >= 0 for c in blocks[AI_TEXT]["costs"])


async def test_operator_cost_overrides_are_listed(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    costs = {CALCULATOR: [{"cost_amount": 7, "cost_type": "run"}]}
    settings = make_settings(autoplat_database_url, tmp_path, block_costs=costs)
    async with running_platform(settings) as (_, client):
        listing = (await client.get("/api/blocks?page_size=250")).json()
        blocks = {b["id"]: b for b in listing["items"]}
    assert blocks[CALCULATOR]["costs"] == [
        {"cost_amount": 7, "cost_type": "run", "cost_filter": {}}
    ]


async def test_block_list_pages(autoplat_client: httpx.AsyncClient) -> None:
    first = (await autoplat_client.get("/api/blocks?page=1&page_size=10")).json()
    second = (await autoplat_client.get("/api/blocks?page=2&page_size=10")).json()
    assert len(first["items"]) == len(second["items"]) == 10
    assert not {b["id"] for b in first["items"]} & {b["id"] for b in second["items"]}
    assert (await autoplat_client.get("/api/blocks?page_size=251")).status_code == 422


async def test_execute_returns_values_per_pin(autoplat_client: httpx.AsyncClient) -> None:
    response = await autoplat_client.post(
        f"/api/blocks/{CALCULATOR}/execute", json={"operation": "Add", "a": 2, "b": 3.5}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"result": [5.5]}
    # Division by zero gives infinity, which JSON carries as null.
    response = await autoplat_client.post(
        f"/api/blocks/{CALCULATOR}/execute", json={"operation": "Divide", "a": 1, "b": 0}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"result": [None]}


async def test_execute_rejects_bad_input(autoplat_client: httpx.AsyncClient) -> None:
    url = f"/api/blocks/{CALCULATOR}/execute"
    response = await autoplat_client.post(url, json={"operation": "Teleport", "a": 1, "b": 2})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "block_input_error"
    assert error["details"][0]["pin"] == "operation"
    response = await autoplat_client.post(url, json=[1, 2])
    assert response.status_code == 422
    response = await autoplat_client.post(
        url, content=b"{", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400


async def test_execute_unknown_or_disabled_block(autoplat_client: httpx.AsyncClient) -> None:
    response = await autoplat_client.post("/api/blocks/no-such-block/execute", json={})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "block_not_found"
    response = await autoplat_client.post(
        f"/api/blocks/{PRINT_TO_CONSOLE}/execute", json={"text": "hi"}
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "block_disabled"


async def test_blocks_need_authentication(autoplat_platform: Platform) -> None:
    async with httpx.AsyncClient(base_url=autoplat_platform.url) as anonymous:
        assert (await anonymous.get("/api/blocks")).status_code == 401
        response = await anonymous.post(f"/api/blocks/{CALCULATOR}/execute", json={})
        assert response.status_code == 401


async def test_an_llm_block_with_nothing_to_serve_its_model_says_what_to_give_in_plain_english(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    # No credential on the node, no platform key, no operator endpoint: the error says how
    # to fix it, and reads right whatever the provider's name (no "a openai").
    settings = make_settings(autoplat_database_url, tmp_path, credits_enabled=False)
    url = f"/api/blocks/{AI_TEXT_GENERATOR}/execute"
    async with running_platform(settings) as (_, client):
        answers = [
            (provider, await client.post(url, json={"prompt": "hi", "model": model}))
            for model, provider in (("gpt-4o", "openai"), ("claude-sonnet-4-6", "anthropic"))
        ]
    for provider, response in answers:
        error = response.json()["error"]
        assert error["code"] == "llm_not_configured", response.text
        assert f"credential of the {provider} provider" in error["message"], error["message"]
        assert f"AUTOPLAT_{provider.upper()}_API_KEY" in error["message"]
        assert not re.search(r"\ba [aeiou]", error["message"], re.IGNORECASE), error["message"]
