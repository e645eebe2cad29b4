"""Request parsing shared by every route: JSON bodies, query parameters and pagination.

Invariant: a request is accepted only if the JSON Schema the document publishes for it
accepts it. Bodies are validated strictly (JSON types, no coercion); query parameters,
which arrive as text, are read the way the document spells their types (``true``/``false``,
RFC 3339 date-times), never by pydantic's lax guesses (``0`` as false, ``0.5`` as a date).
"""

from __future__ import annotations

import functools
import json
import re
import zoneinfo
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict
from pydantic import ValidationError as PydanticValidationError
from pydantic_core import CoreSchema
from starlette.requests import Request

from autoplat.errors import BadRequest, UnsupportedMediaType, ValidationFailed

ModelT = TypeVar("ModelT", bound=BaseModel)


class StrictBody(BaseModel):
    """Base of request bodies: unknown fields are an error that names the field, and every
    value must already be of its JSON type (``strict``): a boolean is ``true`` or ``false``
    (never ``0`` or ``"yes"``), a number or string is never a boolean, an integer is never
    a string. Lax coercion would accept bodies the published schema refuses, and clients
    generated from the document rely on the schema being the whole truth.

    Where a Python type is not a JSON type, the field says how a JSON value reads as it:
    :data:`StrictJsonInt` and :data:`JsonInteger` (``2.0`` is an integer), :data:`JsonEnum`
    (a member by its value), :data:`JsonDateTime` (an RFC 3339 string).
    """

    model_config = ConfigDict(extra="forbid", strict=True)


def _integral_float(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


#: Reads an integral JSON number (``2.0``) as the integer it is, for an ``int`` that is then
#: validated strictly: ``Annotated[int, Field(ge=1), JsonInteger] | None``. The bounds go
#: first: put after it (or on an optional field's ``Field``), pydantic can no longer say
#: them as ``minimum``/``maximum`` in the document.
JsonInteger = BeforeValidator(_integral_float)

#: An integer as JSON Schema means one: ``2`` and ``2.0`` are both integers (the document
#: cannot tell them apart), ``"2"`` and ``true`` are not. For a required or defaulted field
#: (``amount: StrictJsonInt = Field(ge=1)``); an optional one spells it with JsonInteger.
StrictJsonInt = Annotated[int, JsonInteger, Strict()]

#: An enum field of a strict body: JSON carries a member as its value (a string), which
#: strict validation alone would refuse (it wants the member object). Use as
#: ``Annotated[Permission, JsonEnum]``; any value that is no member is still refused.
JsonEnum = Strict(False)

#: RFC 3339 (the ``date-time`` format of JSON Schema): date, ``T``, time, and an offset.
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


def _rfc3339(value: Any) -> Any:
    # Only the shape is checked here; pydantic then parses the string (and refuses a 13th
    # month). Without this, it would also read numbers and digit strings as Unix times.
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise ValueError("expected an RFC 3339 date-time such as 2026-01-31T12:00:00Z")
    return value


#: A date-time as the document declares it (``format: date-time``): an RFC 3339 string with
#: an offset, in a body or a query parameter alike; numbers and bare dates are refused.
JsonDateTime = Annotated[datetime, Strict(False), BeforeValidator(_rfc3339)]


def _true_or_false(value: Any) -> Any:
    # Query text: the document's booleans are the words true and false, which is what
    # the web app (String(true)) and AutoGPT's clients send; other text stays a string,
    # and the strict boolean below refuses it ("0", "1", "yes", "True").
    return {"true": True, "false": False}.get(value, value) if isinstance(value, str) else value


#: A boolean query parameter: ``true`` or ``false``, nothing else.
QueryBool = Annotated[bool, BeforeValidator(_true_or_false), Strict()]


#: Some character that str.strip() keeps (whitespace and \x1c-\x1f are stripped), no NUL:
#: the pattern of a name that must not be blank (the routes strip names, then refuse "").
NOT_BLANK = r"^[^\u0000]*[^\s\x1c-\x1f\u0000][^\u0000]*$"


def stripped_name(value: str) -> str:
    """A name without its surrounding spaces; a blank one is refused (``field_validator``)."""
    value = value.strip()
    if not value:
        raise ValueError("must not be blank")
    return value


@functools.cache
def iana_timezones() -> tuple[str, ...]:
    """Every IANA timezone name this system knows, sorted."""
    return tuple(sorted(zoneinfo.available_timezones()))


def timezone_enum(schema: dict[str, Any]) -> None:
    """``json_schema_extra`` of a field taking an IANA timezone name: the document lists
    them (the route refuses any other, so the schema must say so)."""
    for part in schema.get("anyOf", [schema]):  # ``str | None``: the string branch
        if part.get("type") == "string":
            part["enum"] = list(iana_timezones())
            part.pop("pattern", None)


class QueryModel(BaseModel):
    """Base of query-parameter models: unknown parameters are ignored, as HTTP usually does."""

    model_config = ConfigDict(extra="ignore")


class PathModel(BaseModel):
    """Base of path-parameter models (``@endpoint(path_params=...)``): constraints the
    template's convertor cannot say (``ge=1``), validated before the handler and documented.
    Parameters the model leaves out keep the template's own schema."""

    model_config = ConfigDict(extra="ignore")


_PARSED_KEY = "autoplat_parsed"
#: Deeper documents are refused: no graph needs them, and recursive code downstream
#: (copies, serialisers, the database's JSON parser) would choke on them.
MAX_JSON_DEPTH = 128


def cache_parsed(request: Request, model: type[BaseModel], value: BaseModel) -> None:
    """Remember a validated input so the handler's own parse call returns it unchanged."""
    request.scope.setdefault("state", {}).setdefault(_PARSED_KEY, {})[model] = value


def _cached(request: Request, model: type[ModelT]) -> ModelT | None:
    value = request.scope.get("state", {}).get(_PARSED_KEY, {}).get(model)
    return value if isinstance(value, model) else None


def field_errors(
    exc: PydanticValidationError, prefix: str = "", model: type[BaseModel] | None = None
) -> list[dict[str, Any]]:
    """Pydantic errors as ``{"field", "message", "type"}`` entries.

    With ``model`` (the model that raised ``exc``), a field is named by where it sits in the
    JSON document only: pydantic puts a tagged union's tag in the location too
    (``api_key.api_key`` for the ``api_key`` field of a ``{"type": "api_key"}`` body), a
    step the client never wrote.
    """
    schema = model.__pydantic_core_schema__ if model is not None else None
    out = []
    for err in exc.errors():
        parts = err["loc"] if schema is None else document_location(schema, err["loc"])
        loc = ".".join(str(part) for part in parts)
        out.append(
            {
                "field": f"{prefix}{loc}" if loc else prefix.rstrip(".") or "body",
                "message": err["msg"],
                "type": err["type"],
            }
        )
    return out


#: Core-schema kinds that wrap one inner schema without adding a step to the location.
_WRAPPERS = frozenset(
    {
        "default",
        "nullable",
        "function-before",
        "function-after",
        "function-wrap",
        "lax-or-strict",
        "json-or-python",
        "model",
    }
)


def document_location(schema: CoreSchema, loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    """``loc`` without the steps that are no part of the document (a tagged union's tag).

    The location is followed down the model's core schema; where the walk meets a kind of
    schema it does not know, the rest of the location is kept as pydantic said it.
    """
    defs: dict[str, CoreSchema] = {}
    kept: list[int | str] = []
    node: Mapping[str, Any] = schema
    i = 0
    while i < len(loc):
        kind = node["type"]
        if kind == "definitions":
            defs.update({d["ref"]: d for d in node["definitions"] if "ref" in d})
            node = node["schema"]
        elif kind == "definition-ref" and node["schema_ref"] in defs:
            node = defs[node["schema_ref"]]
        elif kind in _WRAPPERS and "schema" in node:
            if "ref" in node:  # a model defined inline can be referred to further down
                defs.setdefault(node["ref"], node)
            node = node["schema"]
        elif kind == "tagged-union" and loc[i] in node["choices"]:
            node = node["choices"][loc[i]]  # the tag: pydantic's step, not the client's
            i += 1
        elif kind == "model-fields" and loc[i] in node["fields"]:
            kept.append(loc[i])
            node = node["fields"][loc[i]]["schema"]
            i += 1
        elif kind in ("list", "set", "frozenset") and "items_schema" in node:
            kept.append(loc[i])
            node = node["items_schema"]
            i += 1
        elif kind == "dict" and "values_schema" in node and loc[i + 1 : i + 2] != ("[key]",):
            kept.append(loc[i])
            node = node["values_schema"]
            i += 1
        else:
            break
    return (*kept, *loc[i:])


async def read_json(request: Request) -> Any:
    """The request body as JSON, or BadRequest saying why it is not.

    Refused here so that no route ever sees them: a body without a JSON content type
    (``application/json`` or ``+json``; 415, whatever the mode), an empty
    or undecodable body, NaN/Infinity (not JSON, and unstorable), nesting too deep for the
    parser, integers too long to convert, and NUL characters (PostgreSQL cannot store them).
    """
    content_type = request.headers.get("content-type", "")
    media = content_type.split(";", 1)[0].strip().lower()
    body = await request.body()
    # A body is JSON only when it says so: a browser page of another site can send a
    # "simple" text/plain or form body without asking, but never application/json.
    if body and media != "application/json" and not media.endswith("+json"):
        named = f"not {media!r}" if media else "and the request has no Content-Type"
        raise UnsupportedMediaType(
            f"request body must be application/json, {named}",
            details=[{"field": "content-type", "message": "expected application/json"}],
        )
    if not body:
        raise BadRequest(
            "request body is empty; a JSON document is required",
            details=[{"field": "body", "message": "a JSON document is required"}],
        )
    try:
        data = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        # ValueError covers JSONDecodeError, UnicodeDecodeError and over-long integers.
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise BadRequest(
            f"request body is not valid JSON: {reason}",
            details=[{"field": "body", "message": reason}],
        ) from None
    if body.count(b"[") + body.count(b"{") > MAX_JSON_DEPTH and _depth(data) > MAX_JSON_DEPTH:
        message = f"nested more than {MAX_JSON_DEPTH} levels deep"
        raise BadRequest(
            f"request body is not valid JSON: {message}",
            details=[{"field": "body", "message": message}],
        )
    if b"\\u0000" in body and _contains_nul(data):
        raise BadRequest(
            "request body contains a NUL character (\\u0000), which cannot be stored",
            details=[{"field": "body", "message": "NUL characters are not allowed"}],
        )
    return data


def _depth(value: Any) -> int:
    """How deeply lists and objects nest in ``value`` (iterative: no recursion limit)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children)
    return deepest


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


def _contains_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_contains_nul(k) or _contains_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_contains_nul(v) for v in value)
    return False


async def parse_body(request: Request, model: type[ModelT]) -> ModelT:
    """Parse and validate the JSON body with ``model``; 422 with field errors otherwise."""
    cached = _cached(request, model)
    if cached is not None:
        return cached
    data = await read_json(request)
    return validate_model(model, data, "body.")


def validate_model(model: type[ModelT], data: Any, prefix: str = "") -> ModelT:
    """Validate ``data`` with ``model``; 422 with field errors otherwise."""
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        details = field_errors(exc, prefix, model)
        raise ValidationFailed(
            "; ".join(f"{d['field']}: {d['message']}" for d in details[:5]), details=details
        ) from None


class Page(BaseModel):
    """Pagination parameters of a list route (``page`` from 1, ``page_size`` up to 250)."""

    model_config = ConfigDict(extra="ignore")

    page: int = Field(default=1, ge=1, le=1_000_000)
    page_size: int = Field(default=50, ge=1, le=250)

    @property
    def offset(self) -> int:
        """Rows to skip."""
        return (self.page - 1) * self.page_size


def parse_query(request: Request, model: type[ModelT]) -> ModelT:
    """Validate query parameters with ``model``; 422 naming the parameter otherwise."""
    cached = _cached(request, model)
    if cached is not None:
        return cached
    return validate_model(model, dict(request.query_params), "query.")


def parse_path(request: Request, model: type[ModelT]) -> ModelT:
    """Validate path parameters with ``model``; 422 naming the parameter otherwise."""
    cached = _cached(request, model)
    if cached is not None:
        return cached
    return validate_model(model, dict(request.path_params), "path.")


def page_of(request: Request) -> Page:
    """The pagination parameters of a request."""
    return parse_query(request, Page)


def paginated(items: list[Any], total: int, page: Page) -> dict[str, Any]:
    """The list envelope every list route answers with."""
    pages = (total + page.page_size - 1) // page.page_size
    return {
        "items": items,
        "pagination": {
            "total_items": total,
            "total_pages": pages,
            "current_page": page.page,
            "page_size": page.page_size,
        },
    }
