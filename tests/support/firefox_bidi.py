"""Stock Firefox for Playwright's WebDriver BiDi channel, one missing command answered locally.

Playwright (``channel="moz-firefox"``) drives an unpatched Firefox over WebDriver BiDi, but
it sends ``emulation.setMediaFeaturesOverride`` for every new context, and Firefox ESR 153
does not implement that command yet ("unknown command"), so no context could ever open.
This module is the ``executable_path`` Playwright launches instead (through a two-line shell
wrapper written by the test fixture): it starts the real Firefox with Playwright's arguments,
puts a WebSocket relay in front of Firefox's BiDi endpoint, and announces the relay's address
in the line Playwright waits for. The relay passes every message through unchanged, except
that the commands named in ``LOCAL_NO_OPS`` get an empty success at once, because they only
emulate media features (prefers-color-scheme) our tests never ask for. Invariant: nothing
else is altered, so every other command is tested against Firefox itself; the relay lives
exactly as long as Firefox does, and its exit status is Firefox's.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import re
import sys
from collections.abc import Sequence

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

FIREFOX = os.environ.get("AUTOPLAT_TEST_FIREFOX", "/usr/bin/firefox-esr")
LOCAL_NO_OPS = frozenset({"emulation.setMediaFeaturesOverride"})
_LISTENING = re.compile(r"WebDriver BiDi listening on (ws://\S+)")


def local_reply(raw: str | bytes) -> str | None:
    """The relay's own answer to a client message, or None when Firefox must answer it."""
    try:
        message = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(message, dict) or message.get("method") not in LOCAL_NO_OPS:
        return None
    return json.dumps({"type": "success", "id": message.get("id"), "result": {}})


async def _pump_up(client: ServerConnection, upstream: ClientConnection) -> None:
    async for raw in client:
        reply = local_reply(raw)
        if reply is None:
            await upstream.send(raw)
        else:
            await client.send(reply)


async def _pump_down(upstream: ClientConnection, client: ServerConnection) -> None:
    async for raw in upstream:
        await client.send(raw)


async def _relay(firefox_ws: str, client: ServerConnection) -> None:
    path = client.request.path if client.request is not None else "/session"
    # Playwright's messages can be large (screenshots, init scripts): no size limit.
    async with connect(firefox_ws + path, max_size=None) as upstream:
        pumps = [
            asyncio.create_task(_pump_up(client, upstream)),
            asyncio.create_task(_pump_down(upstream, client)),
        ]
        # Either side closing ends the session; the other pump is cancelled with it.
        done, pending = await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        for task in done:
            error = task.exception()
            if error is not None and not isinstance(error, ConnectionClosed):
                raise error


async def main(argv: Sequence[str]) -> int:
    firefox = await asyncio.create_subprocess_exec(
        FIREFOX, *argv, stdin=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    assert firefox.stderr is not None
    server = None
    while line := await firefox.stderr.readline():
        text = line.decode(errors="replace")
        found = _LISTENING.search(text)
        if found is None or server is not None:
            sys.stderr.write(text)
            sys.stderr.flush()
            continue
        firefox_ws = found.group(1).rstrip("/")
        server = await serve(functools.partial(_relay, firefox_ws), "127.0.0.1", 0, max_size=None)
        port = server.sockets[0].getsockname()[1]
        sys.stderr.write(f"WebDriver BiDi listening on ws://127.0.0.1:{port}\n")
        sys.stderr.flush()
    code = await firefox.wait()
    if server is not None:
        server.close()
    return code


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
