"""The migrations build exactly the models' schema, and go down and up again cleanly."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from autoplat.db import migrate
from autoplat.db.engine import create_engine
from autoplat.db.models import Base
from autoplat.testing import make_settings


def _diff(conn: Connection) -> list[Any]:
    context = MigrationContext.configure(conn, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def _tables(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names()) - {"alembic_version"}


async def test_migrated_schema_matches_models(autoplat_database_url: str, tmp_path: Any) -> None:
    engine = create_engine(make_settings(autoplat_database_url, tmp_path))
    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(_diff) == []
            assert await conn.run_sync(_tables) == set(Base.metadata.tables)
    finally:
        await engine.dispose()


async def test_upgrade_downgrade_upgrade(autoplat_database_url: str, tmp_path: Any) -> None:
    engine = create_engine(make_settings(autoplat_database_url, tmp_path))
    try:
        assert await migrate.current_revision(engine) == migrate.head_revision()
        await migrate.downgrade(engine, "base")
        assert await migrate.current_revision(engine) is None
        async with engine.connect() as conn:
            assert await conn.run_sync(_tables) == set()
        await migrate.upgrade(engine)
        assert await migrate.current_revision(engine) == migrate.head_revision()
        async with engine.connect() as conn:
            assert await conn.run_sync(_diff) == []
    finally:
        await engine.dispose()
