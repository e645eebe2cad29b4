"""HTTP request block (blocks.md §3.11), guarded against reaching internal networks.

Graph authors choose the URL, so unless ``settings.http_allow_private`` is set every hop
(the first URL and each redirect target) may connect only to public addresses. The check is
made where the connection is opened: block runs get their client from ``OutboundHttp``
(``blocks/outbound.py``), whose network backend resolves each name once, refuses it if any
answer is not public and connects to exactly the address it checked, so a DNS server that
answers differently a moment later (DNS rebinding) changes nothing. Redirects are followed by
hand, a few at most, so each target goes through that check when its connection is opened
(a reused connection was checked when it was opened); address literals are refused here
already, before any packet. Credentials are dropped when a redirect changes origin (host,
port, or scheme other than an upgrade to https), and
headers scoped to a host (``host_headers``) are chosen again for every hop, so a hop to
another host never carries them. A request httpx refuses to put on the wire (a header
holding a line break) fails without quoting the header.
"""

from __future__ import annotations

import enum
import ipaddress
import json
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import httpx

from autoplat.blocks.base import (
    Block,
    BlockCategory,
    BlockContext,
    BlockOutput,
    BlockOutputSchema,
    BlockSchema,
    FileData,
)
from autoplat.blocks.outbound import forbidden, is_forbidden_ip
from autoplat.blocks.schema import pin
from autoplat.errors import BlockRunError, TransientBlockError
from autoplat.files.media import read_file

if TYPE_CHECKING:
    from autoplat.blocks.settings import BlockSettings

MAX_REDIRECTS = 5
MAX_BODY_TEXT = 10_000_000
_REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
_SENSITIVE_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})
_DEFAULT_PORTS = {"http": 80, "https": 443}

#: The headers a hop to ``url`` gets on top of the request's own (host-scoped credentials).
HostHeaders = Callable[[httpx.URL], Mapping[str, str]]


class HttpMethod(enum.StrEnum):
    """Request methods of SendWebRequestBlock."""

    GET = "GET"
    POST = "POST"
    PUT = "PUT"
    DELETE = "DELETE"
    PATCH = "PATCH"
    OPTIONS = "OPTIONS"
    HEAD = "HEAD"


async def check_url_allowed(url: httpx.URL, settings: BlockSettings) -> None:
    """Refuse non-http(s) URLs and, unless allowed, non-public address literals.

    Names are checked where their connection is opened (``OutboundHttp``), against the very
    answer the connection then uses.
    """
    if url.scheme not in ("http", "https"):
        raise BlockRunError(f"only http and https URLs are supported, not {url.scheme!r}")
    host = url.host
    if not host:
        raise BlockRunError("the URL has no host")
    if settings.http_allow_private:
        return
    try:
        literal = str(ipaddress.ip_address(host))
    except ValueError:
        return
    if is_forbidden_ip(literal):
        raise forbidden(host)


def _body_arguments(
    body: Any, json_format: bool, files: Sequence[FileData], files_name: str
) -> dict[str, Any]:
    """httpx keyword arguments carrying the request body."""
    if isinstance(body, str):
        if len(body) > MAX_BODY_TEXT:
            raise BlockRunError("body is larger than 10 MB")
        try:
            body = json.loads(body)
        except ValueError:
            # Not JSON: send the text as it is, like a form post would.
            return {"content": body.encode()}
    if files:
        if json_format:
            raise BlockRunError("files cannot be sent with json_format on; turn it off")
        parts = [
            (files_name, (file.name or f"file{index}", file.content, file.content_type))
            for index, file in enumerate(files)
        ]
        form = body if isinstance(body, dict) else {}
        return {"files": parts, "data": {k: str(v) for k, v in form.items()}}
    if body is None:
        return {}
    if json_format:
        return {"json": body}
    if isinstance(body, dict):
        return {"data": {k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()}}
    return {"content": json.dumps(body).encode()}


async def _read_capped(response: httpx.Response, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise BlockRunError(f"response body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _parse_body(response: httpx.Response, content: bytes) -> Any:
    """JSON when the server says so (null when empty), else text."""
    text = content.decode(response.encoding or "utf-8", errors="replace")
    if response.headers.get("content-type", "").startswith("application/json"):
        if not content.strip():
            return None
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def _keeps_credentials(old: httpx.URL, new: httpx.URL) -> bool:
    """Whether a redirect from ``old`` to ``new`` keeps the request's own credentials: the
    same origin (scheme, host and port: another port is another service), or the same
    host upgraded from http to https on the default ports."""
    if old.host != new.host:
        return False
    before = (old.scheme, old.port or _DEFAULT_PORTS.get(old.scheme))
    after = (new.scheme, new.port or _DEFAULT_PORTS.get(new.scheme))
    return before == after or (before, after) == (("http", 80), ("https", 443))


async def send_request(
    context: BlockContext,
    method: str,
    url: str,
    headers: dict[str, str],
    body_arguments: dict[str, Any],
    host_headers: HostHeaders | None = None,
) -> tuple[httpx.Response, bytes]:
    """Send a request, following a few checked redirects; return the response and its body.

    ``host_headers(target)`` is asked on every hop; the request's own headers win over its
    answer (AutoGPT's precedence)."""
    settings = context.settings
    target = httpx.URL(url)
    headers = dict(headers)
    for _ in range(MAX_REDIRECTS + 1):
        await check_url_allowed(target, settings)
        scoped = dict(host_headers(target)) if host_headers is not None else {}
        own = {k.lower() for k in headers}
        hop = {**{k: v for k, v in scoped.items() if k.lower() not in own}, **headers}
        request = context.http.build_request(
            method, target, headers=hop, timeout=settings.http_timeout, **body_arguments
        )
        try:
            response = await context.http.send(request, stream=True, follow_redirects=False)
        except httpx.LocalProtocolError:
            # httpx's message quotes the offending header value, which may be a secret; the
            # same request would fail again, so this is no transient failure.
            raise BlockRunError(
                f"request to {target.host} was not sent: a header name or value is not valid "
                "HTTP (a line break, or spaces around it?)"
            ) from None
        except httpx.TransportError as exc:
            raise TransientBlockError(f"request to {target.host} failed: {exc!r}") from exc
        try:
            location = response.headers.get("location")
            if response.status_code in _REDIRECT_CODES and location:
                next_target = target.join(location)
                if response.status_code == 303 or (
                    response.status_code in (301, 302) and method not in ("GET", "HEAD")
                ):
                    method, body_arguments = "GET", {}
                if not _keeps_credentials(target, next_target):
                    headers = {
                        k: v for k, v in headers.items() if k.lower() not in _SENSITIVE_HEADERS
                    }
                target = next_target
                continue
            try:
                content = await _read_capped(response, settings.http_max_response_bytes)
            except httpx.TransportError as exc:
                raise TransientBlockError(f"reading from {target.host} failed: {exc!r}") from exc
            return response, content
        finally:
            await response.aclose()
    raise BlockRunError(f"more than {MAX_REDIRECTS} redirects")


class SendWebRequestBlock(Block["SendWebRequestBlock.Input"]):
    """Send an HTTP request; the answer goes to response, client_error or server_error."""

    class Input(BlockSchema):
        url: str = pin(description="URL to request (http or https).")
        method: HttpMethod = pin(HttpMethod.POST, description="HTTP method.")
        headers: dict[str, str] = pin(default_factory=dict, description="Request headers.")
        json_format: bool = pin(True, title="JSON format", description="Send the body as JSON.")
        body: Any = pin(None, description="Request body (object, or JSON/form text).")
        files_name: str = pin("file", description="Form field name of the files.")
        files: list[str] = pin(
            default_factory=list,
            description="Files to send: file references, data: URIs or URLs.",
        )

    class Output(BlockOutputSchema):
        response: Any = pin(description="Body of a 2xx answer.")
        client_error: Any = pin(description="Body of a 4xx answer.")
        server_error: Any = pin(description="Body of any other answer.")

    id = "6595ae1f-b924-42cb-9a41-551a0611c4b4"
    description = "Sends an HTTP request and emits the response."
    categories = (BlockCategory.OUTPUT,)
    input_schema = Input
    output_schema = Output
    # Offline vectors: the address guard answers before any packet is sent.
    test_input = [
        {"url": "http://127.0.0.1:9/x", "method": "GET"},
        {"url": "http://[::1]/", "method": "GET"},
        {"url": "file:///etc/passwd", "method": "GET"},
        {"url": "http://10.1.2.3/", "files": ["data:text/plain,hi"]},
    ]
    test_output = [
        ("error", lambda msg: "not allowed" in msg),
        ("error", lambda msg: "not allowed" in msg),
        ("error", lambda msg: "only http and https" in msg),
        ("error", lambda msg: "json_format" in msg),
    ]

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        async for output in web_request_outputs(input_data, context):
            yield output


async def web_request_outputs(
    input_data: SendWebRequestBlock.Input,
    context: BlockContext,
    host_headers: HostHeaders | None = None,
) -> BlockOutput:
    """The outputs of one web request: the body on ``response``, ``client_error`` or
    ``server_error`` by status (shared by the authenticated variant)."""
    if input_data.files and input_data.json_format:
        raise BlockRunError("files cannot be sent with json_format on; turn it off")
    # File values are references to the user's own files, data: URIs or URLs.
    files = [await read_file(value, context) for value in input_data.files]
    body_arguments = _body_arguments(
        input_data.body, input_data.json_format, files, input_data.files_name
    )
    response, content = await send_request(
        context,
        input_data.method.value,
        input_data.url,
        input_data.headers,
        body_arguments,
        host_headers,
    )
    result = _parse_body(response, content)
    if 200 <= response.status_code < 300:
        yield "response", result
    elif 400 <= response.status_code < 500:
        yield "client_error", result
    else:
        yield "server_error", result
