"""Stored files: per-user records and quota, both blob backends, expiry, references."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from autoplat.db.files import FileQuotaExceeded
from autoplat.db.manager import DatabaseManager
from autoplat.db.types import utcnow
from autoplat.errors import BlockRunError
from autoplat.files.refs import reference
from autoplat.files.s3 import S3Credentials, sign_request
from autoplat.files.service import FileNotFound, FileService, FileTooLarge
from autoplat.files.storage import S3BlobStorage
from autoplat.testing import make_settings
from tests.support.servers import serve

HOUR = timedelta(hours=1)


@pytest.fixture
async def db(autoplat_database_url: str, tmp_path: Path) -> AsyncIterator[DatabaseManager]:
    settings = make_settings(
        autoplat_database_url, tmp_path, file_max_bytes=1000, file_quota_bytes=1500
    )
    manager = DatabaseManager(settings)
    await manager.connect()
    for user in ("alice", "bob"):
        await manager.users.ensure(user)
    try:
        yield manager
    finally:
        await manager.disconnect()


async def test_files_are_their_owners_only(db: DatabaseManager, tmp_path: Path) -> None:
    files = FileService.from_db(db)
    record = await files.store(
        "alice", b"hello", name="../../etc/x.txt", content_type="text/plain", expires_in=HOUR
    )
    assert record.name == "x.txt" and record.size == 5
    assert (tmp_path / "files" / record.id[:2] / record.id).read_bytes() == b"hello"
    assert (await files.open("alice", record.id))[1] == b"hello"
    with pytest.raises(FileNotFound):
        await files.open("bob", record.id)
    # The run-bound views: alice's run reads it, bob's run finds nothing.
    assert (await files.for_run("alice").read(reference(record.id))).content == b"hello"
    with pytest.raises(BlockRunError, match="file not found"):
        await files.for_run("bob").read(reference(record.id))


async def test_size_limit_and_quota(db: DatabaseManager) -> None:
    files = FileService.from_db(db)
    with pytest.raises(FileTooLarge):
        await files.store("alice", b"x" * 1001, name="a", content_type="", expires_in=HOUR)
    await files.store("alice", b"x" * 1000, name="a", content_type="", expires_in=HOUR)
    with pytest.raises(FileQuotaExceeded, match="quota of 1500"):
        await files.store("alice", b"x" * 600, name="b", content_type="", expires_in=HOUR)
    assert await db.files.usage("alice", utcnow()) == 1000
    await files.store("bob", b"x" * 600, name="b", content_type="", expires_in=HOUR)
    # A run's store reports the refusal as the block's error.
    with pytest.raises(BlockRunError, match="quota"):
        await files.for_run("alice").store(b"x" * 600, name="c", content_type="text/plain")


async def test_expired_files_are_gone_and_purged(db: DatabaseManager, tmp_path: Path) -> None:
    files = FileService.from_db(db)
    old = await files.store("alice", b"old", name="o", content_type="", expires_in=-HOUR)
    new = await files.store("alice", b"new", name="n", content_type="", expires_in=HOUR)
    with pytest.raises(FileNotFound):
        await files.open("alice", old.id)  # expired: not found even before the purge
    assert await db.files.usage("alice", utcnow()) == 3
    report = await files.purge_expired(utcnow())
    assert report == {"expired_files": 1, "failed": 0, "more": False}
    assert not (tmp_path / "files" / old.id[:2] / old.id).exists()
    assert (await files.open("alice", new.id))[1] == b"new"


class FakeS3:
    """A bucket speaking S3's object PUT/GET/DELETE, checking each request's signature."""

    def __init__(self, credentials: S3Credentials) -> None:
        self.credentials = credentials
        self.objects: dict[str, bytes] = {}
        self.refused = 0

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        headers = {k: v for k, v in request.headers.items() if k in ("content-type",) and v}
        expected = sign_request(
            request.method,
            str(request.url),
            headers,
            body,
            self.credentials,
            now=_parse_amz(request.headers["x-amz-date"]),
        )
        if not hmac.compare_digest(expected["authorization"], request.headers["authorization"]):
            self.refused += 1
            return Response("SignatureDoesNotMatch", status_code=403)
        if request.headers["x-amz-content-sha256"] != hashlib.sha256(body).hexdigest():
            return Response("XAmzContentSHA256Mismatch", status_code=400)
        key = request.url.path
        if request.method == "PUT":
            self.objects[key] = body
            return Response(status_code=200)
        if request.method == "GET":
            if key not in self.objects:
                return Response("NoSuchKey", status_code=404)
            return Response(self.objects[key])
        self.objects.pop(key, None)
        return Response(status_code=204)


def _parse_amz(value: str) -> Any:
    from datetime import UTC, datetime

    return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


async def test_s3_bucket_backend_round_trip(db: DatabaseManager) -> None:
    credentials = S3Credentials("AKIDTEST", SecretStr("s3cret"), region="eu-west-1")
    fake = FakeS3(credentials)
    app = Starlette(routes=[Route("/{path:path}", fake.handle, methods=["PUT", "GET", "DELETE"])])
    async with serve(app) as url:
        storage = S3BlobStorage(
            bucket="bucket", prefix="autoplat", endpoint_url=url, credentials=credentials
        )
        files = FileService.from_db(db, storage)
        record = await files.store(
            "alice", b"\x89PNG data", name="p.png", content_type="image/png", expires_in=HOUR
        )
        assert fake.objects == {f"/bucket/autoplat/{record.id}": b"\x89PNG data"}
        assert (await files.open("alice", record.id))[1] == b"\x89PNG data"
        with pytest.raises(FileNotFound):
            await files.open("bob", record.id)
        gone = await files.store("alice", b"x", name="x", content_type="", expires_in=-HOUR)
        assert (await files.purge_expired(utcnow()))["expired_files"] == 1
        assert f"/bucket/autoplat/{gone.id}" not in fake.objects
        # A wrong secret is refused by the bucket, and nothing is left behind.
        bad = S3BlobStorage(
            bucket="bucket",
            prefix="autoplat",
            endpoint_url=url,
            credentials=S3Credentials("AKIDTEST", SecretStr("wrong"), region="eu-west-1"),
        )
        with pytest.raises(Exception, match="refused"):
            await FileService.from_db(db, bad).store(
                "alice", b"y", name="y", content_type="", expires_in=HOUR
            )
        assert fake.refused == 1
        assert await db.files.usage("alice", utcnow()) == len(b"\x89PNG data")
