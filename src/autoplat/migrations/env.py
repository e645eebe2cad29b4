"""Alembic environment: runs on a connection handed over by autoplat, or opens its own."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from autoplat.config import load_settings
from autoplat.db.engine import create_engine
from autoplat.db.models import Base

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite needs table rebuilds for most ALTERs
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_standalone() -> None:
    engine = create_engine(load_settings())
    async with engine.begin() as conn:
        await conn.run_sync(_run)
    await engine.dispose()


given = context.config.attributes.get("connection")
if given is not None:
    _run(given)
elif context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; use `autoplat migrate`")
else:
    asyncio.run(_run_standalone())
