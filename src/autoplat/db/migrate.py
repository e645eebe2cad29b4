"""Applying the alembic migrations from inside autoplat (CLI, start-up checks, tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from autoplat.errors import ConfigError

# The repository root holds alembic.ini and migrations/ (the package is installed editable).
REPO_ROOT = Path(__file__).resolve().parents[3]


def alembic_config() -> Config:
    """The alembic configuration of the repository."""
    ini = REPO_ROOT / "alembic.ini"
    if not ini.exists():
        raise ConfigError(f"alembic.ini not found at {ini}; install autoplat from its repository")
    return Config(str(ini))


def head_revision() -> str:
    """The newest migration revision."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


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


async def ensure_current(engine: AsyncEngine) -> None:
    """Raise ConfigError unless the database is at the newest revision."""
    current = await current_revision(engine)
    head = head_revision()
    if current != head:
        state = "empty" if current is None else f"at revision {current}"
        raise ConfigError(
            f"database schema is {state}, expected {head}: run `autoplat migrate` first"
        )


async def _run(engine: AsyncEngine, action: object) -> None:
    cfg = alembic_config()

    def run(conn: Connection) -> None:
        cfg.attributes["connection"] = conn
        action(cfg)  # type: ignore[operator]

    async with engine.begin() as conn:
        await conn.run_sync(run)
