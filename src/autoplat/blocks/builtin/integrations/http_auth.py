"""SendAuthenticatedWebRequestBlock: the HTTP block plus a user's host-scoped headers.

Invariants:

- The request takes the HTTP block's one checked path (``web_request.send_request``: public
  addresses only, checked redirects, capped body); nothing here opens a connection itself.
- A credential's headers go only to a hop whose host is the credential's host (exactly, or
  under a ``*.`` wildcard, as AutoGPT's ``matches_url``; names compared in their IDNA form,
  without a trailing dot) on the credential's port (the scheme's default when it names
  none) and, for a credential saved as a URL, its scheme: they are chosen again for every
  redirect hop, so a redirect to another host or port never carries them. The request's own headers
  win over the credential's (AutoGPT's precedence).
- The header values are unwrapped only for the hop that sends them: no output, error or log
  line names them (a log line names the credential's id and the host, never a value), and
  an answer that echoes them has them blanked out before it becomes an output.
"""

from __future__ import annotations

import dataclasses
import urllib.parse
from collections.abc import Mapping
from typing import Any

import httpx
from pydantic import SecretStr

from autoplat.blocks.base import Block, BlockCategory, BlockContext, BlockOutput
from autoplat.blocks.builtin.integrations._base import TEST_CREDENTIALS_ID, CredentialsRefInput
from autoplat.blocks.builtin.web_request import (
    HostHeaders,
    SendWebRequestBlock,
    web_request_outputs,
)
from autoplat.blocks.schema import pin
from autoplat.errors import BlockRunError
from autoplat.integrations.model import HostScopedCredentials
from autoplat.logging import get_logger

log = get_logger("autoplat.blocks.http_auth")

PROVIDER = "http"


#: The port a URL means when it names none.
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclasses.dataclass(frozen=True, slots=True)
class _Scope:
    """What a credential's ``host`` names: a host (or ``*.`` domain), maybe a port and a
    scheme (a credential saved as a URL)."""

    host: str
    wildcard: bool
    port: int | None
    scheme: str | None


def _wire_host(name: str) -> str:
    """``name`` as it goes on the wire: IDNA (``xn--``) for a non-ASCII name, lower case,
    no trailing dot; "" for anything that is not a plain host name or address."""
    name = name.strip().rstrip(".")
    if not name or any(c in name for c in "/\\@?#% \t\r\n"):
        return ""
    if ":" in name:  # an IPv6 address (urlsplit took its brackets off)
        return name.lower()
    try:
        return httpx.URL(f"http://{name}/").raw_host.decode("ascii").lower().rstrip(".")
    except (httpx.InvalidURL, UnicodeError, ValueError):
        return ""


def _scope(pattern: str) -> _Scope | None:
    text = pattern.strip()
    parts = urllib.parse.urlsplit(text if "://" in text else f"//{text}")
    try:
        port = parts.port
    except ValueError:
        return None  # a port that is no number matches nothing
    name = (parts.hostname or "").strip()
    wildcard = name.startswith("*.")
    host = _wire_host(name[2:] if wildcard else name)
    if not host:
        return None
    return _Scope(host, wildcard, port, parts.scheme.lower() or None)


def _host_in(scope: _Scope, host: str) -> bool:
    host = host.lower().rstrip(".")
    if scope.wildcard:
        return host == scope.host or host.endswith(f".{scope.host}")
    return host == scope.host


def host_matches(pattern: str, host: str) -> bool:
    """Whether a credential for ``pattern`` names ``host`` (ports aside): the same name, or
    for ``*.example.com`` the domain itself and any name under it. Both sides are compared
    as they go on the wire (IDNA, lower case, no trailing dot)."""
    scope = _scope(pattern)
    return scope is not None and _host_in(scope, _wire_host(host))


def url_matches(pattern: str, url: httpx.URL) -> bool:
    """Whether a credential for ``pattern`` applies to a request to ``url``: its host, and
    its port — the one the credential names, else the scheme's default (so
    ``api.example.com`` is not sent to ``api.example.com:8080``, another service) — and,
    for a credential saved as a URL, its scheme."""
    scope = _scope(pattern)
    if scope is None or (scope.scheme is not None and scope.scheme != url.scheme):
        return False
    port = url.port or _DEFAULT_PORTS.get(url.scheme)
    wanted = scope.port or _DEFAULT_PORTS.get(scope.scheme or url.scheme)
    return port == wanted and _host_in(scope, url.raw_host.decode("ascii"))


def scoped_headers(credentials: HostScopedCredentials) -> HostHeaders:
    """The ``host_headers`` hook of ``send_request`` for ``credentials``."""

    def for_hop(url: httpx.URL) -> Mapping[str, str]:
        if not url_matches(credentials.host, url):
            log.info("http_auth.host_mismatch", credentials_id=credentials.id, host=url.host)
            return {}
        headers = {}
        for name, secret in credentials.headers.items():
            # Pasted values often end in a newline; HTTP forbids one inside, and httpx's
            # refusal would quote the value, so it is refused here naming the header only.
            value = secret.get_secret_value().strip()
            if any(c in value for c in "\r\n\0"):
                raise BlockRunError(
                    f"the credential's header {name[:100]!r} holds a line break: fix the credential"
                )
            headers[name] = value
        return headers

    return for_hop


#: Shorter header values are not blanked out of answers (too likely to be ordinary text).
_SHORTEST_SECRET = 8
REDACTED = "[redacted]"


def _secret_values(credentials: HostScopedCredentials) -> list[str]:
    """The credential's header values worth blanking out, and for ``Bearer <token>`` and
    the like the token alone; longest first, so no secret is left half-blanked."""
    found: set[str] = set()
    for secret in credentials.headers.values():
        value = secret.get_secret_value().strip()
        for candidate in (value, value.partition(" ")[2].strip()):
            if len(candidate) >= _SHORTEST_SECRET:
                found.add(candidate)
    return sorted(found, key=len, reverse=True)


def _redacted(value: Any, secrets: list[str]) -> Any:
    """``value`` (a parsed answer) with each secret in any string replaced."""
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, list):
        return [_redacted(item, secrets) for item in value]
    if isinstance(value, dict):
        return {_redacted(k, secrets): _redacted(v, secrets) for k, v in value.items()}
    return value


def _mock_credentials(self: Any, context: BlockContext) -> BlockContext:
    """AutoGPT's mock host-scoped credential (for api.example.com) on the pin."""
    mock = HostScopedCredentials(
        id=TEST_CREDENTIALS_ID,
        provider=PROVIDER,
        host="api.example.com",
        headers={
            "Authorization": SecretStr("Bearer test-token"),
            "X-API-Key": SecretStr("test-api-key"),
        },
        title="Mock HTTP Host-Scoped Credentials",
    )
    return dataclasses.replace(context, credentials={**context.credentials, "credentials": mock})


class SendAuthenticatedWebRequestBlock(Block["SendAuthenticatedWebRequestBlock.Input"]):
    """Send an HTTP request with the headers of a host-scoped credential for its host."""

    class Input(SendWebRequestBlock.Input):
        # AutoGPT's field: the UI offers the credentials of the URL's host.
        credentials: CredentialsRefInput = pin(
            advanced=False,
            title="Credentials",
            description="HTTP host-scoped credentials for automatic header injection",
            credentials_provider=[PROVIDER],
            credentials_types=["host_scoped"],
            discriminator="url",
        )

    id = "fff86bcd-e001-4bad-a7f6-2eae4720c8dc"
    description = (
        "Make an authenticated HTTP request with host-scoped credentials (JSON / form / multipart)."
    )
    categories = (BlockCategory.OUTPUT,)
    input_schema = Input
    output_schema = SendWebRequestBlock.Output
    # AutoGPT has no vectors for this block; offline ones: the address guard answers first,
    # and the mock credential's headers never show in the error.
    test_input = [
        {
            "url": "http://127.0.0.1:9/x",
            "method": "GET",
            "credentials": {
                "id": TEST_CREDENTIALS_ID,
                "provider": PROVIDER,
                "type": "host_scoped",
                "title": "Mock HTTP Host-Scoped Credentials",
            },
        }
    ]
    test_output = [("error", lambda msg: "not allowed" in msg and "test-api-key" not in msg)]
    test_context = _mock_credentials

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        credentials = context.credentials.get("credentials")
        if not isinstance(credentials, HostScopedCredentials):
            raise BlockRunError("this block needs host-scoped credentials on its credentials input")
        secrets = _secret_values(credentials)
        async for name, value in web_request_outputs(
            input_data, context, scoped_headers(credentials)
        ):
            # A host that echoes the request (a debug endpoint) would hand the values to
            # every node downstream, and to wherever those send them.
            yield name, _redacted(value, secrets)
