"""In-memory stand-ins for a run's file store and key-value store.

For blocks' self-tests (``test_context``) and unit tests: they behave like the run-bound
views the executor passes (one user's files and keys), and keep everything in a dict.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from autoplat.blocks.base import BlockContext, FileData
from autoplat.errors import BlockRunError
from autoplat.files.refs import parse_reference, reference


class MemoryFiles:
    """A FileAccess keeping files in memory."""

    def __init__(self) -> None:
        self.files: dict[str, FileData] = {}

    async def store(self, content: bytes, *, name: str, content_type: str) -> str:
        file_id = str(uuid.uuid4())
        self.files[file_id] = FileData(name=name, content_type=content_type, content=content)
        return reference(file_id)

    async def read(self, reference: str) -> FileData:
        file_id = parse_reference(reference)
        if file_id is None or file_id not in self.files:
            raise BlockRunError(f"file not found: {reference}")
        return self.files[file_id]

    def is_reference(self, value: str) -> bool:
        return parse_reference(value) is not None


class MemoryKeyValues:
    """A KeyValueAccess keeping values in memory (AutoGPT's read-back of falsy values)."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    async def get(self, key: str) -> Any:
        return self.values.get(key) or None

    async def set(self, key: str, value: Any) -> Any:
        self.values[key] = value
        return value or None


def with_stores(context: BlockContext) -> BlockContext:
    """``context`` with in-memory stores where it has none."""
    return dataclasses.replace(
        context,
        files=context.files if context.files is not None else MemoryFiles(),
        kv=context.kv if context.kv is not None else MemoryKeyValues(),
    )
