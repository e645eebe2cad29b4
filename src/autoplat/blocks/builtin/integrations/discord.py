"""Discord bot blocks: AutoGPT's ``ReadDiscordMessagesBlock`` and ``SendDiscordMessageBlock``.

Invariants: the bot token (``Authorization: Bot …``) goes only to Discord's API base URL
and to the gateway that API names, and only when that gateway is Discord's
(``*.discord.gg``) or on the operator's replacement host; the gateway's address is vetted
like any outbound connection (no private address unless the operator configured it).
Reading waits for the next message by someone other than the bot (the gateway's
``MESSAGE_CREATE``), as AutoGPT's discord.py client does, bounded by the node's timeout;
the first ``.txt``/``.py`` attachment is fetched through the checked HTTP path and appended.
Sending resolves a channel id, or a text channel's name in the bot's servers (optionally one
server), and posts the text in 2,000-character chunks over the REST API.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import urllib.parse
from typing import Any

import httpx
import websockets

from autoplat.blocks.base import (
    Block,
    BlockCategory,
    BlockContext,
    BlockOutput,
    BlockOutputSchema,
    BlockSchema,
)
from autoplat.blocks.builtin.integrations._base import (
    CredentialsRefInput,
    ProviderError,
    api_key,
    call,
    credentials_pin,
    mock_credentials_input,
    raise_for_status,
    stand_in,
)
from autoplat.blocks.builtin.web_request import send_request
from autoplat.blocks.outbound import forbidden, is_forbidden_ip, system_resolver
from autoplat.blocks.schema import pin

PROVIDER = "discord"
API = "/v10"
CHUNK = 2000
#: GUILDS, GUILD_MESSAGES, DIRECT_MESSAGES and MESSAGE_CONTENT.
INTENTS = (1 << 0) | (1 << 9) | (1 << 12) | (1 << 15)
_TEXT_CHANNELS = {0, 5}
_LOGIN_ERROR = "Login error occurred: Improper token has been passed."
_DESCRIPTION = "Discord bot token"


def _headers(context: BlockContext) -> dict[str, str]:
    return {"Authorization": f"Bot {api_key(context).get_secret_value()}"}


async def _api(context: BlockContext, method: str, path: str, **body: Any) -> Any:
    base = context.settings.provider_url("discord")
    answer = await call(context, method, f"{base}{API}{path}", headers=_headers(context), **body)
    if answer.status == 401:
        raise ProviderError(_LOGIN_ERROR)
    if answer.status == 404:
        return None
    raise_for_status(answer, "An error occurred: Discord")
    return answer.json() if answer.content else {}


def chunk_message(message: str, limit: int = CHUNK) -> list[str]:
    """``message`` cut into pieces of at most ``limit`` characters."""
    return [message[i : i + limit] for i in range(0, len(message), limit)]


async def find_channel(context: BlockContext, channel: str, server: str) -> dict[str, Any] | None:
    """The channel with this id, else the text channel with this name (in ``server``)."""
    if channel.isdigit():
        found = await _api(context, "GET", f"/channels/{channel}")
        if isinstance(found, dict) and found.get("id"):
            return found
    guilds = await _api(context, "GET", "/users/@me/guilds") or []
    for guild in guilds if isinstance(guilds, list) else []:
        if server and guild.get("name") != server:
            continue
        channels = await _api(context, "GET", f"/guilds/{guild.get('id')}/channels") or []
        for candidate in channels if isinstance(channels, list) else []:
            if candidate.get("type") in _TEXT_CHANNELS and candidate.get("name") == channel:
                return dict(candidate)
    return None


async def _gateway_url(context: BlockContext) -> str:
    """The gateway to connect to, if it is Discord's or on the operator's host; vetted."""
    info = await _api(context, "GET", "/gateway/bot")
    url = str(info.get("url", "")) if isinstance(info, dict) else ""
    target = urllib.parse.urlsplit(url)
    base = urllib.parse.urlsplit(context.settings.provider_url("discord"))
    host = target.hostname or ""
    own = host == base.hostname and target.port == base.port
    if target.scheme not in ("ws", "wss") or not (own or host.endswith(".discord.gg")):
        raise ProviderError(f"An error occurred: Discord named an unexpected gateway {host!r}")
    trusted = own and "discord" in context.settings.provider_base_urls
    if not trusted and not context.settings.http_allow_private:
        port = target.port or (443 if target.scheme == "wss" else 80)
        if any(is_forbidden_ip(a) for a in await system_resolver(host, port)):
            raise forbidden(host)
    return f"{url.rstrip('/')}/?v=10&encoding=json"


async def _heartbeat(ws: Any, interval: float, seq: list[int | None]) -> None:
    while True:
        await asyncio.sleep(interval)
        await ws.send(json.dumps({"op": 1, "d": seq[0]}))


async def next_message(context: BlockContext) -> tuple[dict[str, Any], dict[str, str]]:
    """The next message someone (not the bot) posts, and the channel names seen so far."""
    token = api_key(context).get_secret_value()
    url = await _gateway_url(context)
    try:
        return await _listen(url, token, context.settings.http_timeout)
    except websockets.ConnectionClosed as exc:
        # 4004 is the gateway's "authentication failed".
        code = exc.rcvd.code if exc.rcvd is not None else None
        if code == 4004:
            raise ProviderError(_LOGIN_ERROR) from None
        raise ProviderError(f"An error occurred: the Discord gateway closed ({code})") from None


async def _listen(
    url: str, token: str, open_timeout: float
) -> tuple[dict[str, Any], dict[str, str]]:
    names: dict[str, str] = {}
    seq: list[int | None] = [None]
    async with websockets.connect(url, open_timeout=open_timeout) as ws:
        hello = json.loads(await ws.recv())
        interval = float((hello.get("d") or {}).get("heartbeat_interval", 41250)) / 1000
        beat = asyncio.create_task(_heartbeat(ws, interval, seq))
        try:
            identify = {
                "token": token,
                "intents": INTENTS,
                "properties": {"os": "linux", "browser": "autoplat", "device": "autoplat"},
            }
            await ws.send(json.dumps({"op": 2, "d": identify}))
            me = ""
            async for raw in ws:
                event = json.loads(raw)
                seq[0] = event.get("s", seq[0])
                if event.get("op") == 9:
                    raise ProviderError(_LOGIN_ERROR)
                kind, data = event.get("t"), event.get("d") or {}
                if kind == "READY":
                    me = str((data.get("user") or {}).get("id", ""))
                elif kind == "GUILD_CREATE":
                    for channel in data.get("channels") or []:
                        names[str(channel.get("id"))] = str(channel.get("name", ""))
                elif kind == "MESSAGE_CREATE" and str((data.get("author") or {}).get("id")) != me:
                    return data, names
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
    raise ProviderError("An error occurred: the Discord gateway closed the connection")


def _read_test_answer(request: httpx.Request) -> httpx.Response:
    return httpx.Response(404)


class ReadDiscordMessagesBlock(Block["ReadDiscordMessagesBlock.Input"]):
    """Wait for the next message to the bot and output it."""

    class Input(BlockSchema):
        credentials: CredentialsRefInput = credentials_pin(PROVIDER, _DESCRIPTION)

    class Output(BlockOutputSchema):
        message_content: str = pin(description="The content of the message received")
        message_id: str = pin(description="The ID of the message")
        channel_id: str = pin(description="The ID of the channel")
        channel_name: str = pin(description="The name of the channel the message was received from")
        user_id: str = pin(description="The ID of the user who sent the message")
        username: str = pin(description="The username of the user who sent the message")

    id = "df06086a-d5ac-4abb-9996-2ad0acb2eff7"
    description = "Reads messages from a Discord channel using a bot token."
    categories = (BlockCategory.BASIC,)
    input_schema = Input
    output_schema = Output
    # AutoGPT mocks the whole bot; offline, the vector checks a refused token's error.
    test_input = [{"continuous_read": False, "credentials": mock_credentials_input(PROVIDER)}]
    test_output = [("error", "An error occurred: Discord named an unexpected gateway ''")]
    test_context = stand_in(_read_test_answer, PROVIDER, "mock-discord-bot-token")

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        message, names = await next_message(context)
        content = str(message.get("content", ""))
        channel_id = str(message.get("channel_id", ""))
        name = names.get(channel_id)
        if name is None:
            channel = await _api(context, "GET", f"/channels/{channel_id}")
            name = channel.get("name") if isinstance(channel, dict) else None
        author = message.get("author") or {}
        attachments = message.get("attachments") or []
        if attachments:
            first = attachments[0]
            filename = str(first.get("filename", ""))
            if filename.endswith((".txt", ".py")):
                response, body = await send_request(context, "GET", str(first.get("url")), {}, {})
                text = body.decode(response.encoding or "utf-8", "replace")
                content += f"\n\nFile from user: {filename}\nContent: {text}"
        if name is None or not author.get("username"):
            raise ProviderError(
                "An error occurred: No message, channel name, or username received."
            )
        yield "message_content", content
        yield "message_id", str(message.get("id", ""))
        yield "channel_id", channel_id
        yield "channel_name", str(name)
        yield "user_id", str(author.get("id", ""))
        yield "username", str(author["username"])


def _send_test_answer(request: httpx.Request) -> httpx.Response:
    path = request.url.path
    if path.endswith(f"{API}/users/@me/guilds"):
        return httpx.Response(200, json=[{"id": "1", "name": "server"}])
    if path.endswith(f"{API}/guilds/1/channels"):
        return httpx.Response(
            200, json=[{"id": "987654321098765432", "type": 0, "name": "general"}]
        )
    if path.endswith("/messages"):
        return httpx.Response(200, json={"id": "123456789012345678"})
    return httpx.Response(404)


class SendDiscordMessageBlock(Block["SendDiscordMessageBlock.Input"]):
    """Post a message to a channel (by id or name) with the bot."""

    class Input(BlockSchema):
        credentials: CredentialsRefInput = credentials_pin(PROVIDER, _DESCRIPTION)
        message_content: str = pin(description="The content of the message to send")
        channel_name: str = pin(description="Channel ID or channel name to send the message to")
        server_name: str = pin("", description="Server name (only needed if using channel name)")

    class Output(BlockOutputSchema):
        status: str = pin(description="The status of the operation (e.g., 'Message sent', 'Error')")
        message_id: str = pin(description="The ID of the sent message")
        channel_id: str = pin(description="The ID of the channel where the message was sent")

    id = "d0822ab5-9f8a-44a3-8971-531dd0178b6b"
    description = "Sends a message to a Discord channel using a bot token."
    categories = (BlockCategory.BASIC,)
    # Posts in the user's name: under the sensitive-action safe mode a person approves first.
    is_sensitive_action = True
    input_schema = Input
    output_schema = Output
    test_input = [
        {
            "channel_name": "general",
            "message_content": "Hello, Discord!",
            "credentials": mock_credentials_input(PROVIDER),
        }
    ]
    test_output = [
        ("status", "Message sent"),
        ("message_id", "123456789012345678"),
        ("channel_id", "987654321098765432"),
    ]
    test_context = stand_in(_send_test_answer, PROVIDER, "mock-discord-bot-token")

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        channel = await find_channel(context, input_data.channel_name, input_data.server_name)
        if channel is None:
            yield "status", f"Channel not found: {input_data.channel_name}"
            return
        if channel.get("type", 0) not in _TEXT_CHANNELS and channel.get("type") not in (1, 3):
            name = input_data.channel_name
            yield "status", f"Channel {name} cannot receive messages (not a text channel)"
            return
        channel_id = str(channel["id"])
        last: Any = None
        for chunk in chunk_message(input_data.message_content):
            last = await _api(
                context, "POST", f"/channels/{channel_id}/messages", json={"content": chunk}
            )
        yield "status", "Message sent"
        yield "message_id", str(last.get("id", "")) if isinstance(last, dict) else ""
        yield "channel_id", channel_id
