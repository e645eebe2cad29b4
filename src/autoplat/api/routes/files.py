"""Routes for users' files: upload (AutoGPT's ``POST /api/files/upload``), describe, download.

Invariants: an upload is one multipart ``file`` part within ``AUTOPLAT_FILE_MAX_BYTES`` (the
request body limit is raised for this path only, to that size), of an allowed type that its
content does not contradict, within the user's quota; the answer's ``file_uri`` is the
reference graphs pass to AgentFileInputBlock, FileStoreBlock or any file pin. A file is
visible to its owner only (another user's id answers 404). Downloads are always
attachments with ``nosniff`` and a sandboxing CSP, so an uploaded HTML or SVG file never
runs as a page of this origin.
"""

from __future__ import annotations

import urllib.parse
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from autoplat.api.context import current_principal, get_platform
from autoplat.api.endpoint import endpoint
from autoplat.api.validation import QueryModel, parse_query
from autoplat.errors import BadRequest, UnsupportedMediaType
from autoplat.files.refs import reference
from autoplat.files.service import FileService, FileTooLarge
from autoplat.files.sniff import check_upload

TAGS = ["files"]
#: Room for the multipart framing around the file within the raised body limit.
UPLOAD_OVERHEAD = 64 * 1024
UPLOAD_PATH = "/api/files/upload"


class UploadQuery(QueryModel):
    """How long the uploaded file is kept."""

    expiration_hours: int = Field(default=24, ge=1, le=48)


class UploadFileResponse(BaseModel):
    """AutoGPT's upload answer: ``file_uri`` is the reference to pass to file pins."""

    file_uri: str
    file_name: str
    size: int
    content_type: str
    expires_in_hours: int


class FileOut(BaseModel):
    """A stored file of the caller."""

    id: str
    file_uri: str
    file_name: str
    size: int
    content_type: str
    created_at: datetime
    expires_at: datetime


async def _the_file(request: Request, limit: int) -> UploadFile:
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != "multipart/form-data":
        raise UnsupportedMediaType(
            "an upload is multipart/form-data with one part named 'file'",
            details=[{"field": "content-type", "message": "expected multipart/form-data"}],
        )
    try:
        form = await request.form(max_files=1, max_fields=10)
    except Exception as exc:  # the multipart parser's errors: a malformed body
        raise BadRequest(f"the multipart body cannot be read: {exc}") from None
    part = form.get("file")
    if not isinstance(part, UploadFile):
        raise BadRequest(
            "the upload has no file part named 'file'",
            details=[{"field": "file", "message": "missing"}],
        )
    if part.size is not None and part.size > limit:
        raise FileTooLarge(f"the file is {part.size} bytes; at most {limit} are accepted")
    return part


@endpoint(
    "POST",
    "/files/upload",
    query=UploadQuery,
    upload="file",
    validates="the file's declared type is not allowed or its content contradicts it",
    validates_status=415,
    response=UploadFileResponse,
    permission="EXECUTE_GRAPH",
    summary="Upload a file for agents to use",
    tags=TAGS,
    errors=[413, 415],
)
async def upload_file(request: Request) -> UploadFileResponse:
    """A ``multipart/form-data`` body with one part named ``file``. The answer's
    ``file_uri`` goes into an agent's file input (or any file pin of a block)."""
    principal = await current_principal(request)
    query = parse_query(request, UploadQuery)
    platform = get_platform(request)
    settings = platform.settings
    part = await _the_file(request, settings.file_max_bytes)
    try:
        content = await part.read(settings.file_max_bytes + 1)
    finally:
        await part.close()
    if len(content) > settings.file_max_bytes:
        raise FileTooLarge(f"the file is over {settings.file_max_bytes} bytes")
    kind = check_upload(part.content_type or "", content, settings.file_allowed_types)
    record = await FileService.from_db(platform.db).store(
        principal.user_id,
        content,
        name=part.filename or "uploaded_file",
        content_type=kind,
        expires_in=timedelta(hours=query.expiration_hours),
    )
    return UploadFileResponse(
        file_uri=reference(record.id),
        file_name=record.name,
        size=record.size,
        content_type=record.content_type,
        expires_in_hours=query.expiration_hours,
    )


def _out(record: Any) -> FileOut:
    return FileOut(
        id=record.id,
        file_uri=reference(record.id),
        file_name=record.name,
        size=record.size,
        content_type=record.content_type,
        created_at=record.created_at,
        expires_at=record.expires_at,
    )


@endpoint(
    "GET",
    "/files/{file_id}",
    response=FileOut,
    permission="READ_GRAPH",
    summary="Describe one of the caller's files",
    tags=TAGS,
)
async def get_file(request: Request) -> FileOut:
    """The file's name, type, size and expiry (404 for anyone but its owner)."""
    principal = await current_principal(request)
    files = FileService.from_db(get_platform(request).db)
    return _out(await files.describe(principal.user_id, str(request.path_params["file_id"])))


@endpoint(
    "GET",
    "/files/{file_id}/download",
    permission="READ_GRAPH",
    summary="Download one of the caller's files",
    tags=TAGS,
)
async def download_file(request: Request) -> Response:
    """The file's content, as an attachment (404 for anyone but its owner)."""
    principal = await current_principal(request)
    files = FileService.from_db(get_platform(request).db)
    record, content = await files.open(principal.user_id, str(request.path_params["file_id"]))
    quoted = urllib.parse.quote(record.name, safe="")
    return Response(
        content,
        media_type=record.content_type,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quoted}",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox; default-src 'none'",
            "Cache-Control": "private, no-store",
        },
    )


def routes() -> list[BaseRoute]:
    """The routes of this module, relative to /api."""
    return [upload_file, get_file, download_file]
