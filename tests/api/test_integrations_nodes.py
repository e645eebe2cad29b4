"""Resolving a node's credentials inputs for its block, and checking a graph's before a run:
the block gets the decrypted credential; a missing, foreign or unfitting one is a 422 that
names the node and the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from autoplat.blocks.base import Block, BlockContext, BlockOutput, BlockOutputSchema, BlockSchema
from autoplat.blocks.registry import BlockRegistry
from autoplat.blocks.schema import pin
from autoplat.errors import ValidationFailed
from autoplat.graphs.model import Graph, Link, Node
from autoplat.integrations.model import APIKeyCredentials, CredentialsMeta
from autoplat.integrations.service import CredentialsService
from autoplat.platform import Platform
from autoplat.testing import make_settings, running_platform

OPENAI_SYSTEM_ID = "53c25cb8-e3ee-465c-a4d1-e75a4c899c2a"


class AskBlock(Block["AskBlock.Input"]):
    """Test-only: an LLM-like block whose credentials provider follows its ``model``."""

    class Input(BlockSchema):
        model: str = "gpt-4o"
        credentials: dict[str, Any] = pin(
            description="The provider's API key.",
            credentials_provider=["openai", "anthropic"],
            credentials_types=["api_key"],
            discriminator="model",
            discriminator_mapping={"gpt-4o": "openai", "claude-3": "anthropic"},
        )

    class Output(BlockOutputSchema):
        key_tail: str = ""

    id = "00000000-0000-4000-8000-00000000c4ed"
    input_schema = Input
    output_schema = Output

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        credentials = context.credentials["credentials"]
        yield "key_tail", credentials.api_key.get_secret_value()[-4:]


class SearchBlock(Block["SearchBlock.Input"]):
    """Test-only: a second credentials input, optional, by name only (no markers)."""

    class Input(BlockSchema):
        query: str = ""
        search_credentials: dict[str, Any] | None = None

    class Output(BlockOutputSchema):
        found: bool = False

    id = "00000000-0000-4000-8000-00000000c4ee"
    input_schema = Input
    output_schema = Output

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        yield "found", True


def _service(platform: Platform) -> CredentialsService:
    blocks = BlockRegistry([AskBlock(), SearchBlock()])
    return CredentialsService(platform.settings, platform.db, blocks)


async def _key(service: CredentialsService, user: str, provider: str, key: str) -> CredentialsMeta:
    await service.db.users.ensure(user)
    created = APIKeyCredentials(id="", provider=provider, api_key=SecretStr(key))
    return await service.create(user, created)


def _ref(meta: CredentialsMeta) -> dict[str, Any]:
    return {"id": meta.id, "provider": meta.provider, "type": meta.type.value, "title": meta.title}


async def test_a_node_gets_its_credential_decrypted_by_field_name(
    autoplat_platform: Platform,
) -> None:
    service = _service(autoplat_platform)
    mine = await _key(service, "user-a", "openai", "sk-node-key-1234")
    found = await service.for_node("user-a", AskBlock(), {"credentials": _ref(mine)}, node_id="n1")
    assert list(found) == ["credentials"]
    assert found["credentials"].api_key.get_secret_value() == "sk-node-key-1234"  # type: ignore[union-attr]
    # AutoGPT exports made on Python 3.13 spell the provider as an enum member.
    odd = {**_ref(mine), "provider": "ProviderName.OPENAI"}
    assert (await service.for_node("user-a", AskBlock(), {"credentials": odd}))[
        "credentials"
    ].id == mine.id


async def test_missing_foreign_and_unfitting_credentials_name_the_node_and_field(
    autoplat_platform: Platform,
) -> None:
    service = _service(autoplat_platform)
    mine = await _key(service, "user-a", "openai", "sk-a")
    theirs = await _key(service, "user-b", "openai", "sk-b")

    with pytest.raises(ValidationFailed) as missing:
        await service.for_node("user-a", AskBlock(), {}, node_id="n1")
    assert missing.value.details == [
        {
            "node_id": "n1",
            "block_id": AskBlock.id,
            "pin": "credentials",
            "message": "credentials are required",
        }
    ]
    assert missing.value.status == 422 and "node n1 credentials" in missing.value.message

    with pytest.raises(ValidationFailed) as foreign:
        await service.for_node("user-a", AskBlock(), {"credentials": _ref(theirs)}, node_id="n1")
    bogus = {**_ref(theirs), "id": "00000000-0000-4000-8000-000000000000"}
    with pytest.raises(ValidationFailed) as unknown:
        await service.for_node("user-a", AskBlock(), {"credentials": bogus}, node_id="n1")
    assert foreign.value.details[0]["message"] == f"credentials {theirs.id} not found"
    assert unknown.value.details[0]["message"] == f"credentials {bogus['id']} not found"

    # The model picks the provider: an OpenAI key does not fit a Claude model.
    with pytest.raises(ValidationFailed) as unfit:
        await service.for_node(
            "user-a", AskBlock(), {"model": "claude-3", "credentials": _ref(mine)}
        )
    assert "expected anthropic" in unfit.value.details[0]["message"]

    with pytest.raises(ValidationFailed) as shape:
        await service.for_node("user-a", AskBlock(), {"credentials": {"id": "x"}})
    assert "not a credentials reference" in shape.value.details[0]["message"]
    # Optional credentials (the node's credentials_optional) may be left out.
    assert await service.for_node("user-a", AskBlock(), {}, optional=True) == {}
    assert await service.for_node("user-a", SearchBlock(), {}) == {}


async def test_platform_credentials_serve_every_users_nodes(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(autoplat_database_url, tmp_path, openai_api_key="sk-platform-9")
    async with running_platform(settings) as (platform, _):
        service = _service(platform)
        ref = {"id": OPENAI_SYSTEM_ID, "provider": "openai", "type": "api_key"}
        found = await service.for_node("anyone", AskBlock(), {"credentials": ref})
    assert found["credentials"].is_system
    assert found["credentials"].api_key.get_secret_value() == "sk-platform-9"  # type: ignore[union-attr]


def _graph(*nodes: Node, links: list[Link] | None = None, sub: list[Graph] | None = None) -> Graph:
    return Graph(name="g", nodes=list(nodes), links=links or [], sub_graphs=sub or [])


async def test_a_graph_is_checked_before_its_run_with_the_runs_credentials_inputs(
    autoplat_platform: Platform,
) -> None:
    service = _service(autoplat_platform)
    openai = await _key(service, "user-a", "openai", "sk-o")
    anthropic = await _key(service, "user-a", "anthropic", "sk-c")
    preset = Node(id="preset", block_id=AskBlock.id, input_default={"credentials": _ref(openai)})
    empty = Node(id="empty", block_id=AskBlock.id, input_default={"model": "claude-3"})
    child = Node(id="child", block_id=AskBlock.id)
    graph = _graph(preset, empty, sub=[_graph(child)])

    with pytest.raises(ValidationFailed) as caught:
        await service.check_graph("user-a", graph, {})
    problems = {(d["graph_id"], d["node_id"], d["pin"]) for d in caught.value.details}
    assert problems == {
        (graph.id, "empty", "credentials"),
        (graph.sub_graphs[0].id, "child", "credentials"),
    }

    # The aggregated key of credentials_input_schema fills every node it fits ...
    inputs = {"openai_anthropic_api_key_credentials": _ref(anthropic)}
    with pytest.raises(ValidationFailed) as unfit:
        await service.check_graph("user-a", graph, inputs)
    # ... and wins over a node's own reference, so the OpenAI nodes now get the wrong one.
    assert {d["node_id"] for d in unfit.value.details} == {"preset", "child"}

    # Keyed by anything else, an entry fills the fields whose provider it is.
    by_provider = {"a": _ref(anthropic), "b": _ref(openai)}
    await service.check_graph("user-a", graph, by_provider)
    masks = service.node_credentials_map(graph, by_provider)
    assert masks["empty"]["credentials"]["id"] == anthropic.id
    assert masks["child"]["credentials"]["id"] == openai.id


async def test_a_graph_check_accepts_linked_and_optional_credentials_and_refuses_bad_inputs(
    autoplat_platform: Platform,
) -> None:
    service = _service(autoplat_platform)
    source = Node(id="src", block_id=SearchBlock.id)
    linked = Node(id="linked", block_id=AskBlock.id)
    optional = Node(id="opt", block_id=AskBlock.id, metadata={"credentials_optional": True})
    wire = Link(source_id="src", sink_id="linked", source_name="found", sink_name="credentials")
    graph = _graph(source, linked, optional, links=[wire])
    await service.check_graph("user-a", graph, {})
    with pytest.raises(ValidationFailed) as caught:
        await service.check_graph("user-a", graph, {"openai_api_key_credentials": "not-a-ref"})
    assert caught.value.details[0]["pin"] == "openai_api_key_credentials"
