"""Shared test set-up: the platform fixtures of autoplat.testing."""

from __future__ import annotations

pytest_plugins = ["autoplat.testing"]
