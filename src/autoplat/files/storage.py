"""Where file contents live: a directory (the data dir by default) or an S3-compatible bucket.

Both backends offer the same three calls on server-made keys (``put``, ``get``, ``delete``);
a key never comes from a user, so it never reaches outside its root or bucket prefix. The
local backend writes through a temporary file and a rename (a reader never sees half a
file) in a worker thread, so a large file never stalls the event loop. The S3 backend signs
each request with AWS Signature Version 4 (``autoplat.files.s3``) and opens a client per
call: it holds nothing between calls, so it needs no start or stop.
"""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
import urllib.parse
from pathlib import Path
from typing import Protocol

import httpx

from autoplat.config import Settings
from autoplat.errors import AutoplatError, ConfigError
from autoplat.files.s3 import S3Credentials, sign_request

_SAFE_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


class FileStorageError(AutoplatError):
    """The blob store did not do what was asked (disk full, bucket refused...)."""

    code = "file_storage_error"
    status = 502


class BlobMissing(FileStorageError):
    """No blob under this key."""

    code = "file_blob_missing"
    status = 404


class BlobStorage(Protocol):
    """Bytes under server-made keys."""

    description: str

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store ``data`` under ``key`` (replacing what was there)."""
        ...

    async def get(self, key: str) -> bytes:
        """The bytes under ``key``; BlobMissing when there are none."""
        ...

    async def delete(self, key: str) -> None:
        """Remove ``key``; a missing key is not an error."""
        ...


def _check_key(key: str) -> str:
    if not _SAFE_KEY.match(key):
        raise ValueError(f"bad storage key {key!r}")
    return key


class LocalBlobStorage:
    """Blobs as files under ``root`` (``root/<first two characters>/<key>``, mode 0600)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.description = f"directory {root}"

    def _path(self, key: str) -> Path:
        _check_key(key)
        return self.root / key[:2] / key

    def _write(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)
        try:
            await asyncio.to_thread(self._write, path, data)
        except OSError as exc:
            raise FileStorageError(f"cannot write the file: {exc.strerror or exc}") from None

    async def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise BlobMissing("the file's content is gone") from None
        except OSError as exc:
            raise FileStorageError(f"cannot read the file: {exc.strerror or exc}") from None

    async def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            await asyncio.to_thread(path.unlink, True)
        except OSError as exc:
            raise FileStorageError(f"cannot delete the file: {exc.strerror or exc}") from None


class S3BlobStorage:
    """Blobs as objects ``<prefix>/<key>`` of one bucket, over the S3 REST API."""

    def __init__(
        self,
        *,
        bucket: str,
        prefix: str,
        endpoint_url: str,
        credentials: S3Credentials,
        timeout: float = 60.0,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.credentials = credentials
        self.timeout = timeout
        if endpoint_url:
            # Path-style addressing: what MinIO and most S3-compatible servers expect.
            self._base = f"{endpoint_url.rstrip('/')}/{urllib.parse.quote(bucket)}"
        else:
            region = credentials.region
            self._base = f"https://{bucket}.s3.{region}.amazonaws.com"
        self.description = f"bucket {bucket}" + (f" under {self.prefix}/" if self.prefix else "")

    def _url(self, key: str) -> str:
        name = f"{self.prefix}/{_check_key(key)}" if self.prefix else _check_key(key)
        return f"{self._base}/{urllib.parse.quote(name)}"

    async def _send(
        self, method: str, key: str, body: bytes = b"", content_type: str = ""
    ) -> httpx.Response:
        url = self._url(key)
        headers = {"content-type": content_type} if content_type else {}
        signed = sign_request(method, url, headers, body, self.credentials)
        try:
            async with httpx.AsyncClient(timeout=self.timeout, trust_env=False) as client:
                return await client.request(method, url, headers=signed, content=body)
        except httpx.HTTPError as exc:
            raise FileStorageError(f"the bucket did not answer: {exc!r}") from None

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        response = await self._send("PUT", key, data, content_type or "application/octet-stream")
        if not response.is_success:
            raise FileStorageError(f"the bucket refused the file ({response.status_code})")

    async def get(self, key: str) -> bytes:
        response = await self._send("GET", key)
        if response.status_code == 404:
            raise BlobMissing("the file's content is gone")
        if not response.is_success:
            raise FileStorageError(f"the bucket refused the read ({response.status_code})")
        return response.content

    async def delete(self, key: str) -> None:
        response = await self._send("DELETE", key)
        if not response.is_success and response.status_code != 404:
            raise FileStorageError(f"the bucket refused the delete ({response.status_code})")


def blob_storage(settings: Settings) -> BlobStorage:
    """The backend ``AUTOPLAT_FILE_STORAGE_URL`` names (the data dir's ``files`` by default)."""
    url = settings.file_storage_url.strip()
    if not url:
        return LocalBlobStorage(settings.data_dir / "files")
    if url.startswith("s3://"):
        parts = urllib.parse.urlsplit(url)
        if not parts.netloc:
            raise ConfigError("AUTOPLAT_FILE_STORAGE_URL: s3:// needs a bucket name")
        return S3BlobStorage(
            bucket=parts.netloc,
            prefix=parts.path,
            endpoint_url=settings.s3_endpoint_url,
            credentials=S3Credentials(
                access_key_id=settings.s3_access_key_id,
                secret_access_key=settings.s3_secret_access_key,
                region=settings.s3_region,
            ),
        )
    path = Path(url.removeprefix("file://"))
    if not path.is_absolute():
        raise ConfigError(
            "AUTOPLAT_FILE_STORAGE_URL: must be empty, an absolute directory or s3://bucket"
        )
    return LocalBlobStorage(path)
