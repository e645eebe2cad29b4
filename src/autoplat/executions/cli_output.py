"""What ``autoplat run`` shares between its local and client modes: the import cache, the
progress lines on stderr and the final report on stdout.

Invariant: stdout gets exactly one JSON object (the ended run's outputs), written only by
:func:`report`; everything else goes to stderr.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from autoplat.cli import EXIT_FAILURE

if TYPE_CHECKING:
    from autoplat.blocks.registry import BlockRegistry

#: How often a follower re-reads the run while no event arrives: a run can end where this
#: process cannot hear it (another process on SQLite, a closed WebSocket).
RECHECK_SECONDS: Final = 2.0


class ImportCache:
    """Which graph (id, version) each file content became, per database or server.

    Best effort: a cache that cannot be read or written only means importing again. The
    graphs it names are always checked before use (another user, a deleted graph: gone).
    """

    #: Entries kept (the least recently used go first).
    LIMIT = 500

    def __init__(self, path: Path | None = None) -> None:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        self.path = path or Path(base) / "autoplat" / "imports.json"

    @staticmethod
    def digest(document: Any) -> str:
        """The content hash of a graph document (key order and spacing do not count)."""
        canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def lookup(self, scope: str, digest: str) -> list[tuple[str, int]]:
        """The graphs recorded for this content in ``scope``, newest first."""
        entry = self._load().get(f"{scope} {digest}")
        if not isinstance(entry, dict) or not isinstance(entry.get("graphs"), list):
            return []
        return [
            (str(g[0]), int(g[1]))
            for g in entry["graphs"]
            if isinstance(g, list) and len(g) == 2 and isinstance(g[1], int)
        ]

    def remember(self, scope: str, digest: str, graphs: list[tuple[str, int]]) -> None:
        """Record (or, with an empty list, forget) the graphs of this content in ``scope``."""
        data = self._load()
        key = f"{scope} {digest}"
        if graphs:
            data[key] = {"graphs": [list(g) for g in graphs[:5]], "used": time.time()}
        else:
            data.pop(key, None)
        if len(data) > self.LIMIT:
            ranked = sorted(data, key=lambda k: float(data[k].get("used", 0)), reverse=True)
            data = {k: data[k] for k in ranked[: self.LIMIT]}
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            partial = self.path.with_name(f".{self.path.name}.{os.getpid()}")
            partial.write_text(json.dumps(data), encoding="utf-8")
            os.replace(partial, self.path)


def report(final: dict[str, Any]) -> int:
    """Print the outputs (stdout) and a failure line (stderr); the exit code."""
    print(json.dumps(final.get("outputs") or {}, indent=2, default=str))
    status = str(final.get("status"))
    if status != "COMPLETED":
        error = final.get("error")
        # A stopped run (--timeout) has no error to add: no dangling colon then.
        print(f"autoplat: run {status}" + (f": {error}" if error else ""), file=sys.stderr)
        return EXIT_FAILURE
    return 0


def progress(line: str, quiet: bool) -> None:
    if not quiet:
        print(line, file=sys.stderr, flush=True)


class Progress:
    """Progress lines on stderr: one per status change of the run and of each node."""

    def __init__(self, quiet: bool, blocks: Callable[[], BlockRegistry] | None = None) -> None:
        self.quiet = quiet
        self._blocks_of = blocks
        self._blocks: BlockRegistry | None = None

    def line(self, text: str) -> None:
        """Print one progress line (unless quiet)."""
        progress(text, self.quiet)

    def event(self, kind: str, data: dict[str, Any]) -> None:
        """The line of one event of the run (graph or node)."""
        if self.quiet:
            return
        status = str(data.get("status"))
        if kind == "graph":
            stats = data.get("stats") or {}
            extra = f" in {stats['walltime']:.3f} s" if "walltime" in stats else ""
            self.line(f"run {status}{extra}")
            return
        if status == "RUNNING" and data.get("output_data"):
            return  # one line per status change, not per output
        error = f": {data['error']}" if data.get("error") else ""
        node_id = str(data.get("node_id"))[:8]
        self.line(
            f"  {status:<10} {self._block_name(str(data.get('block_id')))} ({node_id}){error}"
        )

    def _block_name(self, block_id: str) -> str:
        if self._blocks is None:
            # A client knows the builtin blocks by id (the server's have the same ids).
            from autoplat.blocks.registry import BlockRegistry

            self._blocks = self._blocks_of() if self._blocks_of else BlockRegistry.builtin()
        block = self._blocks.get(block_id)
        return block.name if block is not None else block_id
