"""Errors the document promises: a value the database driver cannot encode is the input's
fault (422), never an undocumented 500."""

from __future__ import annotations

from asyncpg.exceptions import DataError
from sqlalchemy.exc import DBAPIError

from autoplat.api.errors import _is_unencodable_argument


def _wrapped(cause: BaseException) -> DBAPIError:
    # What SQLAlchemy's asyncpg dialect raises: its adapted error, caused by asyncpg's.
    adapted = Exception("adapted")
    adapted.__cause__ = cause
    return DBAPIError("SELECT 1", {}, adapted)


def test_an_argument_asyncpg_cannot_encode_is_the_inputs_fault() -> None:
    refused = DataError("invalid input for query argument $2: 9007199254740991")
    refused.__cause__ = OverflowError("value out of int32 range")
    assert _is_unencodable_argument(_wrapped(refused))
    assert not _is_unencodable_argument(_wrapped(RuntimeError("connection lost")))
