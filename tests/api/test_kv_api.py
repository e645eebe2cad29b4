"""Persist/RetrieveInformation through the API: per user, per agent or across agents."""

from __future__ import annotations

from typing import Any

import httpx

from autoplat.platform import Platform
from autoplat.testing import client_for

PERSIST = "1d055e55-a2b9-4547-8311-907d05b0304d"
RETRIEVE = "d8710fc9-6e29-481e-a7d5-165eb16f8471"


async def _execute(client: httpx.AsyncClient, block_id: str, data: dict[str, Any]) -> Any:
    response = await client.post(f"/api/blocks/{block_id}/execute", json=data)
    assert response.status_code == 200, response.text
    return response.json()["value"]


async def test_values_persist_for_their_user_only(autoplat_platform: Platform) -> None:
    for user in ("alice", "bob"):
        await autoplat_platform.db.users.ensure(user)
    async with (
        client_for(autoplat_platform, "alice") as alice,
        client_for(autoplat_platform, "bob") as bob,
    ):
        saved = await _execute(
            alice, PERSIST, {"key": "pref", "value": {"theme": "dark"}, "scope": "across_agents"}
        )
        assert saved == [{"theme": "dark"}]
        assert await _execute(alice, RETRIEVE, {"key": "pref", "scope": "across_agents"}) == [
            {"theme": "dark"}
        ]
        # Another user: the same key is not theirs, so the default comes back.
        assert await _execute(
            bob, RETRIEVE, {"key": "pref", "scope": "across_agents", "default_value": "none"}
        ) == ["none"]
        # The other scope is another key (agent#<graph>#pref), empty here.
        assert await _execute(alice, RETRIEVE, {"key": "pref", "default_value": 0}) == [0]
    stored = await autoplat_platform.db.kv.get_execution_kv_data("alice", "global#pref")
    assert stored == {"theme": "dark"}
