"""Applying the alembic migrations from inside autoplat (CLI, start-up, tests).

Invariant: the migrations ship inside the package (``autoplat/migrations``) and alembic is
configured here, in code, so an installed wheel migrates from any working directory; no
``alembic.ini`` is read. On PostgreSQL every upgrade runs under one advisory lock, so
processes starting at once migrate the database once: the others wait, then find it
current. A database at a revision this code does not know (newer code migrated it) is
never touched: :class:`SchemaTooNew` stops the start with one line.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from autoplat.errors import ConfigError
from autoplat.logging import get_logger

log = get_logger("autoplat.db.migrate")

#: The migration scripts, inside the installed package.
MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"
#: Key of the PostgreSQL advisory lock held while migrating (any constant shared by every
#: autoplat process on the database; "autoplat" in ASCII).
MIGRATION_LOCK_KEY = 0x6175746F706C6174


class SchemaTooNew(ConfigError):
    """The database was migrated by newer code: this version must not run on it."""

    code = "schema_too_new"


def alembic_config() -> Config:
    """The alembic configuration, built in code around the packaged migrations."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    return cfg


def script_directory() -> ScriptDirectory:
    """The packaged migration scripts."""
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """The newest migration revision."""
    head = script_directory().get_current_head()
    assert head is not None
    return head


def known_revisions() -> set[str]:
    """Every revision this code ships."""
    return {rev.revision for rev in script_directory().walk_revisions()}


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Migrate the database up to ``revision``."""
    await _run(engine, lambda cfg: command.upgrade(cfg, revision))


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    """Migrate the database down to ``revision`` (``base`` empties it)."""
    await _run(engine, lambda cfg: command.downgrade(cfg, revision))


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at, or None when it was never migrated."""

    def read(conn: Connection) -> str | None:
        return MigrationContext.configure(conn).get_current_revision()

    async with engine.connect() as conn:
        return await conn.run_sync(read)


def _check_known(current: str | None) -> None:
    if current is not None and current not in known_revisions():
        raise SchemaTooNew(
            f"database schema is at revision {current}, newer than this autoplat "
            f"(newest {head_revision()}): upgrade autoplat"
        )


async def ensure_current(engine: AsyncEngine) -> None:
    """Raise ConfigError unless the database is at the newest revision."""
    current = await current_revision(engine)
    _check_known(current)
    head = head_revision()
    if current != head:
        state = "empty" if current is None else f"at revision {current}"
        raise ConfigError(
            f"database schema is {state}, expected {head}: run `autoplat migrate` "
            "(or serve with AUTOPLAT_MIGRATE_ON_START=true)"
        )


async def migrate_to_head(engine: AsyncEngine) -> tuple[str | None, str]:
    """Bring an empty or older database to the newest revision; (before, after).

    A database already current costs one read. On PostgreSQL the check and the upgrade
    run under a transaction-scoped advisory lock, so concurrent starts migrate once.
    """
    head = head_revision()
    before = await current_revision(engine)
    _check_known(before)
    if before == head:
        return before, head

    def locked_upgrade(conn: Connection) -> str | None:
        if conn.dialect.name == "postgresql":
            # Held until this transaction ends, i.e. after the upgrade committed: a process
            # that waited here then reads the new revision and does nothing.
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        now = MigrationContext.configure(conn).get_current_revision()
        _check_known(now)
        if now != head:
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        return now

    async with engine.begin() as conn:
        before = await conn.run_sync(locked_upgrade)
    if before != head:
        log.info("db.migrated", before=before, revision=head)
    return before, head


async def _run(engine: AsyncEngine, action: Callable[[Config], None]) -> None:
    cfg = alembic_config()

    def run(conn: Connection) -> None:
        cfg.attributes["connection"] = conn
        action(cfg)

    async with engine.begin() as conn:
        await conn.run_sync(run)
