"""Lenient value coercion for block pins (blocks.md §4) and JSON-safe serialisation (§1.7).

``convert`` never fails on the basic types: it falls back (``0``, ``[value]``, ...) the way the
AutoGPT executor does, so data flowing between loosely typed blocks keeps moving. The executor
calls :func:`coerce`, which leaves values that already :func:`satisfies` the annotation alone.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import math
import types
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

_NONE_TYPE = type(None)
_MAX_DEPTH = 100


class ConversionError(ValueError):
    """An unexpected failure inside :func:`convert` (the basic rules themselves never fail)."""


def _unwrap(annotation: Any) -> Any:
    """Strip ``Annotated[...]`` wrappers."""
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation


def _is_union(origin: Any) -> bool:
    return origin is Union or origin is types.UnionType


def satisfies(value: Any, annotation: Any) -> bool:
    """True when ``value`` already fits ``annotation`` (recursively for containers and unions).

    Types this module does not understand (models, dates, custom classes) are reported as
    satisfied: conversion could not improve them, so schema validation has the last word.
    """
    annotation = _unwrap(annotation)
    if annotation is Any or annotation is object:
        return True
    if annotation is None or annotation is _NONE_TYPE:
        return value is None
    origin = get_origin(annotation)
    if _is_union(origin):
        return any(satisfies(value, member) for member in get_args(annotation))
    if origin is Literal:
        return any(value == choice for choice in get_args(annotation))
    if origin is not None:
        return _satisfies_generic(value, origin, get_args(annotation))
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int)
    if annotation is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if annotation is str:
        return isinstance(value, str)
    if annotation in (list, tuple, set, frozenset, dict):
        return isinstance(value, annotation)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return isinstance(value, annotation) or value in {m.value for m in annotation}
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return isinstance(value, annotation | dict)
    return True


def _satisfies_generic(value: Any, origin: Any, args: tuple[Any, ...]) -> bool:
    if origin in (list, set, frozenset):
        if not isinstance(value, origin):
            return False
        inner = args[0] if args else Any
        return all(satisfies(item, inner) for item in value)
    if origin is tuple:
        if not isinstance(value, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(satisfies(item, args[0]) for item in value)
        return len(args) == len(value) and all(map(satisfies, value, args))
    if origin is dict or origin is Mapping:
        if not isinstance(value, dict):
            return False
        key_t, val_t = args if len(args) == 2 else (Any, Any)
        return all(satisfies(k, key_t) and satisfies(v, val_t) for k, v in value.items())
    return True


def coerce(value: Any, annotation: Any) -> Any:
    """Convert ``value`` only if it does not already satisfy ``annotation`` (executor rule)."""
    if satisfies(value, annotation):
        return value
    return convert(value, annotation)


def convert(value: Any, annotation: Any) -> Any:
    """Leniently convert ``value`` to ``annotation`` following blocks.md §4."""
    try:
        return _convert(value, _unwrap(annotation))
    except ConversionError:
        raise
    except RecursionError as exc:
        raise ConversionError("value is nested too deeply to convert") from exc
    except Exception as exc:  # the rules are lenient; anything left is a bug-class surprise
        raise ConversionError(f"cannot convert {type(value).__name__}: {exc}") from exc


def _convert(value: Any, target: Any) -> Any:
    if target is Any or target is object:
        return value
    origin = get_origin(target)
    if _is_union(origin):
        return _convert_union(value, get_args(target))
    if origin is not None:
        return _convert_generic(value, origin, get_args(target))
    if target is str:
        return _to_str(value)
    if target is bool:
        return _to_bool(value)
    if target is int or target is float:
        return _to_number(value, target)
    if target is list:
        return _to_list(value)
    if target is tuple:
        return tuple(_to_list(value))
    if target is set or target is frozenset:
        return target(_hashable(item) for item in _to_list(value))
    if target is dict:
        return _to_dict(value)
    return value


def _convert_union(value: Any, members: tuple[Any, ...]) -> Any:
    if value is None and _NONE_TYPE in members:
        return None
    if any(satisfies(value, member) for member in members):
        return value
    last_error: Exception | None = None
    for member in members:
        if member is _NONE_TYPE:
            continue
        try:
            return _convert(value, _unwrap(member))
        except Exception as exc:
            last_error = exc
    if last_error is not None:
        raise ConversionError(str(last_error)) from last_error
    return value


def _convert_generic(value: Any, origin: Any, args: tuple[Any, ...]) -> Any:
    if origin is Literal:
        return value
    if origin in (list, set, frozenset):
        inner = args[0] if args else Any
        items = [coerce(item, inner) for item in _to_list(value)]
        if origin is list:
            return items
        return origin(_hashable(item) for item in items)
    if origin is tuple:
        items = _to_list(value)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(coerce(item, args[0]) for item in items)
        if args and len(args) == len(items):
            return tuple(coerce(item, t) for item, t in zip(items, args, strict=True))
        return tuple(items)
    if origin is dict or origin is Mapping:
        key_t, val_t = args if len(args) == 2 else (Any, Any)
        return {coerce(k, key_t): coerce(v, val_t) for k, v in _to_dict(value).items()}
    return value


def _hashable(item: Any) -> Any:
    if isinstance(item, list):
        return tuple(_hashable(x) for x in item)
    if isinstance(item, dict):
        return json.dumps(to_json_safe(item), sort_keys=True)
    return item


def _to_str(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(to_json_safe(value))


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1")
    return bool(value)


def _to_number(value: Any, target: type[int] | type[float]) -> int | float:
    if isinstance(value, target):
        return value
    if isinstance(value, list | dict | tuple | set | frozenset):
        return target(len(value))
    try:
        number = float(value)
        return target(number)
    except (TypeError, ValueError, OverflowError):
        return target(0)


def _to_list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    if isinstance(value, dict):
        return [[k, v] for k, v in value.items()]
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("[") and text.endswith("]"):
            try:
                parsed = json.loads(text)
            except ValueError:
                return [value]
            if isinstance(parsed, list):
                return parsed
        return [value]
    return [value]


def _to_dict(value: Any) -> dict[Any, Any]:
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return {"value": value}
        return parsed if isinstance(parsed, dict) else {"value": parsed}
    if isinstance(value, list | tuple):
        return dict(enumerate(value))
    if isinstance(value, BaseModel):
        return value.model_dump()
    return {"value": value}


def to_json_safe(value: Any, _depth: int = 0) -> Any:
    """Return a JSON-encodable copy of ``value`` (§1.7: dates → ISO, NaN/inf → null, ...)."""
    if _depth > _MAX_DEPTH:
        raise ConversionError("value is nested too deeply to serialise")
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, enum.Enum):
        return to_json_safe(value.value, _depth + 1)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return float(value) if value.is_finite() else None
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, complex):
        return str(value)
    if isinstance(value, Mapping):
        return {_json_key(k): to_json_safe(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_json_safe(v, _depth + 1) for v in value]
    if isinstance(value, BaseModel):
        return to_json_safe(value.model_dump(), _depth + 1)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_json_safe(dataclasses.asdict(value), _depth + 1)
    attrs = getattr(value, "__dict__", None)
    if isinstance(attrs, dict):
        public = {k: v for k, v in attrs.items() if not k.startswith("_")}
        return to_json_safe(public, _depth + 1)
    return str(value)


def _json_key(key: Any) -> str:
    """Object keys the way ``json.dumps`` writes them (``1`` → ``"1"``, ``True`` → ``"true"``)."""
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, bool | int | float):
        return json.dumps(to_json_safe(key))
    return str(to_json_safe(key))
