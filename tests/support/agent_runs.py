"""Running a shared AutoGPT agent against the local stand-ins, and reading what each node did.

:func:`agent_env` starts a platform whose provider calls reach :class:`FakeProviders` and
whose LLM calls reach :class:`FakeLlm` / :class:`FakeAnthropic`, on the platform's own LLM
keys. :func:`run_agent` imports an agent file, runs it with the user's stored keys and
returns an :class:`AgentRun`: the run row and every node execution, keyed by the node's id
in the agent file (the importer gives nodes fresh ids, in the file's order), so that a test
can say which nodes ran, how they ended and what they output.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from autoplat.blocks.base import BlockType
from autoplat.db.rows import NodeRow, RunRow
from autoplat.graphs.importer import LEGACY_BLOCK_IDS
from autoplat.platform import Platform
from autoplat.testing import TEST_USER_ID, make_settings, running_platform
from tests.support import graphs as tk
from tests.support.providers import KEY, FakeProviders
from tests.support.servers import FakeAnthropic, FakeLlm, serve

AGENTS = Path(__file__).resolve().parents[3] / "shared" / "compat" / "agents"


@dataclass
class Env:
    """A running platform and the stand-ins it talks to."""

    platform: Platform
    client: httpx.AsyncClient
    fake: FakeProviders
    openai: FakeLlm
    anthropic: FakeAnthropic


@asynccontextmanager
async def agent_env(database_url: str, data_dir: Path) -> AsyncIterator[Env]:
    """A platform on ``database_url`` with every provider and LLM pointed at stand-ins."""
    fake, openai, anthropic = FakeProviders(), FakeLlm(), FakeAnthropic()
    async with serve(fake.app()) as url, serve(openai.app()) as llm, serve(anthropic.app()) as an:
        settings = make_settings(
            database_url,
            data_dir,
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


async def add_key(client: httpx.AsyncClient, provider: str) -> dict[str, str]:
    """Store :data:`KEY` as the user's api_key credential for ``provider``; its reference."""
    created = await client.post(
        f"/api/integrations/{provider}/credentials",
        json={"type": "api_key", "api_key": KEY, "title": f"my {provider}"},
    )
    assert created.status_code in (200, 201), created.text
    return {"id": created.json()["id"], "provider": provider, "type": "api_key"}


async def import_agent(client: httpx.AsyncClient, path: Path) -> dict[str, Any]:
    """Import the agent file through the API; the stored graph."""
    created = await client.post("/api/graphs", json={"graph": json.loads(path.read_text())})
    assert created.status_code == 200, created.text
    graph: dict[str, Any] = created.json()
    return graph


@dataclass
class AgentRun:
    """A finished run of an agent file and what each of its nodes did."""

    row: RunRow
    #: file node id -> its executions, in order.
    nodes: dict[str, list[NodeRow]]
    #: file node ids of nodes that never execute (notes).
    notes: frozenset[str]
    #: file node id -> its block's name.
    blocks: dict[str, str]

    def statuses(self) -> dict[str, list[str]]:
        """file node id -> the status of each of its executions (empty: never ran)."""
        return {node_id: [n.status for n in runs] for node_id, runs in self.nodes.items()}

    def outputs(self, node_id: str) -> dict[str, list[Any]]:
        """Everything one node (id or prefix) output, per pin, over all its executions."""
        merged: dict[str, list[Any]] = {}
        for execution in self.nodes[self._id(node_id)]:
            for pin, values in execution.output_data.items():
                merged.setdefault(pin, []).extend(values)
        return merged

    def expect(
        self,
        *,
        not_run: Iterable[str] = (),
        failed: Iterable[str] = (),
        incomplete: Iterable[str] = (),
        runs: dict[str, int] | None = None,
    ) -> None:
        """Assert how every node ended: the ``not_run`` ones (and notes) never ran; each
        execution of a ``failed`` one failed, of an ``incomplete`` one still waits for inputs
        that never came (AutoGPT leaves those INCOMPLETE in a finished run); every other node
        completed each time it ran. Each ran once, or ``runs[node]`` times. Ids may be
        prefixes; a node may be ``incomplete`` after completing ``runs[node] - 1`` times."""
        ended = {self._id(p): "FAILED" for p in failed}
        waiting = {self._id(p) for p in incomplete}
        skipped = {self._id(p) for p in not_run} | self.notes
        counts = {self._id(k): v for k, v in (runs or {}).items()}
        expected: dict[str, list[str]] = {}
        for node_id in self.nodes:
            times = 0 if node_id in skipped else counts.get(node_id, 1)
            statuses = [ended.get(node_id, "COMPLETED")] * times
            if node_id in waiting and statuses:
                statuses[-1] = "INCOMPLETE"
            expected[node_id] = statuses
        assert self.statuses() == expected, self.describe()

    def describe(self) -> str:
        """One line per node: id, block, statuses and the pins it output."""
        return "\n".join(
            f"{node_id[:8]} {self.blocks[node_id]}: {[n.status for n in runs]} "
            f"{sorted(self.outputs(node_id))} {[n.error for n in runs if n.error]}"
            for node_id, runs in self.nodes.items()
        )

    def _id(self, prefix: str) -> str:
        (found,) = [node_id for node_id in self.nodes if node_id.startswith(prefix)]
        return found

    def _ids(self, prefixes: Iterable[str]) -> set[str]:
        return {self._id(p) for p in prefixes}


async def run_agent(
    env: Env,
    path: Path,
    inputs: dict[str, Any],
    refs: dict[str, dict[str, str]],
    *,
    status: str = "COMPLETED",
) -> AgentRun:
    """Import and run the agent file with these inputs and credential references; wait for
    the run to end with ``status`` and check the user's key is in nothing the run kept."""
    export = json.loads(path.read_text())
    graph = await import_agent(env.client, path)
    url = f"/api/graphs/{graph['id']}/execute/{graph['version']}"
    body = {
        "inputs": inputs,
        "credentials_inputs": {f"{p}_api_key_credentials": r for p, r in refs.items()},
    }
    answer = await env.client.post(url, json=body)
    assert answer.status_code == 200, answer.text
    row: RunRow = await tk.wait_for_run(env.platform.db, answer.json()["id"], timeout=60)
    executions = await env.platform.db.executions.get_nodes(row.id)
    # The importer keeps the file's node order; the blocks say the pairing is right.
    pairs = list(zip(export["nodes"], graph["nodes"], strict=True))
    assert [LEGACY_BLOCK_IDS.get(t["block_id"], t["block_id"]) for t, _ in pairs] == [
        ours["block_id"] for _, ours in pairs
    ]
    file_id = {ours["id"]: theirs["id"] for theirs, ours in pairs}
    nodes: dict[str, list[NodeRow]] = {theirs["id"]: [] for theirs, _ in pairs}
    for execution in executions:
        nodes[file_id[execution.node_id]].append(execution)
    notes = frozenset(
        theirs["id"]
        for theirs, ours in pairs
        if (block := env.platform.blocks.get(ours["block_id"])) is not None
        and block.block_type == BlockType.NOTE
    )
    kept = [row.inputs, row.outputs, *(e.input_data for e in executions)]
    kept += [e.output_data for e in executions]
    # The users' keys never land in what a run keeps.
    assert KEY not in json.dumps(kept, default=str)
    names = {
        theirs["id"]: block.name if (block := env.platform.blocks.get(ours["block_id"])) else "?"
        for theirs, ours in pairs
    }
    run = AgentRun(row, nodes, notes, names)
    assert row.status == status, f"{row.error}\n{run.describe()}"
    return run
