"""Content-type checks for uploads: the declared type must be allowed and fit the bytes.

Invariant: an upload is stored under the media type it declared only when (1) that type is
on the operator's list (``AUTOPLAT_FILE_ALLOWED_TYPES``) and (2) the content does not
contradict it: types with a known signature (PNG, JPEG, PDF, ZIP-based Office files...)
must start with it, and text-like types must not look binary (a NUL byte, or a known
binary signature). A type is never guessed upward from the name; the declared one is
checked.
"""

from __future__ import annotations

import fnmatch

from autoplat.errors import UnsupportedMediaType

#: Known leading bytes of media types (any one of the prefixes must match).
_SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/bmp": (b"BM",),
    "application/pdf": (b"%PDF-",),
    "application/zip": (b"PK\x03\x04", b"PK\x05\x06"),
    "application/vnd.ms-excel": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",),
    "application/msword": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",),
    "audio/ogg": (b"OggS",),
    "audio/flac": (b"fLaC",),
}
#: Office Open XML files are ZIP archives.
_ZIP_FAMILY = "application/vnd.openxmlformats-officedocument."
_RIFF = {"image/webp": b"WEBP", "audio/wav": b"WAVE", "audio/x-wav": b"WAVE"}
_TEXT_LIKE = ("application/json", "application/xml", "application/csv")
_BINARY_MAGIC = tuple(sig for sigs in _SIGNATURES.values() for sig in sigs if len(sig) >= 4)


class UnsupportedFileType(UnsupportedMediaType):
    """The upload's type is not allowed, or its content is not of that type."""

    code = "unsupported_file_type"


def media_type(declared: str) -> str:
    """``declared`` without parameters, lower-cased (``Text/CSV; charset=x`` → ``text/csv``)."""
    return declared.split(";", 1)[0].strip().lower()


def allowed(kind: str, patterns: str) -> bool:
    """True when ``kind`` matches one of the comma-separated ``patterns`` (``*`` wildcards)."""
    return any(
        fnmatch.fnmatchcase(kind, pattern.strip().lower())
        for pattern in patterns.split(",")
        if pattern.strip()
    )


def _is_text_like(kind: str) -> bool:
    return kind.startswith("text/") or kind in _TEXT_LIKE or kind.endswith(("+json", "+xml"))


def contradiction(kind: str, content: bytes) -> str | None:
    """Why ``content`` cannot be of type ``kind``, or None when nothing contradicts it."""
    head = content[:8192]
    if kind.startswith(_ZIP_FAMILY):
        return None if head.startswith(_SIGNATURES["application/zip"]) else "not a ZIP archive"
    if kind in _RIFF:
        fits = head.startswith(b"RIFF") and head[8:12] == _RIFF[kind]
        return None if fits else f"not a RIFF {_RIFF[kind].decode()} file"
    signatures = _SIGNATURES.get(kind)
    if signatures is not None:
        return None if head.startswith(signatures) else f"it does not start like {kind}"
    if _is_text_like(kind):
        if b"\x00" in head:
            return "text must not contain NUL bytes"
        if head.startswith(_BINARY_MAGIC):
            return "it starts like a binary file"
    return None


def check_upload(declared: str, content: bytes, patterns: str) -> str:
    """The media type to store an upload under, or UnsupportedFileType saying why not."""
    kind = media_type(declared) or "application/octet-stream"
    if not allowed(kind, patterns):
        raise UnsupportedFileType(
            f"files of type {kind} are not accepted",
            details=[{"field": "file", "message": f"type {kind} is not allowed"}],
        )
    reason = contradiction(kind, content)
    if reason is not None:
        raise UnsupportedFileType(
            f"the file is declared {kind}, but {reason}",
            details=[{"field": "file", "message": reason}],
        )
    return kind
