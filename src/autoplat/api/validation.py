"""Request parsing shared by every route: JSON bodies, query parameters and pagination."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError
from starlette.requests import Request

from autoplat.errors import BadRequest, ValidationFailed

ModelT = TypeVar("ModelT", bound=BaseModel)


class StrictBody(BaseModel):
    """Base of request bodies: unknown fields are an error that names the field."""

    model_config = ConfigDict(extra="forbid")


def field_errors(exc: PydanticValidationError, prefix: str = "") -> list[dict[str, Any]]:
    """Pydantic errors as ``{"field", "message", "type"}`` entries."""
    out = []
    for err in exc.errors():
        loc = ".".join(str(part) for part in err["loc"])
        out.append(
            {
                "field": f"{prefix}{loc}" if loc else prefix.rstrip(".") or "body",
                "message": err["msg"],
                "type": err["type"],
            }
        )
    return out


async def read_json(request: Request) -> Any:
    """The request body as JSON, or BadRequest saying why it is not."""
    body = await request.body()
    if not body:
        raise BadRequest("request body is empty; a JSON document is required")
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(
            f"request body is not valid JSON: {exc}",
            details=[{"field": "body", "message": str(exc)}],
        ) from None


async def parse_body(request: Request, model: type[ModelT]) -> ModelT:
    """Parse and validate the JSON body with ``model``; 422 with field errors otherwise."""
    data = await read_json(request)
    return validate_model(model, data, "body.")


def validate_model(model: type[ModelT], data: Any, prefix: str = "") -> ModelT:
    """Validate ``data`` with ``model``; 422 with field errors otherwise."""
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        details = field_errors(exc, prefix)
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
    return validate_model(model, dict(request.query_params), "query.")


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
