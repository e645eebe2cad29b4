"""Schemathesis fuzzes every operation of /openapi.json against the live server.

It runs as the ``st`` command in a subprocess: its HTTP client is synchronous, and the
server under test lives in this test's event loop, which must keep serving meanwhile.

Every check runs (``--checks all``), in every phase (examples, coverage, fuzzing and the
stateful phase that chains operations through their responses): no 5xx, every status,
body, content type and header as documented, schema-valid requests accepted and
schema-invalid ones refused, ``Allow`` on 405 naming exactly the path's methods. The
stateful phase follows the document's own ``links`` (create → read, update, delete of
graphs, versions, runs, schedules, presets, API keys and credentials). The one
allowance is the document's own: an operation marked ``x-validates-beyond-schema`` says
what it checks beyond any JSON Schema (a graph's blocks and links, a cron expression) and
with which status, and only that status is also accepted for its schema-valid requests.
(A DELETE marked ``x-keeps-resource``, revoking an API key, is no link target: the key
stays readable by design, which the stateful phase would take for a use after free.)

Security parameters are not generated (``--generation-with-security-parameters false``):
otherwise schemathesis invents ``X-API-Key`` headers that shadow the fuzzer's real
bearer token, so many requests end in 401 before validation and chains stay shallow.
With the real token in front, the coverage phase reaches every body and query
parameter; that is how lax coercion was found (``0`` taken for ``false``, ``until=0.5``
for a Unix time) before request bodies and queries became strict.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from autoplat.platform import Platform
from autoplat.testing import make_token

#: schemathesis' own default for positive_data_acceptance.
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]


async def _seed(client: httpx.AsyncClient) -> None:
    """Give the fuzzer something to find: a key of the fuzzing user."""
    response = await client.post(
        "/api/api-keys", json={"name": "seed", "permissions": ["IDENTITY"]}
    )
    assert response.status_code == 200


#: Stateful scenarios: enough to walk the document's links (create → read, update, delete).
STATEFUL_EXAMPLES = os.environ.get("AUTOPLAT_FUZZ_STATEFUL_EXAMPLES", "100")


def config_for(spec: dict[str, Any]) -> str:
    """schemathesis.toml: the stateful phase follows the document's own links (none guessed),
    and the statuses the document itself declares beyond the schema are accepted."""
    blocks = [
        "[phases.stateful]\n"
        f"generation.max-examples = {int(STATEFUL_EXAMPLES)}\n"
        "inference.algorithms = []\n"
    ]
    for item in spec["paths"].values():
        for op in item.values():
            beyond = op.get("x-validates-beyond-schema") if isinstance(op, dict) else None
            if not beyond:
                continue
            statuses = json.dumps([*ACCEPTED, str(beyond["status"])])
            blocks.append(
                "[[operations]]\n"
                f"include-operation-id = {json.dumps(op['operationId'])}\n"
                f"checks.positive_data_acceptance.expected-statuses = {statuses}\n"
            )
    return "\n".join(blocks)


def test_only_documented_allowances_are_configured() -> None:
    spec = {
        "paths": {
            "/a": {"post": {"operationId": "a", "x-validates-beyond-schema": {"status": 422}}},
            "/b": {"get": {"operationId": "b"}, "parameters": []},
        }
    }
    config = config_for(spec)
    assert 'include-operation-id = "a"' in config and '"422"' in config
    assert '"b"' not in config


@pytest.mark.timeout(600)
async def test_schemathesis_finds_nothing(autoplat_platform: Platform, tmp_path: Path) -> None:
    st = Path(sys.executable).with_name("st")
    if not st.exists():
        pytest.skip("schemathesis (st) is not installed in this environment")
    # An admin, so that the admin routes are exercised past their 403 as well.
    token = make_token("fuzzer", role="admin")
    async with httpx.AsyncClient(
        base_url=autoplat_platform.url, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        await _seed(client)
        spec = (await client.get("/openapi.json")).json()
    (tmp_path / "schemathesis.toml").write_text(config_for(spec))
    proc = await asyncio.create_subprocess_exec(
        str(st),
        "run",
        f"{autoplat_platform.url}/openapi.json",
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        # Bounded: a few examples per operation and phase (the coverage phase adds its
        # own boundary cases); AUTOPLAT_FUZZ_EXAMPLES=100 for a longer hunt.
        "--max-examples",
        os.environ.get("AUTOPLAT_FUZZ_EXAMPLES", "5"),
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
        "--generation-with-security-parameters",
        "false",
        cwd=tmp_path,
        env={**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_TELEMETRY": "false"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await proc.communicate()
    report = output.decode(errors="replace")
    assert proc.returncode == 0, report[-12000:]
    assert "API Operations" in report and "Stateful" in report
