"""SendAuthenticatedWebRequestBlock: the HTTP block plus a user's host-scoped headers.

Invariants:

- The request takes the HTTP block's one checked path (``web_request.send_request``: public
  addresses only, checked redirects, capped body); nothing here opens a connection itself.
- A credential's headers go only to a hop whose host is the credential's host (exactly, or
  under a ``*.`` wildcard, as AutoGPT's ``matches_url``): they are chosen again for every
  redirect hop, so a redirect to another host never carries them. The request's own headers
  win over the credential's (AutoGPT's precedence).
- The header values are unwrapped only for the hop that sends them: no output, error or log
  line names them (a log line names the credential's id and the host, never a value).
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


def host_matches(pattern: str, host: str) -> bool:
    """Whether a credential for ``pattern`` applies to ``host`` (no port on either side):
    the same name, or for ``*.example.com`` the domain itself and any name under it."""
    pattern = pattern.strip().lower()
    if "://" in pattern:
        # A credential saved as a URL names the URL's host.
        pattern = urllib.parse.urlsplit(pattern).hostname or ""
    host = host.lower().rstrip(".")
    if not pattern or not host:
        return False
    if pattern.startswith("*."):
        domain = pattern[2:]
        return host == domain or host.endswith(f".{domain}")
    return pattern == host


def scoped_headers(credentials: HostScopedCredentials) -> HostHeaders:
    """The ``host_headers`` hook of ``send_request`` for ``credentials``."""

    def for_hop(url: httpx.URL) -> Mapping[str, str]:
        if not host_matches(credentials.host, url.host):
            log.info("http_auth.host_mismatch", credentials_id=credentials.id, host=url.host)
            return {}
        return {name: value.get_secret_value() for name, value in credentials.headers.items()}

    return for_hop


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
        async for output in web_request_outputs(input_data, context, scoped_headers(credentials)):
            yield output
