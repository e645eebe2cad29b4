"""A minimal WebSocket client for the latency workload (text frames, no extensions).

The ``websockets`` client costs more CPU per message than the server spends sending one;
in a benchmark whose client shares the loop and two cores with the server, that would be
measuring the client. This one does the handshake, sends masked text frames and reads
frames straight from the stream, answering pings.
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import struct
from urllib.parse import urlsplit

OP_TEXT = 0x1
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA


class RawWebSocket:
    """One client WebSocket connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    @classmethod
    async def connect(cls, url: str, *, rcvbuf: int | None = None) -> RawWebSocket:
        """Open ``ws://host:port/path?query`` and complete the upgrade handshake.

        ``rcvbuf`` fixes the socket's receive buffer (bytes): a client that reads slowly
        then holds back the server as on a real network, instead of the megabytes that
        loopback autotuning would absorb.
        """
        parts = urlsplit(url)
        host = parts.hostname or "127.0.0.1"
        port = parts.port or 80
        if rcvbuf is None:
            reader, writer = await asyncio.open_connection(host, port)
        else:
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, (host, port))
            reader, writer = await asyncio.open_connection(sock=sock)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            f"GET {target} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        status = await reader.readline()
        if b" 101 " not in status:
            raise ConnectionError(f"WebSocket upgrade refused: {status!r}")
        while (await reader.readline()) not in (b"\r\n", b""):
            pass
        return cls(reader, writer)

    async def send(self, text: str) -> None:
        """Send one text message (masked, as a client must)."""
        self._writer.write(_frame(OP_TEXT, text.encode()))

    async def recv(self) -> str:
        """The next text message; ConnectionError when the server closes."""
        while True:
            head = await self._reader.readexactly(2)
            opcode, length = head[0] & 0x0F, head[1] & 0x7F
            if length == 126:
                (length,) = struct.unpack("!H", await self._reader.readexactly(2))
            elif length == 127:
                (length,) = struct.unpack("!Q", await self._reader.readexactly(8))
            payload = await self._reader.readexactly(length)
            if opcode == OP_TEXT:
                return payload.decode()
            if opcode == OP_PING:
                self._writer.write(_frame(OP_PONG, payload))
            elif opcode == OP_CLOSE:
                raise ConnectionError("WebSocket closed by the server")

    async def close(self) -> None:
        """Close the connection (without waiting for the server's close frame)."""
        self._writer.write(_frame(OP_CLOSE, struct.pack("!H", 1000)))
        self._writer.close()
        await self._writer.wait_closed()


def _frame(opcode: int, payload: bytes) -> bytes:
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + masked
