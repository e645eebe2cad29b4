"""Dynamic pin names: ``base_$_0``, ``base_#_key``, ``base_@_attr`` (blocks.md §5).

A link's ``source_name`` may select a part of a yielded value (:func:`parse_execution_output`)
and its ``sink_name`` may address a part of an input container (:func:`merge_execution_input`).
These functions are pure; they never touch the database.
"""

from __future__ import annotations

import copy
import enum
from collections.abc import Iterable, Mapping
from typing import Any, Final

from autoplat.errors import PinIndexError, PinPathError

LIST_INDEX: Final = "_$_"
DICT_KEY: Final = "_#_"
ATTRIBUTE: Final = "_@_"
DELIMITERS: Final = (LIST_INDEX, DICT_KEY, ATTRIBUTE)

TOOL_PREFIX: Final = "tools_^_"
TOOL_FIELD_SEPARATOR: Final = "_~_"
TOOLS_PIN: Final = "tools"

Segment = tuple[str, str]
"""One path step: (delimiter, identifier)."""


class _NoValue(enum.Enum):
    """Type of :data:`NO_VALUE`."""

    NO_VALUE = "NO_VALUE"

    def __repr__(self) -> str:
        return "NO_VALUE"


NO_VALUE: Final = _NoValue.NO_VALUE
"""Returned by :func:`parse_execution_output` when a link does not carry the output."""


class AttrBag:
    """An attribute container built for ``_@_`` sink paths; missing attributes read as None."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AttrBag) and vars(self) == vars(other)

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"AttrBag({inner})"


def find_delimiter(name: str, start: int = 0) -> int:
    """Index of the earliest delimiter in ``name`` at or after ``start``, or -1."""
    hits = [i for i in (name.find(d, start) for d in DELIMITERS) if i >= 0]
    return min(hits) if hits else -1


def tokenize_path(path: str) -> list[Segment] | None:
    """Split a path such as ``_#_a_$_0`` into segments; None when malformed.

    A path must start with a delimiter; each identifier runs to the earliest next delimiter
    (or the end) and must not be empty. ``""`` tokenises to ``[]``.
    """
    segments: list[Segment] = []
    pos = 0
    while pos < len(path):
        delimiter = path[pos : pos + 3]
        if delimiter not in DELIMITERS:
            return None
        end = find_delimiter(path, pos + 3)
        if end < 0:
            end = len(path)
        identifier = path[pos + 3 : end]
        if not identifier:
            return None
        segments.append((delimiter, identifier))
        pos = end
    return segments


def sanitize_pin_name(name: str) -> str:
    """The real pin a (possibly dynamic) pin name refers to; tool pins map to ``tools``."""
    cut = find_delimiter(name)
    base = name if cut < 0 else name[:cut]
    return TOOLS_PIN if base.startswith(TOOL_PREFIX) else base


def is_tool_pin(name: str) -> bool:
    """Whether ``name`` is an orchestrator tool pin (``tools`` or ``tools_^_…``)."""
    return name == TOOLS_PIN or name.startswith(TOOL_PREFIX)


def _parse_int(identifier: str) -> int | None:
    try:
        return int(identifier)
    except ValueError:
        return None


_PLAIN_VALUES = (dict, list, tuple, str, bytes, int, float, bool, type(None))


def _step(current: Any, delimiter: str, identifier: str) -> Any:
    """Follow one output-selector segment, or return NO_VALUE."""
    if delimiter == LIST_INDEX:
        index = _parse_int(identifier)
        if index is None or not isinstance(current, list) or index >= len(current):
            return NO_VALUE
        try:
            return current[index]
        except IndexError:
            raise PinIndexError(f"list index {index} out of range in output selector") from None
    if delimiter == DICT_KEY:
        if isinstance(current, dict) and identifier in current:
            return current[identifier]
        return NO_VALUE
    # Attributes are only read from real objects: a plain JSON value has no attributes.
    if isinstance(current, _PLAIN_VALUES) or not hasattr(current, identifier):
        return NO_VALUE
    return getattr(current, identifier)


def _route_tool_output(
    pin: str, value: Any, sink_node_id: str | None, sink_pin_name: str | None
) -> Any:
    if sink_node_id is None or sink_pin_name is None:
        raise ValueError("sink_node_id and sink_pin_name must be provided for tool pin routing")
    node_id, _, field = pin[len(TOOL_PREFIX) :].partition(TOOL_FIELD_SEPARATOR)
    if node_id == sink_node_id and field == sink_pin_name:
        return value
    return NO_VALUE


def parse_execution_output(
    output_item: tuple[str, Any],
    selector: str,
    sink_node_id: str | None = None,
    sink_pin_name: str | None = None,
) -> Any:
    """The value a link with ``source_name == selector`` carries for one yielded output.

    Returns :data:`NO_VALUE` when the link must be skipped; otherwise the value to store as the
    sink's input (possibly None). NO_VALUE is returned exactly where AutoGPT's executor skips
    the link: no match, or a match that selected null through a path or a tool route. Only an
    exact ``selector == pin`` match delivers a null value.

    Raises ValueError for a tool output without ``sink_node_id``/``sink_pin_name`` and
    :class:`~autoplat.errors.PinIndexError` (an IndexError) for a too-negative ``_$_`` index;
    the executor logs and drops the link in both cases.
    """
    pin, value = output_item
    if is_tool_pin(selector) and pin.startswith(TOOL_PREFIX) and TOOL_FIELD_SEPARATOR in pin:
        routed = _route_tool_output(pin, value, sink_node_id, sink_pin_name)
        return NO_VALUE if routed is None else routed
    if selector == pin:
        return value
    if not selector.startswith(pin):
        return NO_VALUE
    segments = tokenize_path(selector[len(pin) :])
    if not segments:
        return NO_VALUE
    current = value
    for delimiter, identifier in segments:
        current = _step(current, delimiter, identifier)
        if current is NO_VALUE:
            return NO_VALUE
    return NO_VALUE if current is None else current


def _assign_index(container: Any, index_text: str, rest: list[Segment], value: Any) -> list[Any]:
    index = _parse_int(index_text)
    if index is None:
        raise PinPathError(f"index must be an integer, got {index_text!r}")
    if index < 0:
        raise PinIndexError(f"negative list index {index} in input pin path")
    # A list is copied, any other iterable (a string, a tuple) is converted, like list() would.
    items = list(container) if isinstance(container, Iterable) else []
    items.extend([None] * (index + 1 - len(items)))
    items[index] = _assign(items[index], rest, value)
    return items


def _assign_key(container: Any, key: str, rest: list[Segment], value: Any) -> dict[Any, Any]:
    mapping = dict(container) if isinstance(container, Mapping) else {}
    mapping[key] = _assign(mapping.get(key), rest, value)
    return mapping


def _assign_attribute(container: Any, name: str, rest: list[Segment], value: Any) -> Any:
    if isinstance(container, AttrBag):
        target: Any = copy.copy(container)
    elif hasattr(container, "__dict__") and not isinstance(container, type):
        target = container
    else:
        target = AttrBag()
    setattr(target, name, _assign(getattr(target, name, None), rest, value))
    return target


def _assign(container: Any, segments: list[Segment], value: Any) -> Any:
    """Return ``container`` with ``value`` placed at ``segments``, building containers."""
    if not segments:
        return value
    (delimiter, identifier), rest = segments[0], segments[1:]
    if delimiter == LIST_INDEX:
        return _assign_index(container, identifier, rest, value)
    if delimiter == DICT_KEY:
        return _assign_key(container, identifier, rest, value)
    return _assign_attribute(container, identifier, rest, value)


def merge_execution_input(data: Mapping[str, Any]) -> dict[str, Any]:
    """Build the containers addressed by dynamic input keys (§5.2); returns a new dict.

    Keys are processed in order: a plain key is copied, a key with a well-formed path is merged
    into its base key (earlier plain values seed the container, later ones replace it, a
    different container kind replaces the previous one, list gaps are padded with None), and a
    malformed path is kept as a plain key. The flattened keys remain in the result. Containers
    from ``data`` are copied, never mutated.

    Raises :class:`~autoplat.errors.PinPathError` (a ValueError) for a non-integer ``_$_``
    index and :class:`~autoplat.errors.PinIndexError` (an IndexError) for a negative one.
    """
    merged: dict[str, Any] = {}
    for key, value in data.items():
        cut = find_delimiter(key)
        if cut < 0:
            merged[key] = value
            continue
        base, segments = key[:cut], tokenize_path(key[cut:])
        if segments is None:
            merged[key] = value
            continue
        merged[base] = _assign(merged.get(base), segments, value)
    result = dict(data)
    result.update(merged)
    return result
