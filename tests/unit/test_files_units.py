"""File pieces without a database: S3 request signing, upload type checks, names, media."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from autoplat.blocks.base import BlockContext
from autoplat.blocks.settings import BlockSettings
from autoplat.errors import BlockRunError
from autoplat.files.media import decode_data_uri, read_file, store_file
from autoplat.files.refs import parse_reference, reference
from autoplat.files.s3 import S3Credentials, sign_request
from autoplat.files.service import safe_name
from autoplat.files.sniff import UnsupportedFileType, check_upload
from autoplat.files.standin import MemoryFiles

ALLOWED = "text/*,image/*,application/pdf,application/vnd.openxmlformats-officedocument.*"


def test_sigv4_matches_the_published_example() -> None:
    # AWS's documented example: GET /test.txt of examplebucket with a Range header.
    credentials = S3Credentials(
        "AKIAIOSFODNN7EXAMPLE", SecretStr("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    )
    headers = sign_request(
        "GET",
        "https://examplebucket.s3.amazonaws.com/test.txt",
        {"Range": "bytes=0-9"},
        b"",
        credentials,
        now=datetime(2013, 5, 24, tzinfo=UTC),
    )
    assert headers["authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )
    assert "wJalr" not in repr(credentials)


@pytest.mark.parametrize(
    ("declared", "content", "stored"),
    [
        ("text/csv; charset=utf-8", b"a,b\n1,2\n", "text/csv"),
        ("image/png", b"\x89PNG\r\n\x1a\nrest", "image/png"),
        ("application/pdf", b"%PDF-1.7 ...", "application/pdf"),
        (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            b"PK\x03\x04...",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
    ],
)
def test_uploads_of_allowed_and_consistent_types_pass(
    declared: str, content: bytes, stored: str
) -> None:
    assert check_upload(declared, content, ALLOWED) == stored


@pytest.mark.parametrize(
    ("declared", "content", "why"),
    [
        ("application/x-msdownload", b"MZ...", "not accepted"),
        ("", b"anything", "not accepted"),  # octet-stream is not on the list
        ("image/png", b"GIF89a...", "does not start like image/png"),
        ("text/plain", b"abc\x00def", "NUL"),
        ("text/plain", b"%PDF-1.4", "binary"),
        ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", b"x", "ZIP"),
    ],
)
def test_uploads_of_other_or_contradicted_types_are_refused(
    declared: str, content: bytes, why: str
) -> None:
    with pytest.raises(UnsupportedFileType, match=why):
        check_upload(declared, content, ALLOWED)


def test_names_and_references() -> None:
    assert safe_name("../../etc/passwd") == "passwd"
    assert safe_name('a<b>:"c|?.txt') == "a_b___c__.txt"
    assert safe_name("..") == "file"
    assert len(safe_name("x" * 500 + ".csv")) == 200 and safe_name("x" * 500 + ".csv").endswith(
        ".csv"
    )
    file_id = "0b8a3c4e-1d2f-4a5b-8c6d-7e8f9a0b1c2d"
    assert parse_reference(reference(file_id)) == file_id
    assert parse_reference("autoplat://files/../x") is None
    assert parse_reference("https://example.com/x") is None


def _context(files: MemoryFiles | None = None) -> BlockContext:
    return BlockContext(settings=BlockSettings(file_max_bytes=10), http=None, files=files)  # type: ignore[arg-type]


def test_data_uris_are_measured_before_they_are_decoded() -> None:
    assert decode_data_uri("data:text/plain;base64,aGk=", 10).content == b"hi"
    assert decode_data_uri("data:,a%20b", 10).content == b"a b"
    with pytest.raises(BlockRunError, match="at most 10"):
        decode_data_uri("data:text/plain;base64," + "QUFB" * 100, 10)
    with pytest.raises(BlockRunError, match="Invalid data URI"):
        decode_data_uri("data:text/plain;base64", 10)


async def test_store_file_makes_references_and_keeps_base64_when_asked() -> None:
    files = MemoryFiles()
    ref = await store_file("data:text/plain;base64,aGk=", _context(files), base_64=False)
    assert parse_reference(ref) is not None
    assert (await read_file(ref, _context(files))).content == b"hi"
    assert await store_file(ref, _context(files), base_64=False) == ref  # passed on as is
    assert await store_file(ref, _context(files), base_64=True) == "data:text/plain;base64,aGk="
    # Without a store files travel inline, as before; references cannot be read then.
    assert await store_file("data:,hi", _context(), base_64=True) == "data:text/plain;base64,aGk="
    with pytest.raises(BlockRunError, match="file store"):
        await read_file(ref, _context())
    with pytest.raises(BlockRunError, match="local file paths"):
        await store_file("/etc/passwd", _context(files), base_64=False)
