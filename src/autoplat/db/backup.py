"""``autoplat backup FILE`` and ``autoplat restore FILE``: the embedded SQLite database.

Invariants: a backup is taken with SQLite's online backup API (a consistent snapshot while
a server keeps writing; it copies in steps, off the event loop) into a temporary file that
is renamed into place only once complete and checked, so FILE is either a whole database
or absent. A restore only ever fills an empty data dir: it never overwrites a database.
The local-mode encryption key (``<data dir>/encryption.key``) travels beside the backup as
``FILE.key`` (mode 0600), because the credentials in the database are useless without it;
the stored files' contents in the data dir (``<data dir>/files``) travel as ``FILE.files``,
copied after the snapshot, because its file rows are useless without them (a file stored
since is an unreferenced extra). An operator's own file directory or bucket is theirs to
back up.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sqlite3
import sys
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from autoplat.config import Settings
from autoplat.db.engine import create_private
from autoplat.errors import AutoplatError, ConfigError

#: Pages copied per step of the backup API: writers get the database between steps.
PAGES_PER_STEP = 4096
KEY_FILE_NAME = "encryption.key"
#: The stored files' directory in the data dir (the default AUTOPLAT_FILE_STORAGE_URL).
FILES_DIR_NAME = "files"


class BackupFailed(AutoplatError):
    """A backup or restore could not be made (nothing was written in its place)."""

    code = "backup_failed"


def sqlite_path(settings: Settings) -> Path:
    """The file of the embedded database; ConfigError when it is not SQLite."""
    url = make_url(settings.resolved_database_url)
    if not url.drivername.startswith("sqlite"):
        raise ConfigError(
            "backup and restore copy the embedded SQLite database; for PostgreSQL use "
            "pg_dump and pg_restore"
        )
    if not url.database or url.database == ":memory:":
        raise ConfigError("an in-memory database has nothing to back up")
    return Path(url.database).resolve()


def _copy(source: Path, target: Path) -> None:
    """Copy one SQLite database into a new file with the backup API (blocking)."""
    src = sqlite3.connect(source, timeout=30)
    try:
        create_private(target)  # a backup holds what the database holds
        dst = sqlite3.connect(target)
        try:
            src.backup(dst, pages=PAGES_PER_STEP)
            # The copy is a plain file: no WAL beside it, so one file is the whole backup.
            dst.execute("PRAGMA journal_mode=DELETE")
            if dst.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise BackupFailed(f"the copy of {source} does not pass SQLite's quick_check")
        finally:
            dst.close()
    finally:
        src.close()


def _revision(path: Path) -> str | None:
    """The alembic revision a database file is at (None: not an autoplat database)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError:
        return None
    finally:
        conn.close()
    return str(row[0]) if row else None


def _blank_database(path: Path) -> set[Path]:
    """The files of ``path`` when it is a database without a single table, else nothing.

    A command run in a new data dir before anything else (``autoplat runs list``) leaves
    such a file behind; it holds nothing, so a restore may take its place.
    """
    if not path.is_file():
        return set()
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return set()
    if tables:
        return set()
    return {path, *(path.with_name(path.name + s) for s in ("-wal", "-shm", "-journal"))}


def _data_dir_files(settings: Settings) -> Path | None:
    """The data dir's stored-files directory, when files are kept there and it exists."""
    if settings.file_storage_url.strip():
        return None
    files = settings.data_dir / FILES_DIR_NAME
    return files if files.is_dir() else None


def _copy_files(source: Path, target: Path) -> int:
    """Copy the blobs under ``source`` into the new directory ``target``; how many."""
    copied = 0
    for folder, _, names in os.walk(source):
        into = target / Path(folder).relative_to(source)
        into.mkdir(parents=True, exist_ok=True, mode=0o700)
        for name in names:
            if name.startswith(".incoming-"):  # a blob still being written: not stored yet
                continue
            try:
                shutil.copy2(Path(folder) / name, into / name)
            except FileNotFoundError:  # deleted (expired) while copying: gone anyway
                continue
            copied += 1
    return copied


def _backup_files(settings: Settings, target: Path) -> dict[str, Any]:
    """Copy the data dir's stored files beside the backup as ``FILE.files``."""
    files = _data_dir_files(settings)
    if files is None:
        return {}
    copy = target.with_name(target.name + ".files")
    partial = target.with_name(f".{target.name}.files.partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        count = _copy_files(files, partial)
        shutil.rmtree(copy, ignore_errors=True)  # --force: the older copy goes with its backup
        os.replace(partial, copy)
    except OSError as exc:
        raise BackupFailed(f"cannot copy the stored files {files}: {exc}") from None
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return {"files": str(copy), "file_count": count}


def _write_key(key: Path, target: Path) -> None:
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key.read_bytes())


def backup(settings: Settings, target: Path, *, force: bool = False) -> dict[str, Any]:
    """Write an online backup of the database to ``target`` (blocking); what was written."""
    source = sqlite_path(settings)
    if not source.is_file():
        raise BackupFailed(f"there is no database at {source}")
    target = target.resolve()
    if target == source:
        raise BackupFailed("the backup cannot replace the database itself")
    if target.exists() and not force:
        raise BackupFailed(f"{target} exists already (--force replaces it)")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        _copy(source, partial)
        revision = _revision(partial)
        os.replace(partial, target)
    except sqlite3.Error as exc:
        raise BackupFailed(f"cannot back up {source}: {exc}") from None
    finally:
        partial.unlink(missing_ok=True)
    written: dict[str, Any] = {
        "backup": str(target),
        "database": str(source),
        "revision": revision,
        "bytes": target.stat().st_size,
    }
    written.update(_backup_files(settings, target))
    key = settings.data_dir / KEY_FILE_NAME
    if not settings.encryption_key.get_secret_value() and key.is_file():
        _write_key(key, target.with_name(target.name + ".key"))
        written["key"] = str(target.with_name(target.name + ".key"))
    return written


def restore(settings: Settings, source: Path) -> dict[str, Any]:
    """Put the backup ``source`` in place as the database of an empty data dir (blocking)."""
    from autoplat.db.migrate import SchemaTooNew, head_revision, known_revisions

    target = sqlite_path(settings)
    source = source.resolve()
    if not source.is_file():
        raise BackupFailed(f"there is no backup at {source}")
    revision = _revision(source)
    if revision is None:
        raise BackupFailed(f"{source} is not an autoplat database backup")
    if revision not in known_revisions():
        raise SchemaTooNew(
            f"the backup is at revision {revision}, newer than this autoplat "
            f"(newest {head_revision()}): upgrade autoplat"
        )
    data_dir = target.parent
    blank = _blank_database(target)
    if data_dir.exists() and any(p not in blank for p in data_dir.iterdir()):
        raise BackupFailed(
            f"{data_dir} is not empty: restore fills an empty data dir only (never "
            "replaces a database); point AUTOPLAT_DATA_DIR at a new directory"
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    try:
        _copy(source, partial)
        for path in blank:
            path.unlink(missing_ok=True)
        os.replace(partial, target)
    except sqlite3.Error as exc:
        raise BackupFailed(f"cannot restore {source}: {exc}") from None
    finally:
        partial.unlink(missing_ok=True)
    restored: dict[str, Any] = {"database": str(target), "revision": revision}
    files = source.with_name(source.name + ".files")
    if files.is_dir() and not settings.file_storage_url.strip():
        try:
            _copy_files(files, settings.data_dir / FILES_DIR_NAME)
        except OSError as exc:
            raise BackupFailed(f"cannot restore the stored files {files}: {exc}") from None
        restored["files"] = str(settings.data_dir / FILES_DIR_NAME)
    key = source.with_name(source.name + ".key")
    if key.is_file():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        local_key = settings.data_dir / KEY_FILE_NAME
        if not local_key.exists():
            _write_key(key, local_key)
            restored["key"] = str(local_key)
    return restored


# --- commands ---------------------------------------------------------------------------


def register(subparsers: Any) -> None:
    """Add ``backup FILE`` and ``restore FILE`` to the parser."""
    from autoplat.cli import add_common

    p = subparsers.add_parser(
        "backup",
        help="make an online backup of the embedded SQLite database",
        description="Copy the SQLite database (AUTOPLAT_DATA_DIR/autoplat.db, or the sqlite "
        "URL) to FILE with SQLite's online backup API: consistent while a server keeps "
        "running. The local-mode encryption key, when there is one, is written beside it as "
        "FILE.key (mode 0600; keep it as safe as the key itself), and the stored files of the "
        "data dir are copied to the directory FILE.files. For PostgreSQL use pg_dump.",
    )
    add_common(p)
    p.add_argument("file", metavar="FILE", help="the backup file to write")
    p.add_argument("--force", action="store_true", help="replace FILE if it exists")
    p.set_defaults(func=cmd_backup)

    p = subparsers.add_parser(
        "restore",
        help="put a backup back into an empty data dir",
        description="Restore FILE (made by `autoplat backup`) as the database of an empty "
        "data dir (AUTOPLAT_DATA_DIR); a data dir that holds anything is refused. FILE.key, "
        "when present, becomes the data dir's encryption key, and FILE.files its stored files.",
    )
    add_common(p)
    p.add_argument("file", metavar="FILE", help="the backup file to restore")
    p.set_defaults(func=cmd_restore)


def cmd_backup(args: argparse.Namespace) -> int:
    """``autoplat backup FILE``."""
    from autoplat.cli import emit_json, run_command

    async def body(settings: Settings) -> int:
        written = await asyncio.to_thread(backup, settings, Path(args.file), force=args.force)
        emit_json(written)
        if "key" in written:
            print(
                f"autoplat: the encryption key was written to {written['key']}: "
                "keep it apart and safe",
                file=sys.stderr,
            )
        return 0

    return run_command(args, body)


def cmd_restore(args: argparse.Namespace) -> int:
    """``autoplat restore FILE``."""
    from autoplat.cli import emit_json, run_command

    async def body(settings: Settings) -> int:
        emit_json(await asyncio.to_thread(restore, settings, Path(args.file)))
        return 0

    return run_command(args, body)
