"""Values every database can store: the boundary between block values and rows.

PostgreSQL refuses a NUL character in text and in JSON (``\\u0000``), an unpaired UTF-16
surrogate, and NaN or infinity in JSON; one such value used to fail a whole flush batch.
Every JSON document and text a run writes passes through here: the fast path is one
``json.dumps`` and two substring checks; only a value that needs it is rebuilt, with NUL
and lone surrogates replaced by U+FFFD and non-finite numbers by null.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

REPLACEMENT = "\ufffd"
#: Larger integers cannot be written as text by Python (its 4300-digit limit): described.
MAX_INT_BITS = 14_000
#: A ``\\uD800``-``\\uDBFF`` escape not followed by a low surrogate, or a lone low one.
_LONE_SURROGATE = re.compile(
    r"\\ud[89ab][0-9a-f]{2}(?!\\ud[c-f][0-9a-f]{2})|(?<![0-9a-f]{2})\\ud[c-f][0-9a-f]{2}",
    re.IGNORECASE,
)


def dumps(value: Any) -> str:
    """``value`` as JSON text that any database stores (sanitized when it must be)."""
    try:
        text = json.dumps(value, allow_nan=False)
    except (ValueError, TypeError, RecursionError):
        return _dumps_sanitized(value)
    if "\\u0000" in text or ("\\ud" in text.lower() and _LONE_SURROGATE.search(text)):
        return _dumps_sanitized(value)
    return text


def _dumps_sanitized(value: Any) -> str:
    try:
        return json.dumps(sanitize(value), allow_nan=False, default=_describe)
    except (ValueError, TypeError, RecursionError) as exc:  # a row must never fail to encode
        return json.dumps(f"<unstorable value: {type(exc).__name__}>")


def _describe(value: Any) -> str:
    return f"<{type(value).__name__}>"


def clean(value: Any) -> Any:
    """``value`` itself when storable, else a sanitized copy (for JSON column binds)."""
    if value is None or isinstance(value, bool | int):
        return value
    try:
        text = json.dumps(value, allow_nan=False)
    except (ValueError, TypeError, RecursionError):
        return sanitize(value)
    if "\\u0000" in text or ("\\ud" in text.lower() and _LONE_SURROGATE.search(text)):
        return sanitize(value)
    return value


def dumps_sorted(value: Any) -> str:
    """Like :func:`dumps` with sorted keys: the same text for the same value (identity)."""
    return json.dumps(sanitize(value), allow_nan=False, sort_keys=True, default=str)


def text(value: str | None) -> str | None:
    """A text column's value, storable."""
    if value is None:
        return None
    if "\x00" in value or not _encodes(value):
        return _clean(value)
    return value


def sanitize(value: Any) -> Any:
    """A copy of a JSON-like value with unstorable strings and numbers replaced."""
    if isinstance(value, str):
        return _clean(value) if "\x00" in value or not _encodes(value) else value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(sanitize(str(k))): sanitize(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [sanitize(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > MAX_INT_BITS:
        return f"<integer of {value.bit_length()} bits>"
    if value is None or isinstance(value, bool | int):
        return value
    return _clean(_describe(value))


def _encodes(value: str) -> bool:
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _clean(value: str) -> str:
    value = value.replace("\x00", REPLACEMENT)
    if _encodes(value):
        return value
    # Through UTF-16: paired surrogates become their character, lone ones U+FFFD.
    return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
