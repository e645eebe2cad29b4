"""FileService: users' files — records in the database, bytes in the blob store.

Invariants:

- A file is reachable only through its owner: every lookup names the user, and a
  reference (``autoplat://files/<id>``) of someone else's file reads as not found.
- What is stored is bounded: ``file_max_bytes`` per file and ``file_quota_bytes`` of
  unexpired files per user, admitted in the transaction that writes the record.
- The record is written before the blob and removed if the blob cannot be written; expiry
  removes the blob before the record. So no blob is ever left without a record (which
  would never be cleaned), whatever crashes where.
- Content read back is checked against the SHA-256 taken when it was stored.

The service is cheap to build (``FileService.from_db(db)``) and holds no connection: the
API, the executor and the expiry job each make one where they need it.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from autoplat.blocks.base import FileData
from autoplat.config import Settings
from autoplat.db.files import FileRecord, FileRecordStore
from autoplat.db.types import utcnow
from autoplat.errors import AutoplatError, BlockRunError, NotFound, PayloadTooLarge
from autoplat.files.refs import parse_reference, reference
from autoplat.files.storage import BlobMissing, BlobStorage, FileStorageError, blob_storage
from autoplat.logging import get_logger

if TYPE_CHECKING:
    from autoplat.db.manager import DatabaseManager

log = get_logger("autoplat.files")

_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')
MAX_NAME = 200


class FileTooLarge(PayloadTooLarge):
    """The file is over ``file_max_bytes``."""

    code = "file_too_large"


class FileNotFound(NotFound):
    """No such file of this user (or it expired)."""

    code = "file_not_found"


def safe_name(name: str) -> str:
    """A display name without path parts or control characters, at most MAX_NAME long."""
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE_NAME.sub("_", name).strip(" .")
    if len(name) > MAX_NAME:
        stem, dot, ext = name.rpartition(".")
        name = (
            f"{stem[: MAX_NAME - len(ext) - 1]}.{ext}" if dot and len(ext) < 20 else name[:MAX_NAME]
        )
    return name or "file"


class FileService:
    """Store, open and expire users' files."""

    def __init__(
        self, settings: Settings, records: FileRecordStore, storage: BlobStorage | None = None
    ) -> None:
        self.settings = settings
        self.records = records
        self.storage = storage if storage is not None else blob_storage(settings)

    @classmethod
    def from_db(cls, db: DatabaseManager, storage: BlobStorage | None = None) -> FileService:
        """The service over ``db``'s file records and the configured blob store."""
        return cls(db.settings, db.files, storage)

    async def store(
        self,
        user_id: str,
        content: bytes,
        *,
        name: str,
        content_type: str,
        expires_in: timedelta,
        graph_exec_id: str | None = None,
    ) -> FileRecord:
        """Keep ``content`` for ``user_id`` until ``expires_in`` from now."""
        limit = self.settings.file_max_bytes
        if len(content) > limit:
            raise FileTooLarge(f"the file is {len(content)} bytes; at most {limit} are accepted")
        now = utcnow()
        file_id = str(uuid.uuid4())
        record = FileRecord(
            id=file_id,
            user_id=user_id,
            name=safe_name(name),
            content_type=content_type[:255] or "application/octet-stream",
            size=len(content),
            sha256=hashlib.sha256(content).hexdigest(),
            storage_key=file_id,
            graph_exec_id=graph_exec_id or None,
            created_at=now,
            expires_at=now + expires_in,
        )
        await self.records.admit(record, self.settings.file_quota_bytes, now)
        try:
            await self.storage.put(record.storage_key, content, record.content_type)
        except BaseException:
            await self.records.remove([record.id])
            raise
        log.info("file.stored", file_id=file_id, user_id=user_id, size=record.size)
        return record

    async def describe(self, user_id: str, file_id: str) -> FileRecord:
        """The record of ``user_id``'s file, or FileNotFound."""
        record = await self.records.get(user_id, file_id, utcnow())
        if record is None:
            raise FileNotFound("file not found", details=[{"field": "file_id"}])
        return record

    async def open(self, user_id: str, file_id: str) -> tuple[FileRecord, bytes]:
        """The record and content of ``user_id``'s file, or FileNotFound."""
        record = await self.describe(user_id, file_id)
        try:
            content = await self.storage.get(record.storage_key)
        except BlobMissing:
            raise FileNotFound("file not found", details=[{"field": "file_id"}]) from None
        if hashlib.sha256(content).hexdigest() != record.sha256:
            raise FileStorageError("the file's content changed since it was stored")
        return record, content

    async def purge_expired(self, now: datetime, limit: int = 500) -> dict[str, Any]:
        """Delete up to ``limit`` expired files (blob, then record); report the counts."""
        records = await self.records.expired(now, limit)
        done: list[str] = []
        failed = 0
        for record in records:
            try:
                await self.storage.delete(record.storage_key)
            except FileStorageError as exc:
                failed += 1  # the record stays: the next run tries this blob again
                log.warning("file.purge_failed", file_id=record.id, error=exc.message)
                continue
            done.append(record.id)
        removed = await self.records.remove(done)
        return {"expired_files": removed, "failed": failed, "more": len(records) == limit}

    def for_run(self, user_id: str, graph_exec_id: str = "") -> RunFiles:
        """The view one run's blocks get (BlockContext.files): bound to the run's user."""
        return RunFiles(self, user_id, graph_exec_id)


@dataclass(frozen=True, slots=True)
class RunFiles:
    """A FileAccess bound to one user (and the run whose blocks store files)."""

    service: FileService
    user_id: str
    graph_exec_id: str = ""

    async def store(self, content: bytes, *, name: str, content_type: str) -> str:
        hours = self.service.settings.file_ttl_hours
        try:
            record = await self.service.store(
                self.user_id,
                content,
                name=name,
                content_type=content_type,
                expires_in=timedelta(hours=hours),
                graph_exec_id=self.graph_exec_id,
            )
        except BlockRunError:
            raise
        except AutoplatError as exc:
            raise BlockRunError(f"cannot store the file: {exc.message}") from None
        return reference(record.id)

    async def read(self, reference: str) -> FileData:
        file_id = parse_reference(reference)
        if file_id is None:
            raise BlockRunError(f"not a file reference: {reference[:100]!r}")
        try:
            record, content = await self.service.open(self.user_id, file_id)
        except FileNotFound:
            raise BlockRunError(f"file not found: {reference}") from None
        except AutoplatError as exc:
            raise BlockRunError(f"cannot read the file: {exc.message}") from None
        return FileData(name=record.name, content_type=record.content_type, content=content)

    def is_reference(self, value: str) -> bool:
        return parse_reference(value) is not None
