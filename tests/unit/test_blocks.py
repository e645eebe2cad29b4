"""The block library: catalogue, metadata, self-test vectors, registry and selected behaviour."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from autoplat.blocks.base import Block, BlockContext, BlockCost, BlockType
from autoplat.blocks.outbound import OutboundHttp
from autoplat.blocks.registry import BlockRegistry, block_classes
from autoplat.blocks.selftest import collect_outputs, expected_matches, run_self_test
from autoplat.blocks.settings import BlockSettings
from autoplat.errors import BlockNotFound, BlockOutputError, BlockRunError, ConfigError

# blocks.md §2 plus the LLM blocks used by the sample agents: facts, not code.
CATALOGUE = {
    "8fa8c167-2002-47ce-aba8-97572fc5d387": "GenericWebhookTriggerBlock",
    "1ff065e9-88e8-4358-9d82-8dc91f622ba9": "StoreValueBlock",
    "f3b1c1b2-4c4f-4f0d-8d2f-4c4f0d8d2f4c": "PrintToConsoleBlock",
    "cc10ff7b-7753-4ff2-9af6-9399b1a7eddc": "NoteBlock",
    "c0a8e994-ebf1-4a9c-a4d8-89d09c86741b": "AgentInputBlock",
    "7fcd3bcb-8e1b-4e69-903d-32d3d4a92158": "AgentShortTextInputBlock",
    "90a56ffb-7024-4b2b-ab50-e26c5e5ab8ba": "AgentLongTextInputBlock",
    "96dae2bb-97a2-41c2-bd2f-13a3b5a8ea98": "AgentNumberInputBlock",
    "7e198b09-4994-47db-8b4d-952d98241817": "AgentDateInputBlock",
    "2a1c757e-86cf-4c7e-aacf-060dc382e434": "AgentTimeInputBlock",
    "655d6fdf-a334-421c-b733-520549c07cd1": "AgentDropdownInputBlock",
    "cbf36ab5-df4a-43b6-8a7f-f7ed8652116e": "AgentToggleInputBlock",
    "5603b273-f41e-4020-af7d-fbc9c6a8d928": "AgentTableInputBlock",
    "363ae599-353e-4804-937e-b2ee3cef3da4": "AgentOutputBlock",
    "95ead23f-8283-4654-aef3-10c053b74a31": "AgentFileInputBlock",
    "d3b32f15-6fd7-40e3-be52-e083f51b19a2": "AgentGoogleDriveFileInputBlock",
    "0e50422c-6dee-4145-83d6-3a5a392f65de": "FindInDictionaryBlock",
    "b924ddf4-de4f-4b56-9a85-358930dcbc91": "CreateDictionaryBlock",
    "31d1064e-7446-4693-a7d4-65e5ca1180d1": "AddToDictionaryBlock",
    "46afe2ea-c613-43f8-95ff-6692c3ef6876": "RemoveFromDictionaryBlock",
    "27e31876-18b6-44f3-ab97-f6226d8b3889": "ReplaceDictionaryValueBlock",
    "a3cf3f64-6bb9-4cc6-9900-608a0b3359b0": "DictionaryIsEmptyBlock",
    "a912d5c7-6e00-4542-b2a9-8034136930e4": "CreateListBlock",
    "aeb08fc1-2fc1-4141-bc8e-f758f183a822": "AddToListBlock",
    "5e2c6d0a-1e37-489f-b1d0-8e1812b23333": "FindInListBlock",
    "262ca24c-1025-43cf-a578-534e23234e97": "GetListItemBlock",
    "d93c5a93-ac7e-41c1-ae5c-ef67e6e9b826": "RemoveFromListBlock",
    "fbf62922-bea1-4a3d-8bac-23587f810b38": "ReplaceListItemBlock",
    "896ed73b-27d0-41be-813c-c1c1dc856c03": "ListIsEmptyBlock",
    "95d1b990-ce13-4d88-9737-ba5c2070c97b": "UniversalTypeConverterBlock",
    "3060088f-6ed9-4928-9ba7-9c92823a7ccd": "MatchTextPatternBlock",
    "3146e4fe-2cdd-4f29-bd12-0c9d5bb4deb0": "ExtractTextInformationBlock",
    "db7d8f02-2f44-4c55-ab7a-eae0941f0c30": "FillTextTemplateBlock",
    "e30a4d42-7b7d-4e6a-b36e-1f9b8e3b7d85": "CombineTextsBlock",
    "d5ea33c8-a575-477a-b42f-2fe3be5055ec": "TextSplitBlock",
    "7e7c87ab-3469-4bcc-9abe-67705091b713": "TextReplaceBlock",
    "715696a0-e1da-45c8-b209-c2fa9c3b0be6": "ConditionBlock",
    "6dbbc4b3-ca6c-42b6-b508-da52d23e13f2": "IfInputMatchesBlock",
    "b1ab9b19-67a6-406d-abf5-2dba76d00c79": "CalculatorBlock",
    "3c9c2f42-b0c3-435f-ba35-05f7a25c772a": "CountItemsBlock",
    "f66a3543-28d3-4ab5-8945-9b336371e2ce": "StepThroughItemsBlock",
    "a892b8d9-3e4e-4e9c-9c1e-75f8efcf1bfa": "GetCurrentTimeBlock",
    "b29c1b50-5d0e-4d9f-8f9d-1b0e6fcbf0b1": "GetCurrentDateBlock",
    "716a67b3-6760-42e7-86dc-18645c6e00fc": "GetCurrentDateAndTimeBlock",
    "d67a9c52-5e4e-11e2-bcfd-0800200c9a71": "CountdownTimerBlock",
    "6595ae1f-b924-42cb-9a41-551a0611c4b4": "SendWebRequestBlock",
    "e189baac-8c20-45a1-94a7-55177ea42565": "AgentExecutorBlock",
    "286380af-9529-4b55-8be0-1d7c854abdb5": "XMLParserBlock",
    "1f292d4a-41a4-4977-9684-7c8d560b9f91": "AITextGeneratorBlock",
    "ed55ac19-356e-4243-a6cb-bc599e9b716f": "AIStructuredResponseGeneratorBlock",
    "cbb50872-625b-42f0-8203-a2ae78242d8a": "FileStoreBlock",
    "422cb708-3109-4277-bfe3-bc2ae5812777": "ReverseListOrderBlock",
    "3cf9298b-5817-4141-9d80-7c2cc5199c8e": "ConcatenateListsBlock",
    "32a87eab-381e-4dd4-bdb8-4c47151be35a": "AIConversationBlock",
    "a0a69be1-4528-491c-a85a-a4ab6873e3f0": "AITextSummarizerBlock",
    "9c0b0450-d199-458b-a731-072189dd6593": "AIListGeneratorBlock",
    "553ec5b8-6c45-4299-8d75-b394d05f72ff": "AIConditionBlock",
    "8b2a7b3c-6e9d-4a5f-8c1b-2e3f4a5b6c7d": "HumanInTheLoopBlock",
    "3b191d9f-356f-482d-8238-ba04b6d18381": "OrchestratorBlock",
    # issue 12: the credential-free blocks AutoGPT has (ids from its blocks/).
    "cc45bb0f-d035-4756-96a7-fe3e36254b4d": "FlattenListBlock",
    "9f616084-1d9f-4f8e-bc00-5b9d2a75cd75": "InterleaveListsBlock",
    "0d0e684f-5cb9-4c4b-b8d1-47a0860e0c07": "ZipListsBlock",
    "05309873-9d61-447e-96b5-b804e2511829": "ListDifferenceBlock",
    "b6eb08b6-dbe3-411b-b9b4-2508cb311a1f": "ListIntersectionBlock",
    "2570e8fe-8447-43ed-84c7-70d657923231": "TextDecoderBlock",
    "59c54df9-0e3b-44b5-a1ef-c0b8bf8d9ab9": "TextEncoderBlock",
    "ab2a782d-22cf-4587-8a70-55b59b3f9f90": "WordCharacterCountBlock",
    "d3a7d896-3b78-4f44-8b4b-48fbf4f0bcd8": "CodeExtractionBlock",
    "4a448883-71fa-49cf-91cf-70d793bd7d87": "DataSamplingBlock",
    # Integration blocks the shared agents use (issue 12 item 3).
    "87840993-2053-44b7-8da4-187ad4ee518c": "SearchTheWebBlock",
    "436c3984-57fd-4b85-8e9a-459b356883bd": "ExtractWebsiteContentBlock",
    "f47ac10b-58cc-4372-a567-0e02b2c3d479": "GoogleMapsSearchBlock",
    "6ab085e2-20b3-4055-bc3e-08036e01eca6": "IdeogramModelBlock",
    "90f8c45e-e983-4644-aa0b-b4ebe2f531bc": "ReplicateFluxAdvancedModelBlock",
    "3f7b2dcb-4a78-4e3f-b0f1-88132e1b89df": "PublishToMediumBlock",
    "f3a8f7e1-4b1d-4e5f-9f2a-7c3d5a2e6b4c": "TranscribeYoutubeVideoBlock",
    "0b02b072-abe7-11ef-8372-fb5d162dd712": "ExecuteCodeBlock",
    "df06086a-d5ac-4abb-9996-2ad0acb2eff7": "ReadDiscordMessagesBlock",
    "d0822ab5-9f8a-44a3-8971-531dd0178b6b": "SendDiscordMessageBlock",
    "ed1ae7a0-b770-4089-b520-1f0005fad19a": "AIImageGeneratorBlock",
    "4335878a-394e-4e67-adf2-919877ff49ae": "SendEmailBlock",
    "fff86bcd-e001-4bad-a7f6-2eae4720c8dc": "SendAuthenticatedWebRequestBlock",
    "996cec64-ac40-4dde-982f-b0dc60a5824d": "ExaSearchBlock",
    "c52be83f-f8cd-4180-b243-af35f986b461": "ExaContentsBlock",
    "ac444320-cf5e-4697-b586-2604c17a3e75": "FirecrawlScrapeBlock",
    "bdbbaba0-03b7-4971-970e-699e2de6015e": "FirecrawlCrawlBlock",
    "6443c75d-032a-4772-9c08-230c707c8acc": "GithubReadIssueBlock",
    "c215bfd7-0e57-4573-8f8c-f7d4963dcd74": "GithubListIssuesBlock",
    "691dad47-f494-44c3-a1e8-05b7990f2dab": "GithubMakeIssueBlock",
    "a8db4d8d-db1c-4a25-a1b0-416a8c33602b": "GithubCommentBlock",
    "ffef3c4c-6cd0-48dd-817d-459f975219f4": "GithubListPullRequestsBlock",
    "bf94b2a4-1a30-4600-a783-a8a44ee31301": "GithubReadPullRequestBlock",
    "87ce6c27-5752-4bbc-8e26-6da40a3dcfd3": "GithubReadFileBlock",
    "5724e902-3635-47e9-a108-aaa0263a4988": "GoogleSheetsReadBlock",
    "d9291e87-301d-47a8-91fe-907fb55460e5": "GoogleSheetsWriteBlock",
    "25310c70-b89b-43ba-b25c-4dfa7e2a481c": "GmailReadBlock",
    "6c27abc2-e51d-499e-a85f-5a0041ba94f0": "GmailSendBlock",
    "1d055e55-a2b9-4547-8311-907d05b0304d": "PersistInformationBlock",
    "d8710fc9-6e29-481e-a7d5-165eb16f8471": "RetrieveInformationBlock",
    "3735a31f-7e18-4aca-9e90-08a7120674bc": "FileReadBlock",
    "acf7625e-d2cb-4941-bfeb-2819fc6fc015": "ReadSpreadsheetBlock",
    "f5b0f5d0-1862-4d61-94be-3ad0fa772760": "GetWikipediaSummaryBlock",
    "5ebe6768-8e5d-41e3-9134-1c7bd89a8d52": "ReadRSSFeedBlock",
}

STATIC_OUTPUT = {
    "StoreValueBlock",
    "AgentOutputBlock",
    "FileStoreBlock",
    "RetrieveInformationBlock",
    *(n for n in CATALOGUE.values() if n.startswith("Agent") and n.endswith("InputBlock")),
}

BLOCK_CLASSES = block_classes()


@pytest.fixture
async def context() -> AsyncIterator[BlockContext]:
    """A default, offline block context (no private HTTP, no LLM endpoint)."""
    settings = BlockSettings(llm_base_url="", http_allow_private=False)
    async with OutboundHttp(settings) as outbound:
        yield BlockContext(
            settings=settings,
            http=outbound.client_for("user-1"),
            user_id="user-1",
            graph_exec_id=str(uuid.uuid4()),
            node_exec_id=str(uuid.uuid4()),
        )


@pytest.mark.parametrize("block_cls", BLOCK_CLASSES, ids=lambda cls: cls.__name__)
async def test_block_self_test(block_cls: type[Block[Any]], context: BlockContext) -> None:
    await run_self_test(block_cls(), context)


def test_catalogue_is_complete() -> None:
    registry = BlockRegistry.builtin()
    present = {block.id: block.name for block in registry}
    missing = {i: n for i, n in CATALOGUE.items() if present.get(i) != n}
    assert not missing, f"missing or misnamed blocks: {missing}"


def test_ids_are_unique_uuids_and_names_unique() -> None:
    blocks = [cls() for cls in BLOCK_CLASSES]
    ids = [b.id for b in blocks]
    names = [b.name for b in blocks]
    assert len(set(ids)) == len(ids)
    assert len(set(names)) == len(names)
    for block_id in ids:
        assert str(uuid.UUID(block_id)) == block_id


def test_static_output_and_types_follow_spec() -> None:
    registry = BlockRegistry.builtin()
    for block in registry:
        assert block.static_output == (block.name in STATIC_OUTPUT), block.name
    assert registry.require("cc10ff7b-7753-4ff2-9af6-9399b1a7eddc").block_type == BlockType.NOTE
    assert registry.require("e189baac-8c20-45a1-94a7-55177ea42565").block_type == BlockType.AGENT
    assert registry.require("363ae599-353e-4804-937e-b2ee3cef3da4").block_type == BlockType.OUTPUT
    assert registry.require("f3b1c1b2-4c4f-4f0d-8d2f-4c4f0d8d2f4c").disabled
    inputs = [b for b in registry if b.name.endswith("InputBlock")]
    assert inputs and all(b.block_type == BlockType.INPUT for b in inputs)
    # IO blocks and the sub-agent block use plain schemas: no implicit error pin.
    for block in (*inputs, registry.require("363ae599-353e-4804-937e-b2ee3cef3da4")):
        assert "error" not in block.output_schema.pin_names()
    assert (
        "error"
        in registry.require("b1ab9b19-67a6-406d-abf5-2dba76d00c79").output_schema.pin_names()
    )


@pytest.mark.parametrize("block_cls", BLOCK_CLASSES, ids=lambda cls: cls.__name__)
def test_info_is_json_with_valid_schemas(block_cls: type[Block[Any]]) -> None:
    jsonschema_rs = pytest.importorskip("jsonschema_rs")
    info = json.loads(json.dumps(block_cls().info()))
    assert info["id"] == block_cls.id and info["name"] == block_cls.__name__
    for key in ("inputSchema", "outputSchema"):
        assert jsonschema_rs.meta.is_valid(info[key]), f"{key} of {info['name']}"
        assert info[key]["type"] == "object"
    for name, prop in info["inputSchema"].get("properties", {}).items():
        required = name in info["inputSchema"].get("required", [])
        assert "advanced" in prop, f"{info['name']}.{name} lacks the advanced flag"
        if required:
            assert prop["advanced"] is False, f"{info['name']}.{name}"


def test_pin_defaults_match_spec_samples() -> None:
    registry = BlockRegistry.builtin()
    sendweb = registry.require("6595ae1f-b924-42cb-9a41-551a0611c4b4").input_schema.json_schema()
    assert sendweb["properties"]["method"]["default"] == "POST"
    assert sendweb["required"] == ["url"]
    table = registry.require("5603b273-f41e-4020-af7d-fbc9c6a8d928").input_schema.json_schema()
    assert table["properties"]["column_headers"]["default"] == ["Column 1", "Column 2", "Column 3"]
    llm = registry.require("1f292d4a-41a4-4977-9684-7c8d560b9f91").input_schema.json_schema()
    assert llm["properties"]["model"]["default"] == "gpt-5.2-2025-12-11"
    assert set(llm["required"]) == {"prompt"}


def test_registry_lookup() -> None:
    registry = BlockRegistry.builtin()
    assert len(registry) == len(CATALOGUE)
    assert "1ff065e9-88e8-4358-9d82-8dc91f622ba9" in registry
    assert "nope" not in registry
    assert registry.get("nope") is None
    with pytest.raises(BlockNotFound) as caught:
        registry.require("nope")
    assert caught.value.code == "block_not_found" and caught.value.status == 404


def test_registry_cost_overrides() -> None:
    registry = BlockRegistry.builtin()
    calc = "b1ab9b19-67a6-406d-abf5-2dba76d00c79"
    llm = "1f292d4a-41a4-4977-9684-7c8d560b9f91"
    assert registry.costs_for(calc) == ()
    priced_models = [c.cost_filter.get("model") for c in registry.costs_for(llm)]
    assert "gpt-5.2-2025-12-11" in priced_models
    priced = registry.with_cost_overrides({calc: [{"cost_amount": 2}]})
    assert priced.costs_for(calc) == (BlockCost(cost_amount=2),)
    assert priced.costs_for(llm) == registry.costs_for(llm)
    assert priced.info(priced.require(calc))["costs"][0]["cost_amount"] == 2
    with pytest.raises(ConfigError):
        registry.with_cost_overrides({"unknown": [{"cost_amount": 1}]})
    with pytest.raises(ConfigError):
        registry.with_cost_overrides({calc: [{"cost_amount": -1}]})


def test_expected_matching_rules() -> None:
    assert expected_matches(3, 3)
    assert expected_matches(int, 3)
    assert not expected_matches(str, 3)
    assert expected_matches(lambda v: v > 2, 3)
    assert not expected_matches(lambda v: v.missing, 3)


async def test_self_test_reports_a_clear_diff(context: BlockContext) -> None:
    block = BlockRegistry.builtin().require("e30a4d42-7b7d-4e6a-b36e-1f9b8e3b7d85")

    class Wrong(type(block)):  # type: ignore[misc]
        test_output = [("output", "not this")]

    with pytest.raises(AssertionError, match=r"#0: expected \('output', 'not this'\)"):
        await run_self_test(Wrong(), context)


async def test_error_pin_fails_the_run(context: BlockContext) -> None:
    block = BlockRegistry.builtin().require("262ca24c-1025-43cf-a578-534e23234e97")
    with pytest.raises(BlockRunError, match="Index out of range"):
        async for _ in block.execute({"list": [], "index": 3}, context):
            pass


class RecordingRunner:
    """Stands in for the executor: records the call and replays scripted outputs."""

    def __init__(self, outputs: list[tuple[str, Any]]) -> None:
        self.outputs = outputs
        self.calls: list[dict[str, Any]] = []

    def run_subgraph(
        self, *, graph_id: str, graph_version: int, inputs: Mapping[str, Any]
    ) -> AsyncIterator[tuple[str, Any]]:
        self.calls.append({"graph_id": graph_id, "graph_version": graph_version, **inputs})

        async def replay() -> AsyncIterator[tuple[str, Any]]:
            for pair in self.outputs:
                yield pair

        return replay()


AGENT_INPUT = {
    "user_id": "u",
    "graph_id": "child",
    "graph_version": 3,
    "inputs": {"Business Info": "bakery"},
    "input_schema": {"type": "object", "properties": {"Business Info": {}}},
    "output_schema": {"type": "object", "properties": {"Results!": {}, "Error": {}}},
}


async def test_agent_executor_relays_child_outputs(context: BlockContext) -> None:
    block = BlockRegistry.builtin().require("e189baac-8c20-45a1-94a7-55177ea42565")
    runner = RecordingRunner([("Results!", "CEO: Ann"), ("Results!", "CEO: Bob")])
    context.subgraphs = runner
    outputs = await collect_outputs(block, AGENT_INPUT, context)
    assert outputs == [("Results!", "CEO: Ann"), ("Results!", "CEO: Bob")]
    assert runner.calls == [{"graph_id": "child", "graph_version": 3, "Business Info": "bakery"}]


async def test_agent_executor_needs_a_runner(context: BlockContext) -> None:
    block = BlockRegistry.builtin().require("e189baac-8c20-45a1-94a7-55177ea42565")
    with pytest.raises(BlockRunError, match="sub-agents"):
        async for _ in block.execute(AGENT_INPUT, context):
            pass


async def test_time_blocks_use_the_user_timezone(context: BlockContext) -> None:
    block = BlockRegistry.builtin().require("716a67b3-6760-42e7-86dc-18645c6e00fc")
    context.user_timezone = "Asia/Kathmandu"
    fmt = {"discriminator": "iso8601", "use_user_timezone": True}
    [(pin, value)] = await collect_outputs(block, {"trigger": "x", "format_type": fmt}, context)
    assert pin == "date_time" and value.endswith("+05:45")
    fmt["use_user_timezone"] = False
    [(pin, value)] = await collect_outputs(block, {"trigger": "x", "format_type": fmt}, context)
    assert value.endswith("+00:00")


def test_registry_modules_are_not_imported_by_the_package() -> None:
    import subprocess
    import sys

    code = (
        "import sys, autoplat.blocks.registry, autoplat.blocks.base; "
        "print(any(m.startswith('autoplat.blocks.builtin.') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_agent_executor_packs_link_data_into_inputs() -> None:
    from autoplat.blocks.builtin.agent import AgentExecutorBlock

    record = {**AGENT_INPUT, "inputs": {"Business Info": "default", "Other": 1}}
    record["Business Info"] = "from a link"
    packed = AgentExecutorBlock.pack_inputs(record)
    assert packed["inputs"] == {"Business Info": "from a link", "Other": 1}
    assert "Business Info" not in packed and packed["graph_id"] == "child"


async def test_bad_output_value_fails_the_run(context: BlockContext) -> None:
    calculator = BlockRegistry.builtin().require("b1ab9b19-67a6-406d-abf5-2dba76d00c79")
    # A negative base with a fractional exponent gives a complex number: not a float.
    with pytest.raises(BlockOutputError, match="bad value on 'result'"):
        async for _ in calculator.execute({"operation": "Power", "a": -8, "b": 0.5}, context):
            pass


COMPAT = Path(__file__).resolve().parents[3] / "shared" / "compat" / "agents"


@pytest.mark.skipif(not COMPAT.is_dir(), reason="shared/compat/agents is not present")
def test_sample_agent_constants_fit_our_pin_types() -> None:
    """Every constant input of every known block in the sample exports validates."""
    registry = BlockRegistry.builtin()
    checked = 0
    problems: list[str] = []
    for path in sorted(COMPAT.glob("*.json")):
        graph = json.loads(path.read_text())
        for sub in (graph, *graph.get("sub_graphs", [])):
            for node in sub["nodes"]:
                block = registry.get(node["block_id"])
                if block is None:
                    continue
                data = {k: v for k, v in node["input_default"].items() if v is not None}
                try:
                    block.input_schema.model_validate(data)
                except ValidationError as exc:
                    problems += [
                        f"{path.name} {block.name}: {err['loc']} {err['msg']}"
                        for err in exc.errors()
                        if err["type"] != "missing"  # supplied by links at run time
                    ]
                checked += 1
    assert checked > 100
    assert not problems, "\n".join(problems)
