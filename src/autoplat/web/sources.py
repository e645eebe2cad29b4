"""The hash of the web app's sources, recorded in the bundle when ``make ui`` builds it.

``python -m autoplat.web.sources UI_DIR DIST_DIR`` writes ``DIST_DIR/SOURCE_HASH``; a test
compares it with the hash of ``ui/`` today, so a change to the sources without a rebuild
fails the suite.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterator
from pathlib import Path

#: The file in the bundle directory that holds the hash of the sources it was built from.
HASH_FILE = "SOURCE_HASH"
#: Not sources: installed packages, build output and intermediate files.
_SKIP_DIRS = frozenset({"node_modules", "dist", ".vite"})
_SKIP_FILES = frozenset({"openapi.json", "tsconfig.tsbuildinfo"})


def source_files(ui_dir: Path) -> Iterator[Path]:
    """Every source file under ``ui_dir``, in a stable order."""
    for path in sorted(ui_dir.rglob("*")):
        rel = path.relative_to(ui_dir)
        if any(part in _SKIP_DIRS or part.startswith(".") for part in rel.parts):
            continue
        if path.is_file() and path.name not in _SKIP_FILES:
            yield path


def source_hash(ui_dir: Path) -> str:
    """sha256 over each source file's relative path and bytes."""
    digest = hashlib.sha256()
    for path in source_files(ui_dir):
        digest.update(path.relative_to(ui_dir).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def main(argv: list[str] | None = None) -> int:
    """Record the hash of UI_DIR's sources in DIST_DIR."""
    ui_dir, dist_dir = (Path(a) for a in (sys.argv[1:] if argv is None else argv))
    (dist_dir / HASH_FILE).write_text(source_hash(ui_dir) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
