"""Schemathesis fuzzes every operation of /openapi.json against the live server.

It runs as the ``st`` command in a subprocess: its HTTP client is synchronous, and the
server under test lives in this test's event loop, which must keep serving meanwhile.
Checked: no 5xx, every status documented, every body and content type as the spec says.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import httpx
import pytest

from autoplat.platform import Platform
from autoplat.testing import make_token

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    ]
)


async def _seed(client: httpx.AsyncClient) -> None:
    """Give the fuzzer something to find: a key of the fuzzing user."""
    response = await client.post(
        "/api/api-keys", json={"name": "seed", "permissions": ["IDENTITY"]}
    )
    assert response.status_code == 200


@pytest.mark.timeout(600)
async def test_schemathesis_finds_no_server_error_and_no_spec_violation(
    autoplat_platform: Platform, tmp_path: Path
) -> None:
    st = Path(sys.executable).with_name("st")
    if not st.exists():
        pytest.skip("schemathesis (st) is not installed in this environment")
    # An admin, so that the admin routes are exercised past their 403 as well.
    token = make_token("fuzzer", role="admin")
    async with httpx.AsyncClient(
        base_url=autoplat_platform.url, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        await _seed(client)
    proc = await asyncio.create_subprocess_exec(
        str(st),
        "run",
        f"{autoplat_platform.url}/openapi.json",
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        CHECKS,
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        os.environ.get("AUTOPLAT_FUZZ_EXAMPLES", "12"),
        "--seed",
        os.environ.get("AUTOPLAT_FUZZ_SEED", "20261125"),
        # One worker: schemathesis' generator is not thread-safe (hypothesis parses lambda
        # sources with ast while another thread does the same, and fails now and then).
        "--workers",
        "1",
        "--no-shrink",
        "--request-timeout",
        "30",
        "--warnings",
        "off",
        cwd=tmp_path,
        env={**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_TELEMETRY": "false"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await proc.communicate()
    report = output.decode(errors="replace")
    assert proc.returncode == 0, report[-12000:]
    assert "API Operations" in report
