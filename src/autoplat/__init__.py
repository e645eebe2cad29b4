"""autoplat: build and run AI agents as graphs of blocks, in one asyncio process."""

from __future__ import annotations

__version__ = "0.1.0"
