"""A minimal keep-alive HTTP/1.1 client for load generation.

httpx spends more CPU per request than the server does on a submit (pool scans, async
library detection); in a benchmark that shares two cores with the server that would be
measuring the client. This one only writes a request and reads a Content-Length answer.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit


class RawConnection:
    """One keep-alive connection; requests on it run one after another."""

    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.headers = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post_json(self, path: str, payload: Any) -> tuple[int, Any]:
        """POST ``payload`` as JSON; the status and the decoded JSON answer."""
        body = json.dumps(payload).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\n{self.headers}"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        status_line = await self._send(head + body)
        if not status_line:
            # The server closed the idle keep-alive connection (uvicorn does after 5 s)
            # before reading the request: send it again on a new connection.
            await self.close()
            status_line = await self._send(head + body)
        assert self._reader is not None
        status = int(status_line.split()[1])
        length = 0
        while (line := await self._reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        data = await self._reader.readexactly(length) if length else b""
        return status, json.loads(data) if data else None

    async def _send(self, request: bytes) -> bytes:
        """Write ``request`` (connecting first if needed); the status line (b"" if closed)."""
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None
        self._writer.write(request)
        try:
            return await self._reader.readline()
        except ConnectionResetError:
            return b""

    async def close(self) -> None:
        """Close the connection."""
        if self._writer is not None:
            self._writer.close()
            await self._writer.wait_closed()
            self._writer = None
