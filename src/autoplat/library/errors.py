"""Errors of presets and shared runs, with stable codes."""

from __future__ import annotations

from autoplat.errors import Conflict, NotFound


class PresetNotFound(NotFound):
    """No preset with this id belongs to the caller."""

    code = "preset_not_found"


class ShareNotFound(NotFound):
    """No shared run has this token (never shared, or unshared since)."""

    code = "share_not_found"


class RunNotFinished(Conflict):
    """Only a finished run can be shared."""

    code = "execution_not_finished"
