"""Sharing a finished run through the HTTP API (both databases): the public link shows its
outputs only, works without a login, and stops working when the owner unshares."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from autoplat.config import Settings
from autoplat.graphs import catalog
from autoplat.platform import Platform
from autoplat.testing import client_for, make_settings
from tests.support.graphs import wait_for_run


@pytest.fixture
def autoplat_settings(autoplat_database_url: str, tmp_path: Path) -> Settings:
    return make_settings(autoplat_database_url, tmp_path, credits_enabled=False)


def _graph() -> dict[str, Any]:
    nodes = [
        {"id": "in", "block_id": catalog.AGENT_INPUT, "input_default": {"name": "x"}},
        {"id": "out", "block_id": catalog.AGENT_OUTPUT, "input_default": {"name": "y"}},
    ]
    links = [{"source_id": "in", "sink_id": "out", "source_name": "result", "sink_name": "value"}]
    return {"graph": {"name": "echo", "nodes": nodes, "links": links}}


async def test_a_shared_run_shows_only_its_outputs_until_unshared(
    autoplat_platform: Platform, autoplat_client: httpx.AsyncClient
) -> None:
    client = autoplat_client
    await client.post("/api/auth/user")
    graph = (await client.post("/api/graphs", json=_graph())).json()
    run = (
        await client.post(
            f"/api/graphs/{graph['id']}/execute/{graph['version']}",
            json={"inputs": {"x": "secret input, public output"}},
        )
    ).json()
    await wait_for_run(autoplat_platform.db, run["id"])
    share_path = f"/api/graphs/{graph['id']}/executions/{run['id']}/share"
    shared = await client.post(share_path)
    assert shared.status_code == 200, shared.text
    token = shared.json()["share_token"]
    assert (await client.post(share_path)).json()["share_token"] == token  # one link per run

    async with httpx.AsyncClient(base_url=autoplat_platform.url) as anonymous:
        public = await anonymous.get(shared.json()["share_url"])
        assert public.status_code == 200, public.text
        assert public.json() == {"outputs": {"y": ["secret input, public output"]}}
        assert run["id"] not in public.text and "user-a" not in public.text

        # Another user can neither share nor unshare it.
        async with client_for(autoplat_platform, "someone-else") as other:
            await other.post("/api/auth/user")
            assert (await other.post(share_path)).status_code == 404
            assert (await other.delete(share_path)).status_code == 404

        assert (await client.delete(share_path)).status_code == 204
        revoked = await anonymous.get(f"/api/public/shared/{token}")
        assert revoked.status_code == 404 and revoked.json()["error"]["code"] == "share_not_found"
        assert (await client.delete(share_path)).status_code == 404
        # Sharing again makes a new link; the old one stays dead.
        again = (await client.post(share_path)).json()["share_token"]
        assert again != token
        assert (await anonymous.get(f"/api/public/shared/{token}")).status_code == 404
        assert (await anonymous.get(f"/api/public/shared/{again}")).status_code == 200
