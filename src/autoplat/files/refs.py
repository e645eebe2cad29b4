"""File references: how a stored file is named in node values (``autoplat://files/<id>``).

A reference names a file, it grants nothing: whoever reads one reads it as a user, and only
that user's own files are found. Nothing here touches the database, so blocks can tell a
reference from a URL or a data URI without importing the store.
"""

from __future__ import annotations

import re

REFERENCE_PREFIX = "autoplat://files/"
_REFERENCE = re.compile(
    r"^autoplat://files/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$"
)


def reference(file_id: str) -> str:
    """The reference that names file ``file_id`` in node values."""
    return f"{REFERENCE_PREFIX}{file_id}"


def parse_reference(value: str) -> str | None:
    """The file id a reference names, or None when ``value`` is not one."""
    match = _REFERENCE.match(value.strip())
    return match.group(1) if match else None
