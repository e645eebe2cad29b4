"""Pin declaration helper: a pydantic Field carrying the UI ``advanced`` flag of AutoGPT schemas."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import Field
from pydantic_core import PydanticUndefined


def pin(
    default: Any = PydanticUndefined,
    *,
    default_factory: Callable[[], Any] | None = None,
    advanced: bool | None = None,
    title: str | None = None,
    description: str | None = None,
    **schema_extra: Any,
) -> Any:
    """Declare a pin; like AutoGPT, a pin with a default is advanced unless told otherwise."""
    has_default = default is not PydanticUndefined or default_factory is not None
    extra: dict[str, Any] = {"advanced": has_default if advanced is None else advanced}
    extra.update(schema_extra)
    if default_factory is not None:
        # A concrete default shows up in the JSON schema; pydantic copies mutable defaults
        # for every instance, so nothing is shared between runs.
        default = default_factory()
    return Field(default, title=title, description=description, json_schema_extra=extra)
