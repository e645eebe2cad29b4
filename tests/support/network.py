"""A network backend for httpcore that keeps every connection on this machine.

Invariant: whatever host a client is made to connect to (a public name, an address the
resolver vetted), the TCP connection goes to 127.0.0.1 on the one given port, and the
address asked for is recorded, so a test can check what the code under test chose
without a packet leaving the machine.
"""

from __future__ import annotations

from collections.abc import Iterable

import httpcore


class LocalNetwork(httpcore.AsyncNetworkBackend):
    """Opens every connection to the local test server on ``port``; ``connected`` lists
    the hosts asked for, in order."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.inner = httpcore.AnyIOBackend()
        self.connected: list[str] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.connected.append(host)
        return await self.inner.connect_tcp("127.0.0.1", self.port, timeout=timeout)

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)
