"""The one place where errors become HTTP responses: ``{"error": {code, message, details}}``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy.exc import DataError, DBAPIError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from autoplat.errors import AutoplatError, RunRateLimited
from autoplat.logging import get_logger

log = get_logger("autoplat.api")

_HTTP_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
}


class ErrorInfo(BaseModel):
    """What went wrong: a stable machine code and a human message."""

    code: str = Field(examples=["graph_not_found"])
    message: str
    details: list[dict[str, Any]] = Field(default_factory=list)


class ErrorResponse(BaseModel):
    """The body of every error response."""

    error: ErrorInfo


def error_body(
    code: str, message: str, details: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The JSON error envelope used by every route and the WebSocket."""
    return {"error": {"code": code, "message": message, "details": details or []}}


def error_response(exc: AutoplatError) -> JSONResponse:
    """The response for one of our errors."""
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
    if isinstance(exc, RunRateLimited):
        headers["Retry-After"] = str(exc.retry_after)
    return JSONResponse(
        error_body(exc.code, exc.message, exc.details), status_code=exc.status, headers=headers
    )


async def handle_autoplat_error(request: Request, exc: Exception) -> Response:
    """Map an AutoplatError subclass to its status and code."""
    assert isinstance(exc, AutoplatError)
    if exc.status >= 500:
        log.error("api.error", code=exc.code, error=exc.message, path=request.url.path)
    return error_response(exc)


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own errors (unknown route, wrong method) in our envelope."""
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        # Starlette names only the first matching route's methods; there is one route per
        # method here, so collect those of the path's operations.
        headers["Allow"] = ", ".join(allowed_methods(request))
    return JSONResponse(
        error_body(code, str(exc.detail)), status_code=exc.status_code, headers=headers
    )


def allowed_methods(request: Request) -> list[str]:
    """The methods of the route this request's path belongs to, by OpenAPI's precedence
    (a concrete segment wins over a templated one): exactly the document's methods."""
    from autoplat.api.endpoint import app_path, route_table

    return route_table(request.app).allowed(app_path(request.scope))


async def handle_data_error(request: Request, exc: Exception) -> Response:
    """The database refused a value (too long, out of range): the input's fault, so 422.

    ``OverflowError`` is what SQLite's driver raises for an integer beyond 64 bits.

    Routes should validate such limits themselves; this is the safety net that keeps a
    missed limit from becoming a 500, logged so that the missing validation gets added.
    """
    log.warning(
        "api.data_error",
        path=request.url.path,
        error=(str(exc).splitlines() or [type(exc).__name__])[0],
    )
    return JSONResponse(
        error_body("validation_error", "a value is out of range for the database"),
        status_code=422,
    )


async def handle_database_error(request: Request, exc: Exception) -> Response:
    """A driver error: a value the driver could not encode is a 422, anything else a bug."""
    if isinstance(exc, DataError) or _is_unencodable_argument(exc):
        return await handle_data_error(request, exc)
    return await handle_unexpected(request, exc)


def _is_unencodable_argument(exc: BaseException) -> bool:
    # asyncpg refuses such values client-side ("invalid input for query argument $3: ...
    # value out of int32 range") with a DataError (the public class in current asyncpg, the
    # one in ``_base`` in older ones) caused by an OverflowError, which SQLAlchemy wraps
    # generically.
    from asyncpg.exceptions import DataError
    from asyncpg.exceptions._base import DataError as BaseDataError

    refused = (DataError, BaseDataError, OverflowError)

    seen: BaseException | None = exc
    for _ in range(5):
        seen = getattr(seen, "orig", None) or (seen.__cause__ if seen else None)
        if seen is None:
            return False
        if isinstance(seen, refused):
            return True
    return False


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    """A bug: log it with its traceback and answer 500 without leaking internals."""
    log.error("api.unhandled", path=request.url.path, method=request.method, exc_info=exc)
    return JSONResponse(error_body("internal_error", "internal server error"), status_code=500)


EXCEPTION_HANDLERS: dict[Any, Any] = {
    AutoplatError: handle_autoplat_error,
    HTTPException: handle_http_exception,
    DBAPIError: handle_database_error,
    OverflowError: handle_data_error,
    Exception: handle_unexpected,
}
