"""Declaring a route once: its models, permission and docs, for Starlette AND OpenAPI.

How a route module declares its routes::

    from autoplat.api.endpoint import endpoint
    from autoplat.api.context import current_principal
    from autoplat.api.validation import StrictBody, parse_body, page_of, paginated

    class CreateGraph(StrictBody):          # request body: extra fields are a 422
        name: str

    class GraphOut(BaseModel):              # response model (what the handler returns)
        id: str
        name: str

    @endpoint("POST", "/graphs", body=CreateGraph, response=GraphOut,
              permission="WRITE_GRAPH", summary="Create a graph", tags=["graphs"],
              errors=[409])
    async def create_graph(request: Request) -> GraphOut:
        principal = await current_principal(request)       # already checked: cached
        body = await parse_body(request, CreateGraph)      # already parsed: cached
        ...
        return GraphOut(id=..., name=...)

    @endpoint("GET", "/graphs", response=GraphOut, paginated=True, permission="READ_GRAPH",
              summary="List graphs", tags=["graphs"])
    async def list_graphs(request: Request) -> dict[str, Any]:
        page = page_of(request)
        return paginated(items, total, page)               # items: GraphOut or dicts

    def routes() -> list[BaseRoute]:
        return [create_graph, list_graphs]                # the decorator made ApiRoutes

What ``@endpoint`` does before calling the handler, in this order:

1. authenticates the caller (unless ``auth=False``), checks ``permission`` (403) and
   ``admin`` (403), and caches the Principal for ``current_principal(request)``;
2. applies the per-user run rate limit when ``rate_limited=True`` (429);
3. validates ``path_params`` (a :class:`~autoplat.api.validation.PathModel` of path parameters,
   for types and constraints such as ``version: int = Field(ge=1)``: a template takes no
   convertor such as ``{version:int}``, which would answer a bare 404 where a 422 naming
   ``path.version`` is due), ``query`` (a pydantic model of query parameters),
   pagination (``page``, ``page_size``) when ``paginated=True``, and ``body``; each is
   cached so that the handler's own ``parse_path``/``parse_body``/``parse_query``/``page_of``
   calls return the same object.

A handler that reads the body must declare it (``body=``; a ``RootModel`` for a bare JSON
object such as a block's inputs): an undeclared body is, for the document, no body at all.

Routing follows OpenAPI's precedence: a concrete path segment wins over a templated one
(``/admin/credits/grant`` is never ``/admin/credits/{user_id}`` with ``user_id="grant"``),
so a method the concrete path lacks is a 405 whose ``Allow`` names exactly its methods.

The handler takes the Request and returns either a Starlette ``Response`` (sent as is) or
data: a pydantic model, dict or list, validated against ``response`` (or against the
pagination envelope of ``response`` items when ``paginated=True``) and sent as JSON with
``status``. ``response=None`` with ``status=204`` sends an empty body.

``autoplat.api.openapi`` reads ``ApiRoute.spec`` to write ``/openapi.json``; so every
model named here is both what the route validates with and what the spec documents.
Error statuses are documented from the declaration (401 when authenticated, 404 when
the path has parameters, 413/415 with a body, 400/403/422 always, 429 when rate limited;
403 because local mode refuses foreign Host names and cross-origin browsers everywhere);
add others the handler may raise (402, 409, 415 when it reads a body itself, ...) with
``errors=[...]``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, TypeAdapter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match, Route, compile_path
from starlette.types import Scope

from autoplat.accounts.permissions import check_permission_name
from autoplat.api.context import current_principal, get_platform
from autoplat.api.validation import (
    Page,
    cache_parsed,
    page_of,
    parse_body,
    parse_path,
    parse_query,
)

Handler = Callable[[Request], Awaitable[Any]]

HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
#: A template parameter with a Starlette convertor other than ``path`` (``{version:int}``).
_CONVERTED = re.compile(r"{(\w+):(?!path})\w+}")


@dataclass(frozen=True)
class EndpointSpec:
    """Everything the OpenAPI generator and the request pipeline know about one route."""

    method: str
    path: str
    summary: str
    description: str = ""
    tags: tuple[str, ...] = ()
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    path_params: type[BaseModel] | None = None
    response: Any = None
    status: int = 200
    paginated: bool = False
    auth: bool = True
    permission: str | None = None
    admin: bool = False
    rate_limited: bool = False
    errors: tuple[int, ...] = ()
    operation_id: str = ""
    upload: str | None = None
    validates: str = ""
    validates_status: int = 422
    keeps: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def response_adapter(self) -> TypeAdapter[Any] | None:
        """The adapter that validates and serialises what the handler returns."""
        if self.response is None:
            return None
        if self.paginated:
            return TypeAdapter(paginated_model(self.response))
        return TypeAdapter(self.response)


@functools.cache
def paginated_model(item: Any) -> type[BaseModel]:
    """The list envelope ``{"items": [...], "pagination": {...}}`` for ``item``."""
    from pydantic import create_model

    name = getattr(item, "__name__", "Item")
    model: type[BaseModel] = create_model(
        f"{name}Page", items=(list[item], ...), pagination=(Pagination, ...)
    )
    return model


class Pagination(BaseModel):
    """Where a page sits in a list."""

    total_items: int
    total_pages: int
    current_page: int
    page_size: int


class ApiRoute(Route):
    """A Starlette Route carrying its EndpointSpec (read by the OpenAPI generator).

    It gives way to a more specific route of the same app whose template matches the
    path (OpenAPI's precedence: concrete segments first), so the request reaches exactly
    the operation the document names for that path.
    """

    spec: EndpointSpec

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        if match is Match.NONE or scope.get("type") != "http" or "app" not in scope:
            return match, child_scope
        table = route_table(scope["app"])
        path = app_path(scope)
        for shadow in table.shadows.get(id(self), ()):
            if shadow.match(path):
                return Match.NONE, {}
        return match, child_scope


@dataclass(frozen=True)
class RouteTable:
    """The app's HTTP routes by full template, for precedence and ``Allow`` headers."""

    entries: tuple[tuple[str, re.Pattern[str], frozenset[str]], ...]
    #: id(route) -> regexes of the more specific templates that shadow it.
    shadows: dict[int, tuple[re.Pattern[str], ...]]

    def allowed(self, path: str) -> list[str]:
        """The methods of the most specific template(s) matching ``path``."""
        matching = [(t, m) for t, regex, m in self.entries if regex.match(path)]
        if not matching:
            return []
        best = max(_specificity(t) for t, _ in matching)
        methods: set[str] = set()
        for template, route_methods in matching:
            if _specificity(template) == best:
                methods |= route_methods
        return sorted(methods)


def route_table(app: Any) -> RouteTable:
    """The (cached) route table of a Starlette app."""
    state = getattr(app, "state", None)
    table = getattr(state, "route_table", None) if state is not None else None
    if isinstance(table, RouteTable):
        return table
    from autoplat.api.openapi import walk_routes

    found = list(walk_routes(list(getattr(app, "routes", [])), hidden=True))
    entries = tuple(
        (template, compile_path(template)[0], frozenset(route.methods or {"GET", "HEAD"}))
        for template, route in found
    )
    shadows: dict[int, tuple[re.Pattern[str], ...]] = {}
    for template, route in found:
        mine = _specificity(template)
        shadows[id(route)] = tuple(
            regex
            for other, regex, _ in entries
            if other != template
            and len(_specificity(other)) == len(mine)
            and _specificity(other) > mine
        )
    table = RouteTable(entries=entries, shadows=shadows)
    if state is not None:
        state.route_table = table
    return table


def app_path(scope: Scope) -> str:
    """The request path relative to the app (without a deployment's root path)."""
    path = str(scope.get("path", ""))
    root = str(scope.get("app_root_path", ""))
    if root and path.startswith(root):
        path = path[len(root) :]
    return path


def _specificity(template: str) -> tuple[int, ...]:
    """Per path segment, 1 when concrete, 0 when templated; ``{x:path}`` ranks below all."""
    if ":path}" in template:
        return (-1,)
    return tuple(0 if "{" in segment else 1 for segment in template.split("/"))


def endpoint(
    method: str,
    path: str,
    *,
    summary: str,
    description: str = "",
    tags: Sequence[str] = (),
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    path_params: type[BaseModel] | None = None,
    response: Any = None,
    status: int = 200,
    paginated: bool = False,
    auth: bool = True,
    permission: str | None = None,
    admin: bool = False,
    rate_limited: bool = False,
    errors: Sequence[int] = (),
    operation_id: str = "",
    upload: str | None = None,
    validates: str = "",
    validates_status: int = 422,
    keeps: str = "",
) -> Callable[[Handler], ApiRoute]:
    """Declare a route: ``@endpoint("GET", "/graphs/{graph_id}", response=..., ...)``.

    ``upload="file"``: the body is ``multipart/form-data`` with that file part (the handler
    reads it; 413/415 are documented). ``validates="..."``: what the handler checks beyond
    any JSON Schema can say (a graph's blocks and links, a cron expression, run inputs
    against the graph's input schema, an upload's content against its declared type),
    answered with ``validates_status`` (422 unless said); the document states it in that
    response and as ``x-validates-beyond-schema: {"status", "when"}``, so that a client (and
    the fuzz test) knows that a schema-valid request of this operation may still be refused.
    ``keeps="..."`` (a DELETE only): what stays readable after it succeeds and why (AutoGPT
    revokes an API key and keeps it listed); the document says it as ``x-keeps-resource``.
    """
    if keeps and method.upper() != "DELETE":
        raise ValueError("only a DELETE keeps what it deletes")
    if body is not None and upload is not None:
        raise ValueError("a route takes a JSON body or an upload, not both")
    method = method.upper()
    if method not in HTTP_METHODS:
        raise ValueError(f"unsupported HTTP method {method!r}")
    if permission is not None:
        check_permission_name(permission)
    converted = _CONVERTED.search(path)
    if converted is not None:
        # A convertor turns a mistyped parameter into a bare 404 (no route matches), where
        # every other bad input is a 422 naming its field: type it in ``path_params``.
        raise ValueError(
            f"{path}: declare {converted.group(1)!r} in path_params instead of a convertor"
        )

    def decorate(handler: Handler) -> ApiRoute:
        spec = EndpointSpec(
            method=method,
            path=path,
            summary=summary,
            description=description or (handler.__doc__ or "").strip(),
            tags=tuple(tags),
            body=body,
            query=query,
            path_params=path_params,
            response=response,
            status=status,
            paginated=paginated,
            auth=auth,
            permission=permission,
            admin=admin,
            rate_limited=rate_limited,
            errors=tuple(errors),
            operation_id=operation_id or handler.__name__,
            upload=upload,
            validates=validates,
            validates_status=validates_status,
            keeps=keeps,
        )
        adapters: list[TypeAdapter[Any] | None] = []  # built on first use, not at import

        async def run(request: Request) -> Response:
            await _prepare(request, spec)
            result = await handler(request)
            if isinstance(result, Response):
                return result
            if not adapters:
                adapters.append(spec.response_adapter())
            adapter = adapters[0]
            if status == 204 or (result is None and adapter is None):
                return Response(status_code=status if status != 200 else 204)
            if adapter is None:
                return JSONResponse(result, status_code=status)
            data = adapter.dump_python(adapter.validate_python(result), mode="json")
            return JSONResponse(data, status_code=status)

        run.__name__ = handler.__name__
        run.__doc__ = handler.__doc__
        route = ApiRoute(path, run, methods=[method], name=spec.operation_id)
        route.spec = spec
        return route

    return decorate


async def _prepare(request: Request, spec: EndpointSpec) -> None:
    """Authenticate, rate-limit and validate inputs before the handler runs."""
    if spec.auth:
        principal = await current_principal(request, spec.permission)
        if spec.admin:
            principal.require_admin()
        if spec.rate_limited:
            get_platform(request).rate_limiter.check(principal.user_id)
    if spec.path_params is not None:
        cache_parsed(request, spec.path_params, parse_path(request, spec.path_params))
    if spec.query is not None:
        cache_parsed(request, spec.query, parse_query(request, spec.query))
    if spec.paginated:
        page: Page = page_of(request)
        cache_parsed(request, Page, page)
    if spec.body is not None:
        cache_parsed(request, spec.body, await parse_body(request, spec.body))
