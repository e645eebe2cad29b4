"""``/openapi.json`` (OpenAPI 3.1), written from the same pydantic models the routes validate with.

Every :class:`~autoplat.api.endpoint.ApiRoute` contributes one operation from its
EndpointSpec; plain Starlette routes (not declared with ``@endpoint``) are listed with a
minimal operation so that nothing is silently missing. WebSocket routes are not part of
OpenAPI and are left out. An operation answering with a resource links (OpenAPI ``links``)
to every operation whose path names that resource, with each path parameter filled from
the answer or from the request (:data:`RESOURCE_IDS`): create → read, update, delete.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from pydantic import TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, JsonSchemaValue
from pydantic_core import core_schema
from starlette.routing import BaseRoute, Mount, Route

from autoplat import __version__
from autoplat.api.endpoint import ApiRoute, EndpointSpec, paginated_model
from autoplat.api.errors import ErrorResponse
from autoplat.api.validation import Page

_REF = "#/components/schemas/{model}"
_PARAM = re.compile(r"{([a-zA-Z_][a-zA-Z0-9_]*)(?::([a-z]+))?}")
_INT_MAX = 2_147_483_647

SchemaKey = tuple[str, str]

#: What every string of a request may be: the API refuses NUL characters anywhere (in the
#: path, the query and the body: ``validation.read_json``), as PostgreSQL cannot store them.
NO_NUL = "^[^\\u0000]*$"
#: Any JSON value of a request (``Any``, free-form objects): the same, all the way down.
JSON_VALUE = "JsonValue"
_JSON_VALUE_REF = _REF.format(model=JSON_VALUE)
JSON_VALUE_SCHEMA: dict[str, Any] = {
    "description": "Any JSON value; no string and no object key contains a NUL character.",
    "anyOf": [
        {"type": "null"},
        {"type": "boolean"},
        {"type": "number"},
        {"type": "string", "pattern": NO_NUL},
        {"type": "array", "items": {"$ref": _JSON_VALUE_REF}},
        {
            "type": "object",
            "propertyNames": {"pattern": NO_NUL},
            "additionalProperties": {"$ref": _JSON_VALUE_REF},
        },
    ],
}


class ApiJsonSchema(GenerateJsonSchema):
    """Pydantic's JSON schemas, made exact for what requests may carry.

    In validation mode (requests) every string without a pattern of its own gets
    :data:`NO_NUL`, free-form values are :data:`JSON_VALUE` and free-form objects' keys
    and values are NUL-free too, because the API refuses NUL wherever it appears.
    Responses (serialization mode) are left as pydantic writes them.
    """

    def str_schema(self, schema: core_schema.StringSchema) -> JsonSchemaValue:
        out = super().str_schema(schema)
        if self.mode == "validation" and "pattern" not in out:
            out["pattern"] = NO_NUL
        return out

    def any_schema(self, schema: core_schema.AnySchema) -> JsonSchemaValue:
        if self.mode == "validation":
            # Wrapped: pydantic resolves a bare $ref among its own definitions.
            return {"allOf": [{"$ref": _JSON_VALUE_REF}]}
        return super().any_schema(schema)

    def dict_schema(self, schema: core_schema.DictSchema) -> JsonSchemaValue:
        out = super().dict_schema(schema)
        if self.mode != "validation":
            return out
        patterned = out.get("patternProperties")
        if (
            isinstance(patterned, dict)
            and len(patterned) == 1
            and "additionalProperties" not in out
        ):
            # Constrained keys: pydantic writes their pattern as patternProperties, which
            # lets every other key through unchecked; the route refuses those, so say it
            # of every key instead.
            [(pattern, values)] = patterned.items()
            del out["patternProperties"]
            out["additionalProperties"] = values or True
            names = out.setdefault("propertyNames", {})
            names.setdefault("pattern", pattern)
        if out.get("additionalProperties") is True:
            out["additionalProperties"] = {"$ref": _JSON_VALUE_REF}
            out.setdefault("propertyNames", {"pattern": NO_NUL})
        return out

    def model_schema(self, schema: core_schema.ModelSchema) -> JsonSchemaValue:
        out = super().model_schema(schema)
        return self._open_extras(out)

    def _open_extras(self, out: JsonSchemaValue) -> JsonSchemaValue:
        # extra="allow": unknown fields are free-form JSON values (NUL-free, as above).
        if self.mode == "validation" and out.get("additionalProperties") is True:
            out["additionalProperties"] = {"$ref": _JSON_VALUE_REF}
            out.setdefault("propertyNames", {"pattern": NO_NUL})
        return out


@dataclass(frozen=True)
class ResourceIds:
    """Where an answer of one model names resources (JSON pointers into its body).

    ``own``: the resource the answer is (a link must fill at least one of these);
    ``context``: what else it names, used only to fill the rest of a link's path.
    """

    own: dict[str, str]
    context: dict[str, str] = field(default_factory=dict)


_RUN = ResourceIds(
    own={"exec_id": "/id", "graph_exec_id": "/id"},
    context={"graph_id": "/graph_id", "graph_version": "/graph_version"},
)
#: By response model: the path parameters its answers fill (``links``).
RESOURCE_IDS: dict[str, ResourceIds] = {
    "GraphOut": ResourceIds(
        own={"graph_id": "/id", "version": "/version", "graph_version": "/version"}
    ),
    "ActiveVersionOut": ResourceIds(own={"graph_id": "/id"}),
    "RunQueued": ResourceIds(own={"exec_id": "/id", "graph_exec_id": "/id"}),
    "RunOut": _RUN,
    "RunDetail": _RUN,
    "ScheduleView": ResourceIds(own={"schedule_id": "/id"}),
    "PresetOut": ResourceIds(own={"preset_id": "/id"}),
    "CreateApiKeyOut": ResourceIds(own={"key_id": "/api_key/id"}),
    "ApiKeyOut": ResourceIds(own={"key_id": "/id"}),
    "CredentialsMeta": ResourceIds(own={"cred_id": "/id"}, context={"provider": "/provider"}),
    "FileOut": ResourceIds(own={"file_id": "/id"}),
    "LibraryAgentOut": ResourceIds(own={"library_agent_id": "/id"}),
    "ShareOut": ResourceIds(own={"token": "/share_token"}),
}


DESCRIPTION = """\
Build and run AI agents as graphs of blocks.

**Authentication.** Send `Authorization: Bearer <JWT>` (the `sub` claim is the user id) or
`X-API-Key: <key>` (made with `POST /api/api-keys` or `autoplat apikey create`). An API key
may only use the routes its permissions allow; every other error is a JSON document
`{"error": {"code", "message", "details"}}`.

**Lists** take `page` (from 1) and `page_size` (1-250) and answer
`{"items": [...], "pagination": {...}}`.
"""


def walk_routes(
    routes: list[BaseRoute], prefix: str = "", *, hidden: bool = False
) -> Iterator[tuple[str, Route]]:
    """Every HTTP route of an app with its full path template (mount prefixes included).

    Routes marked ``include_in_schema=False`` are skipped unless ``hidden`` is true.
    """
    for route in routes:
        if isinstance(route, Mount):
            yield from walk_routes(list(route.routes), prefix + route.path, hidden=hidden)
        elif isinstance(route, Route) and (hidden or route.include_in_schema):
            yield prefix + route.path, route


def openapi_path(path: str) -> str:
    """A Starlette path template as an OpenAPI path (``{version:int}`` → ``{version}``)."""
    return _PARAM.sub(lambda m: "{" + m.group(1) + "}", path)


def build_openapi(routes: list[BaseRoute], *, title: str = "autoplat") -> dict[str, Any]:
    """The OpenAPI 3.1 document for these routes."""
    found = sorted(walk_routes(routes), key=lambda item: item[0])
    specs = [(path, route.spec) for path, route in found if isinstance(route, ApiRoute)]
    schemas, components = _schemas(spec for _, spec in specs)
    paths: dict[str, dict[str, Any]] = {}
    for path, route in found:
        ops = paths.setdefault(openapi_path(path), {})
        if isinstance(route, ApiRoute):
            ops[route.spec.method.lower()] = _operation(path, route.spec, schemas, components)
        else:
            for method in sorted((route.methods or {"GET"}) - {"HEAD"}):
                ops[method.lower()] = _plain_operation(path, route)
    _add_links(paths)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": __version__, "description": DESCRIPTION},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
        },
    }


def _path_names(path: str) -> list[str]:
    return [name for name, _ in _PARAM.findall(path)]


def _add_links(paths: dict[str, dict[str, Any]]) -> None:
    """Link each operation answering with a resource to the operations of that resource."""
    ops = [
        (path, op)
        for path, item in paths.items()
        for op in item.values()
        if isinstance(op, dict) and "operationId" in op
    ]
    for path, producer in ops:
        for status, response in producer["responses"].items():
            schema = response.get("content", {}).get("application/json", {}).get("schema", {})
            ref = schema.get("$ref") if status.startswith("2") else None
            ids = RESOURCE_IDS.get(ref.rsplit("/", 1)[-1]) if isinstance(ref, str) else None
            if ids is None:
                continue
            links: dict[str, Any] = {}
            for target_path, consumer in ops:
                # A DELETE that keeps its resource (x-keeps-resource) is no step of a chain:
                # what follows it would read what is meant to stay, not a use after free.
                if consumer is producer or "x-keeps-resource" in consumer:
                    continue
                params = _link_parameters(_path_names(path), ids, _path_names(target_path))
                if params is not None:
                    links[consumer["operationId"]] = {
                        "operationId": consumer["operationId"],
                        "parameters": params,
                    }
            if links:
                response["links"] = dict(sorted(links.items()))


def _link_parameters(
    request_params: list[str], ids: ResourceIds, target_params: list[str]
) -> dict[str, str] | None:
    """How a link fills the target's path, or None when it cannot (or is not about the
    answer's own resource): the answer's own ids first, then the request's path, then the
    answer's context."""
    if not any(name in ids.own for name in target_params):
        return None
    out: dict[str, str] = {}
    for name in target_params:
        if name in ids.own:
            out[f"path.{name}"] = f"$response.body#{ids.own[name]}"
        elif name in request_params:
            out[f"path.{name}"] = f"$request.path.{name}"
        elif name in ids.context:
            out[f"path.{name}"] = f"$response.body#{ids.context[name]}"
        else:
            return None
    return out


def _schemas(
    specs: Iterator[EndpointSpec],
) -> tuple[dict[tuple[SchemaKey, str], Any], dict[str, Any]]:
    """JSON schemas of every model named by the specs, sharing one set of components."""
    inputs: list[tuple[SchemaKey, JsonSchemaMode, TypeAdapter[Any]]] = [
        (("error", ""), "serialization", TypeAdapter(ErrorResponse)),
        (("page", ""), "validation", TypeAdapter(Page)),
    ]
    for spec in specs:
        key = spec.operation_id
        if spec.body is not None:
            inputs.append(((key, "body"), "validation", TypeAdapter(spec.body)))
        if spec.query is not None:
            inputs.append(((key, "query"), "validation", TypeAdapter(spec.query)))
        if spec.path_params is not None:
            inputs.append(((key, "path"), "validation", TypeAdapter(spec.path_params)))
        if spec.response is not None:
            response = paginated_model(spec.response) if spec.paginated else spec.response
            inputs.append(((key, "response"), "serialization", TypeAdapter(response)))
    by_key, defs = TypeAdapter.json_schemas(
        inputs, ref_template=_REF, schema_generator=ApiJsonSchema
    )
    schemas: dict[tuple[SchemaKey, str], Any] = {key: value for key, value in by_key.items()}
    components = dict(defs.get("$defs", {}))
    components[JSON_VALUE] = JSON_VALUE_SCHEMA
    return schemas, dict(sorted(components.items()))


def _operation(
    path: str,
    spec: EndpointSpec,
    schemas: dict[tuple[SchemaKey, str], Any],
    components: dict[str, Any],
) -> dict[str, Any]:
    key = spec.operation_id
    op: dict[str, Any] = {"operationId": key, "summary": spec.summary}
    if spec.description:
        op["description"] = spec.description
    if spec.tags:
        op["tags"] = list(spec.tags)
    params = _path_parameters(path)
    if spec.path_params is not None:
        declared = _resolve(schemas[((key, "path"), "validation")], components)
        for param in params:
            prop = declared.get("properties", {}).get(param["name"])
            if prop is not None:
                param["schema"] = {k: v for k, v in prop.items() if k not in ("title", "default")}
                if "description" in prop:
                    param["description"] = prop["description"]
    if spec.query is not None:
        params += _query_parameters(_resolve(schemas[((key, "query"), "validation")], components))
    if spec.paginated:
        params += _query_parameters(_resolve(schemas[(("page", ""), "validation")], components))
    if params:
        op["parameters"] = params
    if spec.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schemas[((key, "body"), "validation")]}},
        }
    elif spec.upload is not None:
        part = {"type": "string", "format": "binary"}
        upload = {"type": "object", "required": [spec.upload], "properties": {spec.upload: part}}
        op["requestBody"] = {
            "required": True,
            "content": {"multipart/form-data": {"schema": upload}},
        }
    responses: dict[str, Any] = {}
    if spec.response is None:
        responses[str(spec.status)] = {"description": _reason(spec.status)}
    else:
        schema = schemas[((key, "response"), "serialization")]
        responses[str(spec.status)] = {
            "description": _reason(spec.status),
            "content": {"application/json": {"schema": schema}},
        }
    error_ref = schemas[(("error", ""), "serialization")]
    for status in sorted(_error_statuses(path, spec)):
        responses[str(status)] = {
            "description": _reason(status),
            "content": {"application/json": {"schema": error_ref}},
        }
    if spec.validates:
        beyond = spec.validates_status
        responses[str(beyond)]["description"] = f"{_reason(beyond)}; also when {spec.validates}"
        op["x-validates-beyond-schema"] = {"status": beyond, "when": spec.validates}
    op["responses"] = responses
    if spec.keeps:
        op["x-keeps-resource"] = spec.keeps
    if spec.auth:
        op["security"] = [{"bearer": []}, {"apiKey": []}]
        # Machine-readable too: the permission and admin tests walk the spec by these.
        if spec.permission:
            op["x-permission"] = spec.permission
        if spec.admin:
            op["x-admin"] = True
        notes = []
        if spec.permission:
            notes.append(f"API keys need the `{spec.permission}` permission.")
        if spec.admin:
            notes.append("Admins only (`role: admin`).")
        if notes:
            op["description"] = " ".join([op.get("description", ""), *notes]).strip()
    else:
        op["security"] = []
    return op


def _error_statuses(path: str, spec: EndpointSpec) -> set[int]:
    # 403 everywhere: local mode refuses foreign Host names and cross-origin browsers on
    # every route (api/guards.py).
    statuses = {400, 403, 422, *spec.errors}
    if spec.validates:
        statuses.add(spec.validates_status)
    if spec.auth:
        statuses.add(401)
    if _PARAM.search(path):
        statuses.add(404)
    if spec.body is not None or spec.upload is not None:
        statuses |= {413, 415}
    if spec.rate_limited:
        statuses.add(429)
    return statuses


def _path_parameters(path: str) -> list[dict[str, Any]]:
    params = []
    for name, convertor in _PARAM.findall(path):
        schema: dict[str, Any]
        if convertor == "int":
            schema = {"type": "integer", "minimum": 0, "maximum": _INT_MAX}
        else:
            # A path segment: never empty, never a slash (those reach another route), never
            # NUL (refused before routing).
            schema = {
                "type": "string",
                "minLength": 1,
                "maxLength": 200,
                "pattern": "^[^/\\u0000]+$",
            }
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return params


def _resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    """The schema a ``$ref`` points to (query models are expanded into parameters)."""
    ref = schema.get("$ref")
    if isinstance(ref, str):
        resolved: dict[str, Any] = components[ref.rsplit("/", 1)[-1]]
        return resolved
    return schema


def _query_parameters(schema: dict[str, Any]) -> list[dict[str, Any]]:
    required = set(schema.get("required", []))
    out = []
    for name, prop in schema.get("properties", {}).items():
        param: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": {k: v for k, v in prop.items() if k != "title"},
        }
        if "description" in prop:
            param["description"] = prop["description"]
        out.append(param)
    return out


def _plain_operation(path: str, route: Route) -> dict[str, Any]:
    doc = (getattr(route.endpoint, "__doc__", None) or "").strip()
    op: dict[str, Any] = {
        "operationId": route.name,
        "summary": doc.splitlines()[0] if doc else route.name,
        "responses": {"200": {"description": "OK"}},
    }
    params = _path_parameters(path)
    if params:
        op["parameters"] = params
    return op


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Response"
