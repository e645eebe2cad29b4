"""Files over the API: upload limits and checks, owner-only access, references through
blocks, and expiry by the system job (on SQLite and PostgreSQL)."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from autoplat.db.types import utcnow
from autoplat.files.refs import parse_reference
from autoplat.files.service import FileService
from autoplat.platform import Platform
from autoplat.scheduler.jobs import FILE_EXPIRY
from autoplat.testing import client_for, make_settings, running_platform
from tests.support.servers import serve

FILE_STORE = "cbb50872-625b-42f0-8203-a2ae78242d8a"
FILE_READ = "3735a31f-7e18-4aca-9e90-08a7120674bc"
SPREADSHEET = "acf7625e-d2cb-4941-bfeb-2819fc6fc015"
AGENT_FILE_INPUT = "95ead23f-8283-4654-aef3-10c053b74a31"


@pytest.fixture
async def platform(autoplat_database_url: str, tmp_path: Path) -> AsyncIterator[Platform]:
    settings = make_settings(
        autoplat_database_url,
        tmp_path,
        file_max_bytes=8192,
        file_quota_bytes=12000,
        max_body_bytes=2048,
    )
    async with running_platform(settings) as (running, _):
        for user in ("alice", "bob"):
            await running.db.users.ensure(user)
        yield running


def _upload(
    client: httpx.AsyncClient,
    content: bytes,
    content_type: str = "text/plain",
    name: str = "notes.txt",
    **params: Any,
) -> Any:
    files = {"file": (name, content, content_type)}
    return client.post("/api/files/upload", files=files, params=params)


async def test_upload_then_owner_only_access(platform: Platform) -> None:
    async with client_for(platform, "alice") as alice, client_for(platform, "bob") as bob:
        response = await _upload(alice, b"hello files", expiration_hours=2)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["file_name"] == "notes.txt" and body["size"] == 11
        assert body["content_type"] == "text/plain" and body["expires_in_hours"] == 2
        file_id = parse_reference(body["file_uri"])
        assert file_id is not None

        meta = await alice.get(f"/api/files/{file_id}")
        assert meta.status_code == 200 and meta.json()["file_uri"] == body["file_uri"]
        download = await alice.get(f"/api/files/{file_id}/download")
        assert download.status_code == 200 and download.content == b"hello files"
        assert download.headers["content-disposition"].startswith("attachment;")
        assert download.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in download.headers["content-security-policy"]

        for path in (f"/api/files/{file_id}", f"/api/files/{file_id}/download"):
            other = await bob.get(path)
            assert other.status_code == 404
            assert other.json()["error"]["code"] == "file_not_found"


async def test_upload_limits_and_type_checks(platform: Platform) -> None:
    async with client_for(platform, "alice") as alice:
        # Over the file limit but within the raised body limit of this route only.
        big = await _upload(alice, b"x" * 8193)
        assert big.status_code == 413 and big.json()["error"]["code"] == "file_too_large"
        # Far over: refused by the body limit before the route reads it.
        huge = await _upload(alice, b"x" * 200_000)
        assert huge.status_code == 413
        # Other routes keep the ordinary body limit.
        other = await alice.post("/api/graphs", json={"name": "x" * 5000})
        assert other.status_code == 413

        exe = await _upload(alice, b"MZ\x90\x00", "application/x-msdownload", "a.exe")
        assert exe.status_code == 415 and exe.json()["error"]["code"] == "unsupported_file_type"
        fake_png = await _upload(alice, b"just text", "image/png", "a.png")
        assert fake_png.status_code == 415
        assert "does not start like image/png" in fake_png.json()["error"]["message"]

        not_multipart = await alice.post(
            "/api/files/upload", content=b"raw", headers={"content-type": "text/plain"}
        )
        assert not_multipart.status_code == 415
        no_part = await alice.post("/api/files/upload", files={"other": ("a", b"x", "text/plain")})
        assert no_part.status_code == 400
        long_life = await _upload(alice, b"x", expiration_hours=49)
        assert long_life.status_code == 422
        assert long_life.json()["error"]["details"][0]["field"] == "query.expiration_hours"


async def test_per_user_quota(platform: Platform) -> None:
    async with client_for(platform, "alice") as alice, client_for(platform, "bob") as bob:
        assert (await _upload(alice, b"a" * 8000)).status_code == 200
        full = await _upload(alice, b"a" * 4500)
        assert full.status_code == 413 and full.json()["error"]["code"] == "file_quota_exceeded"
        assert (await _upload(bob, b"b" * 8000)).status_code == 200


async def _execute(client: httpx.AsyncClient, block_id: str, data: dict[str, Any]) -> Any:
    return await client.post(f"/api/blocks/{block_id}/execute", json=data)


async def test_blocks_pass_references_readable_by_their_owner_only(platform: Platform) -> None:
    async with client_for(platform, "alice") as alice, client_for(platform, "bob") as bob:
        stored = await _execute(alice, FILE_STORE, {"file_in": "data:text/plain;base64,aGk="})
        assert stored.status_code == 200, stored.text
        [ref] = stored.json()["file_out"]
        assert parse_reference(ref) is not None  # a reference, not inline base64

        read = await _execute(alice, FILE_READ, {"file_input": ref})
        assert read.json() == {"content": ["hi"]}
        stolen = await _execute(bob, FILE_READ, {"file_input": ref})
        assert stolen.status_code == 422 and "file not found" in stolen.json()["error"]["message"]

        uploaded = (await _upload(alice, b"a,b\n1,2\n", "text/csv", "t.csv")).json()["file_uri"]
        as_input = await _execute(alice, AGENT_FILE_INPUT, {"name": "doc", "value": uploaded})
        assert as_input.json() == {"result": [uploaded]}
        rows = await _execute(alice, SPREADSHEET, {"file_input": uploaded})
        assert rows.json() == {"rows": [[{"a": "1", "b": "2"}]]}


async def test_spreadsheet_reads_an_uploaded_workbook(platform: Platform) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    for row in (["name", "n", None], ["ada", 1, None], ["bob", 2.5, None]):
        sheet.append(row)
    second = book.create_sheet("Q2")
    second.append(["k"])
    second.append(["v"])
    buffer = io.BytesIO()
    book.save(buffer)
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    async with client_for(platform, "alice") as alice:
        upload = await _upload(alice, buffer.getvalue(), xlsx, "book.xlsx")
        assert upload.status_code == 200, upload.text
        ref = upload.json()["file_uri"]
        first = await _execute(alice, SPREADSHEET, {"file_input": ref})
        assert first.json() == {"rows": [[{"name": "ada", "n": "1"}, {"name": "bob", "n": "2.5"}]]}
        named = await _execute(alice, SPREADSHEET, {"file_input": ref, "sheet_name": "Q2"})
        assert named.json() == {"rows": [[{"k": "v"}]]}
        missing = await _execute(alice, SPREADSHEET, {"file_input": ref, "sheet_name": "Q9"})
        assert missing.status_code == 422
        assert "Unable to read Excel file" in missing.json()["error"]["message"]


async def test_expired_files_are_deleted_by_the_system_job(platform: Platform) -> None:
    files = FileService.from_db(platform.db)
    old = await files.store(
        "alice", b"old", name="o.txt", content_type="text/plain", expires_in=-timedelta(hours=1)
    )
    kept = await files.store(
        "alice", b"new", name="n.txt", content_type="text/plain", expires_in=timedelta(hours=1)
    )
    details = await platform.scheduler.jobs.run_now(FILE_EXPIRY)
    assert details == {"deleted_files": 1, "failed_files": 0}
    assert await platform.db.files.expired(utcnow(), 10) == []
    assert (await files.open("alice", kept.id))[1] == b"new"
    assert not (platform.settings.data_dir / "files" / old.id[:2] / old.id).exists()


async def test_web_request_sends_a_referenced_file(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    async def receive(request: Request) -> JSONResponse:
        form = await request.form()
        part = form["file"]
        assert not isinstance(part, str)
        return JSONResponse({"name": part.filename, "body": (await part.read()).decode()})

    web_request = "6595ae1f-b924-42cb-9a41-551a0611c4b4"
    app = Starlette(routes=[Route("/in", receive, methods=["POST"])])
    settings = make_settings(autoplat_database_url, tmp_path, http_allow_private=True)
    async with serve(app) as url, running_platform(settings) as (platform, _):
        await platform.db.users.ensure("alice")
        async with client_for(platform, "alice") as alice:
            ref = (await _upload(alice, b"attached", name="a.txt")).json()["file_uri"]
            sent = await _execute(
                alice, web_request, {"url": f"{url}/in", "json_format": False, "files": [ref]}
            )
            assert sent.json() == {"response": [{"name": "a.txt", "body": "attached"}]}
