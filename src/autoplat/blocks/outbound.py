"""OutboundHttp: the HTTP clients block runs use, one per user, each connecting only where vetted.

Invariants:

- Nothing of one user's requests reaches another's: every user has an own client and
  connection pool (so no connection, TLS session or connection-level auth is shared), and
  no client ever stores a cookie (its jar refuses every ``Set-Cookie``), so not even the same
  user's next run sees a cookie from an earlier one. A block that wants a cookie sends it.
- A connection goes to the address that was checked: the network backend resolves the name
  once, refuses it when any answer is loopback, private, link-local, multicast, reserved or
  otherwise not global (unless ``http_allow_private``), then connects to one of exactly those
  addresses. TLS SNI and the ``Host`` header keep the original name. So a DNS server that
  answers differently between check and connect (DNS rebinding) gains nothing, and every
  redirect hop is checked by the same path when it opens its connection.
- Resources are bounded: at most ``max_users`` clients are kept (least recently used first
  out); an evicted client is closed once no request of it is in flight.
- Environment proxies are ignored (``trust_env=False``): a proxy would connect on our behalf
  to addresses we never vetted.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import urllib.parse
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import TYPE_CHECKING

import httpcore
import httpx

from autoplat.errors import BlockRunError

#: Set by the executor in each node's task: awaited before every request that node's block
#: sends, so a run whose lease lapsed (its process was paused) sends nothing until a renewal
#: confirms it — or, when another process took the run, is cancelled instead.
REQUEST_GUARD: ContextVar[Callable[[], Awaitable[None]] | None] = ContextVar(
    "autoplat_request_guard", default=None
)


async def _hold_before_sending(request: httpx.Request) -> None:
    guard = REQUEST_GUARD.get()
    if guard is not None:
        await guard()


if TYPE_CHECKING:
    from http.cookiejar import Cookie
    from urllib.request import Request

    from autoplat.blocks.settings import BlockSettings

#: ``resolver(host, port)`` → the addresses (text) the name stands for, in preference order.
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]


class ForbiddenAddress(BlockRunError):
    """The URL points at a loopback, private or otherwise non-public address."""

    code = "forbidden_address"


def is_forbidden_ip(address: str) -> bool:
    """True for loopback, private, link-local, multicast, reserved and unspecified addresses."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def forbidden(host: str) -> ForbiddenAddress:
    """The error for a host that resolves (or is) a non-public address."""
    return ForbiddenAddress(
        f"requests to {host} are not allowed: it resolves to a loopback, private or "
        "reserved address"
    )


async def system_resolver(host: str, port: int) -> list[str]:
    """The operating system's answer for ``host`` (duplicates removed, order kept)."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise httpcore.ConnectError(f"cannot resolve host {host!r}: {exc}") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class VettingBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that resolves once, vets, and connects to the vetted IP."""

    def __init__(
        self,
        *,
        allow_private: bool,
        resolver: Resolver = system_resolver,
        trusted: Iterable[tuple[str, int]] = (),
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self.allow_private = allow_private
        self.resolver = resolver
        # Endpoints the operator configured (the LLM base URL): reachable whatever their
        # address, like any other address when http_allow_private is on.
        self.trusted = frozenset((host.lower(), port) for host, port in trusted)
        self._inner = inner or httpcore.AnyIOBackend()

    async def vetted(self, host: str, port: int, timeout: float | None = None) -> list[str]:
        """The addresses of ``host`` a connection may use; ForbiddenAddress if any is not."""
        host = host.strip("[]")
        try:
            async with asyncio.timeout(timeout):
                addresses = list(await self.resolver(host, port))
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {host!r} timed out") from exc
        if not addresses:
            raise httpcore.ConnectError(f"cannot resolve host {host!r}: no address")
        if self.allow_private or (host.lower(), port) in self.trusted:
            return addresses
        # Any bad answer refuses the name: a name that also points inside is not public.
        if any(is_forbidden_ip(address) for address in addresses):
            raise forbidden(host)
        return addresses

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self.vetted(host, port, timeout)
        options = list(socket_options or ())
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None  # addresses is never empty here
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("blocks may not connect to unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _RefuseAllCookies(DefaultCookiePolicy):
    """A cookie policy under which nothing is ever stored or sent back."""

    def set_ok(self, cookie: Cookie, request: Request) -> bool:
        return False

    def return_ok(self, cookie: Cookie, request: Request) -> bool:
        return False


class _CountedStream(httpx.AsyncByteStream):
    """A response body that reports once when it is closed."""

    def __init__(self, inner: httpx.AsyncByteStream, done: Callable[[], None]) -> None:
        self._inner = inner
        self._done: Callable[[], None] | None = done

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            done, self._done = self._done, None
            if done is not None:
                done()


class _UserTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over a VettingBackend, counting the requests in flight."""

    def __init__(
        self, backend: VettingBackend, ssl_context: ssl.SSLContext, limits: httpx.Limits
    ) -> None:
        super().__init__(verify=ssl_context, trust_env=False, limits=limits)
        # httpx takes no network backend, so its pool is replaced by the same pool with ours
        # (the rebinding test proves every connection goes through it).
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=backend,
        )
        self.in_flight = 0
        self.on_idle: Callable[[], None] | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.in_flight += 1
        try:
            response = await super().handle_async_request(request)
        except BaseException:
            self._finished()
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _CountedStream(response.stream, self._finished)
        return response

    def _finished(self) -> None:
        self.in_flight -= 1
        if self.in_flight == 0 and self.on_idle is not None:
            self.on_idle()


@dataclass(eq=False)
class _Entry:
    user_id: str
    client: httpx.AsyncClient
    transport: _UserTransport
    retire_timer: asyncio.TimerHandle | None = field(default=None)


class OutboundHttp:
    """Owns outbound HTTP for blocks: ``client_for(user_id)`` and ``aclose()``."""

    def __init__(
        self,
        settings: BlockSettings,
        *,
        max_users: int = 256,
        connections_per_user: int = 10,
        resolver: Resolver = system_resolver,
        network: httpcore.AsyncNetworkBackend | None = None,
        retire_grace: float = 5.0,
    ) -> None:
        """``resolver`` answers names and ``network`` opens the vetted connections (both are
        seams for tests); ``retire_grace`` is how long an evicted client stays usable."""
        self.settings = settings
        self.max_users = max(1, max_users)
        self.retire_grace = retire_grace
        # Endpoints the operator configured (not graph authors) may be local or private.
        trusted: list[tuple[str, int]] = []
        for url in settings.operator_endpoints():
            llm = urllib.parse.urlsplit(url)
            if llm.hostname:
                trusted.append((llm.hostname, llm.port or (443 if llm.scheme == "https" else 80)))
        self.backend = VettingBackend(
            allow_private=settings.http_allow_private,
            resolver=resolver,
            trusted=trusted,
            inner=network,
        )
        self._limits = httpx.Limits(
            max_connections=connections_per_user,
            max_keepalive_connections=min(5, connections_per_user),
            keepalive_expiry=5.0,
        )
        # One context for all (it holds CA certificates, no per-connection state).
        self._ssl = httpx.create_ssl_context(trust_env=False)
        self._clients: OrderedDict[str, _Entry] = OrderedDict()
        self._retiring: dict[str, _Entry] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._closed = False

    async def __aenter__(self) -> OutboundHttp:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __len__(self) -> int:
        """Clients kept for reuse (retiring ones not counted)."""
        return len(self._clients)

    def client_for(self, user_id: str) -> httpx.AsyncClient:
        """The client of ``user_id``'s block runs (made on first use, reused after)."""
        if self._closed:
            raise RuntimeError("outbound HTTP is closed")
        entry = self._clients.get(user_id)
        if entry is not None:
            self._clients.move_to_end(user_id)
            return entry.client
        entry = self._retiring.pop(user_id, None)
        if entry is not None:
            # Not closed yet: a block of this user may still hold it, so take it back.
            if entry.retire_timer is not None:
                entry.retire_timer.cancel()
                entry.retire_timer = None
            entry.transport.on_idle = None
        else:
            entry = self._new_entry(user_id)
        self._clients[user_id] = entry
        while len(self._clients) > self.max_users:
            _, oldest = self._clients.popitem(last=False)
            self._retire(oldest)
        return entry.client

    def _new_entry(self, user_id: str) -> _Entry:
        transport = _UserTransport(self.backend, self._ssl, self._limits)
        client = httpx.AsyncClient(
            transport=transport,
            cookies=CookieJar(policy=_RefuseAllCookies()),
            timeout=self.settings.http_timeout,
            follow_redirects=False,
            trust_env=False,
            event_hooks={"request": [_hold_before_sending]},
        )
        return _Entry(user_id, client, transport)

    def _retire(self, entry: _Entry) -> None:
        """Close ``entry`` once it has been idle for the grace period (a block that holds
        it between two requests, e.g. following a redirect, keeps working)."""
        self._retiring[entry.user_id] = entry
        entry.transport.on_idle = lambda: self._arm(entry)
        if entry.transport.in_flight == 0:
            self._arm(entry)

    def _arm(self, entry: _Entry) -> None:
        if entry.retire_timer is not None:
            entry.retire_timer.cancel()
        loop = asyncio.get_running_loop()
        entry.retire_timer = loop.call_later(self.retire_grace, self._close_if_idle, entry)

    def _close_if_idle(self, entry: _Entry) -> None:
        entry.retire_timer = None
        if entry.transport.in_flight or self._retiring.get(entry.user_id) is not entry:
            return  # in use again: on_idle re-arms, or it was taken back
        del self._retiring[entry.user_id]
        task = asyncio.get_running_loop().create_task(entry.client.aclose())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def aclose(self) -> None:
        """Close every client; later calls of ``client_for`` fail."""
        self._closed = True
        entries = [*self._clients.values(), *self._retiring.values()]
        self._clients.clear()
        self._retiring.clear()
        for entry in entries:
            if entry.retire_timer is not None:
                entry.retire_timer.cancel()
        await asyncio.gather(
            *(entry.client.aclose() for entry in entries), *self._closing, return_exceptions=True
        )
