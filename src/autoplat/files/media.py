"""What a file pin of a block accepts, and what a block stores: AutoGPT's MediaFileType.

A file value is a reference to one of the user's stored files (``autoplat://files/<id>``),
a ``data:`` URI, or an http(s) URL (fetched through the run's vetted client). Local paths
are refused: a graph author must not be able to read the server's disk.

Invariants: everything read is bounded by ``file_max_bytes`` (a data URI is measured before
it is decoded); when the run has a file store, what blocks store travels on as a reference,
never as inline base64 (unless the graph asks for base64); a reference only ever opens the
run's own user's files (the store is bound to that user).
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
import urllib.parse

from autoplat.blocks.base import BlockContext, FileData
from autoplat.errors import BlockRunError
from autoplat.files.refs import parse_reference

_LOCAL_PATHS = "local file paths are not supported; use a file reference, a data: URI or a URL"


def _too_large(size: int, limit: int) -> BlockRunError:
    return BlockRunError(f"the file is {size} bytes; at most {limit} are accepted")


def decode_data_uri(uri: str, limit: int) -> FileData:
    """A ``data:[type][;base64],payload`` URI's content (base64 or percent-encoded)."""
    header, comma, payload = uri[len("data:") :].partition(",")
    if not comma:
        raise BlockRunError("Invalid data URI format. Expected data:<mime>;base64,<data>")
    params = [p.strip() for p in header.split(";")]
    is_base64 = "base64" in (p.lower() for p in params[1:])
    kind = params[0].lower() or "text/plain"
    if is_base64:
        payload = "".join(payload.split())
        if len(payload) * 3 // 4 > limit + 3:
            raise _too_large(len(payload) * 3 // 4, limit)
        try:
            content = base64.b64decode(payload + "=" * (-len(payload) % 4))
        except (binascii.Error, ValueError) as exc:
            raise BlockRunError(f"invalid base64 in data: URI: {exc}") from None
    else:
        if len(payload) > 3 * limit:
            raise _too_large(len(payload), limit)
        content = urllib.parse.unquote_to_bytes(payload)
    if len(content) > limit:
        raise _too_large(len(content), limit)
    extension = mimetypes.guess_extension(kind, strict=False) or ".bin"
    return FileData(name=f"file{extension}", content_type=kind, content=content)


def data_uri(file: FileData) -> str:
    """``file`` as a base64 ``data:`` URI."""
    encoded = base64.b64encode(file.content).decode("ascii")
    return f"data:{file.content_type or 'application/octet-stream'};base64,{encoded}"


async def fetch(url: str, context: BlockContext) -> FileData:
    """GET ``url`` through the run's vetted client (redirects checked, size capped)."""
    from autoplat.blocks.builtin.web_request import send_request

    response, content = await send_request(context, "GET", url, {}, {})
    if not response.is_success:
        raise BlockRunError(f"cannot fetch the file: HTTP {response.status_code}")
    limit = context.settings.file_max_bytes
    if len(content) > limit:
        raise _too_large(len(content), limit)
    kind = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    path = urllib.parse.urlsplit(str(response.url)).path
    name = urllib.parse.unquote(path.rsplit("/", 1)[-1]) or "download"
    guessed = mimetypes.guess_type(name)[0]
    return FileData(
        name=name, content_type=kind or guessed or "application/octet-stream", content=content
    )


async def read_file(value: str, context: BlockContext) -> FileData:
    """The file a pin value names (reference, data: URI or URL), or BlockRunError."""
    value = value.strip()
    if parse_reference(value) is not None:
        if context.files is None:
            raise BlockRunError("file references need the file store, which this run has not")
        return await context.files.read(value)
    if value.startswith("data:"):
        return decode_data_uri(value, context.settings.file_max_bytes)
    if value.startswith(("http://", "https://")):
        return await fetch(value, context)
    raise BlockRunError(_LOCAL_PATHS)


async def store_file(value: str, context: BlockContext, *, base_64: bool) -> str:
    """Store the file a pin value names for the run's user; its reference, or with
    ``base_64`` a base64 ``data:`` URI of its content.

    Without a file store (an executor that passes none) files travel inline as before:
    data: URIs as given (or in base64 when asked) and URLs as they are.
    """
    value = value.strip()
    if context.files is None:
        if value.startswith("data:"):
            file = decode_data_uri(value, context.settings.file_max_bytes)
            return data_uri(file) if base_64 else value
        if value.startswith(("http://", "https://")) and not base_64:
            return value
        if parse_reference(value) is None and not value.startswith(("http://", "https://")):
            raise BlockRunError(_LOCAL_PATHS)
    if parse_reference(value) is not None and not base_64:
        # Passed on as it is: whoever reads it later reads as their user, and finds only
        # their own files, so a foreign reference stays useless.
        return value
    file = await read_file(value, context)
    if base_64 or context.files is None:
        return data_uri(file)
    return await context.files.store(file.content, name=file.name, content_type=file.content_type)
