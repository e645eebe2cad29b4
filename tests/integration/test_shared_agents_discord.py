"""The legacy "Discord Bot Chat To LLM" template runs end to end (both databases): its reader
waits on the Discord gateway stand-in for the next message, a ``!chat`` command is put to the
LLM stand-in as "<user> Said: <question>", and the answer is posted to the channel over the
REST stand-in, all with the user's stored Discord bot token (the template wired a
``discord_bot_token`` constant in; it is a credential now, graphs/legacy.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.agent_runs import AGENTS, Env, add_key, agent_env, run_agent
from tests.support.providers import KEY

DISCORD_BOT = AGENTS / "graph_template_Discord_Bot_Chat_To_LLM_v5.json"
# The template's nodes, by their ids in the file.
READ = "b8138bca"
COMMAND = "42eda7a9"  # ExtractTextInformation "(?<=!chat ).*"
WHO_SAID = "b667bcc4"  # CombineTexts: username + " Said: "
PROMPT = "d693cda1"  # CombineTexts: that + the question
LLM = "9049f063"
SEND = "dda2d061"
TOKEN_AT_START = "b6411821"  # StoreValue nodes that fed the token in; they lead nowhere now
TOKEN_AFTER_REPLY = "3209c5e1"

pytestmark = pytest.mark.skipif(not DISCORD_BOT.exists(), reason="shared agents not found")


@pytest.fixture
async def env(autoplat_database_url: str, tmp_path: Path) -> AsyncIterator[Env]:
    async with agent_env(autoplat_database_url, tmp_path) as running:
        yield running


async def test_a_chat_command_is_answered_by_the_llm_in_the_channel(env: Env) -> None:
    env.fake.discord_inbox = "!chat what is the capital of Scotland?"
    env.openai.replies = ["Edinburgh, of course."]
    refs = {"discord": await add_key(env.client, "discord")}

    run = await run_agent(env, DISCORD_BOT, {}, refs)

    run.expect()  # every node ran once and completed
    assert run.outputs(READ) == {
        "message_content": ["!chat what is the capital of Scotland?"],
        "message_id": ["m-in"],
        "channel_id": ["c1"],
        "channel_name": ["general"],
        "user_id": ["u-7"],
        "username": ["alice"],
    }
    assert run.outputs(COMMAND)["positive"] == ["what is the capital of Scotland?"]
    assert run.outputs(WHO_SAID)["output"] == ["alice Said: "]
    assert run.outputs(PROMPT)["output"] == ["alice Said: what is the capital of Scotland?"]
    assert run.outputs(LLM)["response"] == ["Edinburgh, of course."]
    assert run.outputs(SEND) == {
        "status": ["Message sent"],
        "message_id": ["m1"],
        "channel_id": ["c1"],
    }
    (request,) = env.openai.requests
    assert request["model"] == "gpt-4o"
    assert [m["role"] for m in request["messages"]] == ["system", "user"]
    assert request["messages"][0]["content"] == "You are a nice friendly AI"
    assert "alice Said: what is the capital of Scotland?" in request["messages"][1]["content"]
    # The reply reached the channel the message came from, posted with the stored token.
    assert env.fake.discord_sent == [{"channel": "c1", "content": "Edinburgh, of course."}]
    calls = env.fake.seen("discord")
    assert calls and all(c.auth == f"Bot {KEY}" for c in calls)
    assert calls[0].path == "/discord/v10/gateway/bot"
    assert calls[-1].path == "/discord/v10/channels/c1/messages"
    # The template has no output nodes; the placeholder it stored as a token is not one.
    assert run.row.outputs == {}
    assert run.outputs(TOKEN_AFTER_REPLY) == {"output": ["DISCORD BOT API KEY HERE"]}


async def test_a_message_that_is_no_chat_command_gets_no_answer(env: Env) -> None:
    env.fake.discord_inbox = "just saying hello"
    refs = {"discord": await add_key(env.client, "discord")}

    run = await run_agent(env, DISCORD_BOT, {}, refs)

    # The prompt and the sender wait for the question that never came.
    run.expect(not_run=[LLM], incomplete=[PROMPT, SEND])
    assert run.outputs(COMMAND)["negative"] == ["just saying hello"]
    assert run.outputs(TOKEN_AT_START) == {"output": ["DISCORD BOT API KEY HERE"]}
    assert run.outputs(WHO_SAID)["output"] == ["alice Said: "]
    assert env.openai.requests == [] and env.fake.discord_sent == []
    assert [c.path for c in env.fake.seen("discord")] == ["/discord/v10/gateway/bot"]
