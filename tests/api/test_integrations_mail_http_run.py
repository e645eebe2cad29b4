"""A graph that sends an e-mail and an authenticated web request runs end to end through the
HTTP API on the user's own stored credentials (SMTP login, host-scoped header), against a
local STARTTLS + AUTH SMTP server and a local echo server; neither secret lands in what the
run keeps or in the logs (both databases)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from autoplat.testing import TEST_USER_ID, make_settings, running_platform
from tests.support import graphs as tk
from tests.support.servers import serve
from tests.support.smtp import secure_smtp_server

SEND_EMAIL = "4335878a-394e-4e67-adf2-919877ff49ae"
AUTHENTICATED_REQUEST = "fff86bcd-e001-4bad-a7f6-2eae4720c8dc"
HEADER_SECRET = "hs-e2e-secret-5521"


async def _credential(client: httpx.AsyncClient, provider: str, body: dict[str, Any]) -> Any:
    created = await client.post(f"/api/integrations/{provider}/credentials", json=body)
    assert created.status_code in (200, 201), created.text
    meta = created.json()
    return {"id": meta["id"], "provider": provider, "type": body["type"], "title": body["title"]}


async def test_an_email_and_an_authenticated_request_run_on_the_users_own_credentials(
    autoplat_database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    received: list[str | None] = []

    async def echo(request: Request) -> Response:
        received.append(request.headers.get("x-api-key"))
        return JSONResponse({"ok": True, "who": request.query_params.get("who")})

    with secure_smtp_server(tmp_path) as smtp:
        # The block's TLS context trusts the system store; the test's CA stands in for it.
        monkeypatch.setenv("SSL_CERT_FILE", str(smtp.ca_file))
        async with serve(Starlette(routes=[Route("/echo", echo)])) as url:
            # Both stand-ins listen on loopback: the operator allows private addresses.
            settings = make_settings(autoplat_database_url, tmp_path, http_allow_private=True)
            async with running_platform(settings) as (platform, client):
                await platform.db.users.ensure(TEST_USER_ID)
                await platform.credits.add_credits(TEST_USER_ID, 100)
                login = {
                    "type": "user_password",
                    "title": "my mail",
                    "username": smtp.username,
                    "password": smtp.password,
                }
                mail_ref = await _credential(client, "smtp", login)
                # The stand-in's port is not http's default, so the credential names it.
                host = httpx.URL(url).netloc.decode("ascii")
                scoped = {
                    "type": "host_scoped",
                    "title": "my api",
                    "host": host,
                    "headers": {"X-API-Key": HEADER_SECRET},
                }
                http_ref = await _credential(client, "http", scoped)
                mail = tk.node(
                    SEND_EMAIL,
                    to_email="boss@example.org",
                    subject="Run report",
                    body="The agent ran.",
                    config={"smtp_server": "localhost", "smtp_port": smtp.port},
                    credentials=mail_ref,
                )
                request = tk.node(
                    AUTHENTICATED_REQUEST,
                    url=f"{url}/echo?who=agent",
                    method="GET",
                    credentials=http_ref,
                )
                status, answer = tk.output_node("status"), tk.output_node("answer")
                graph = tk.graph(
                    [mail, request, status, answer],
                    [
                        tk.link(mail, "status", status, "value"),
                        tk.link(request, "response", answer, "value"),
                    ],
                    "mail and request",
                )
                created = await client.post(
                    "/api/graphs", json={"graph": graph.model_dump(mode="json")}
                )
                assert created.status_code == 200, created.text
                g = created.json()
                started = await client.post(
                    f"/api/graphs/{g['id']}/execute/{g['version']}", json={"inputs": {}}
                )
                assert started.status_code == 200, started.text
                exec_id = started.json()["id"]
                row = await tk.wait_for_run(platform.db, exec_id, timeout=30)
                assert row.status == "COMPLETED", row.error
                read = await client.get(f"/api/graphs/{g['id']}/executions/{exec_id}")
                assert read.status_code == 200, read.text
                body = read.json()
    assert body["status"] == "COMPLETED"
    assert body["outputs"] == {
        "status": ["Email sent successfully"],
        "answer": [{"ok": True, "who": "agent"}],
    }
    (message,) = smtp.mailbox.messages
    assert (message["From"], message["To"], message["Subject"]) == (
        smtp.username,
        "boss@example.org",
        "Run report",
    )
    assert smtp.mailbox.text(message).strip() == "The agent ran."
    assert smtp.mailbox.envelopes[0][2] is True  # delivered over TLS
    assert received == [HEADER_SECRET]
    captured = capsys.readouterr()
    for text in (json.dumps(body, default=str), caplog.text, captured.out, captured.err):
        assert HEADER_SECRET not in text and smtp.password not in text
