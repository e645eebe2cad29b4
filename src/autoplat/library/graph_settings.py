"""A graph's settings in its owner's library: AutoGPT's two review safe modes.

Invariant: the stored document may be missing or hold nulls (a library entry made before
the setting existed); reading it always gives both modes, each falling back to AutoGPT's
default — human-in-the-loop reviews on, reviews of sensitive actions off. Only the owner's
library entry holds them, so only the owner's runs read them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field


class GraphSettings(BaseModel):
    """The safe modes of one graph (answer of ``PATCH /graphs/{id}/settings``)."""

    human_in_the_loop_safe_mode: bool = Field(
        default=True,
        description="HumanInTheLoopBlock nodes wait for a person; off, they approve at once",
    )
    sensitive_action_safe_mode: bool = Field(
        default=False,
        description="blocks flagged as sensitive actions (sending e-mail, posting...) wait "
        "for a person's approval before they run",
    )

    def changed(self, changes: Mapping[str, bool | None]) -> GraphSettings:
        """These settings with the given modes changed (None: left as it is)."""
        given = {k: v for k, v in changes.items() if k in type(self).model_fields and v is not None}
        return self.model_copy(update=given)

    @classmethod
    def from_document(cls, document: Mapping[str, Any] | None) -> GraphSettings:
        """The settings a stored document says (nulls and unknown keys ignored)."""
        known = {
            name: value
            for name, value in (document or {}).items()
            if name in cls.model_fields and isinstance(value, bool)
        }
        return cls(**known)
