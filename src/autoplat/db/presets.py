"""Data methods of presets (``db.presets``): named inputs and credentials for a graph version.

Invariant: every method names the owner and filters on it, so one user's presets are never
read, changed or deleted through another's call.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Row, Table, delete, func, select, tuple_, update

from autoplat.db.models import AgentPreset
from autoplat.db.types import utcnow

if TYPE_CHECKING:
    from autoplat.db.manager import DatabaseManager

PRESETS = cast(Table, AgentPreset.__table__)
#: Fields a PATCH may change.
EDITABLE = frozenset({"name", "description", "inputs", "credentials", "is_active", "graph_version"})


@dataclass(frozen=True, slots=True)
class Preset:
    """One stored preset."""

    id: str
    user_id: str
    graph_id: str
    graph_version: int
    name: str
    description: str
    inputs: dict[str, Any]
    credentials: dict[str, Any]
    is_active: bool
    webhook_id: str | None
    created_at: datetime
    updated_at: datetime


def _preset(row: Row[Any]) -> Preset:
    return Preset(
        row.id,
        row.user_id,
        row.graph_id,
        row.graph_version,
        row.name,
        row.description,
        dict(row.inputs or {}),
        dict(row.credentials or {}),
        bool(row.is_active),
        row.webhook_id,
        row.created_at,
        row.updated_at,
    )


class PresetStore:
    """Data methods of presets."""

    def __init__(self, db: DatabaseManager) -> None:
        self.db = db

    async def create(
        self,
        user_id: str,
        *,
        graph_id: str,
        graph_version: int,
        name: str,
        description: str = "",
        inputs: Mapping[str, Any] | None = None,
        credentials: Mapping[str, Any] | None = None,
        is_active: bool = True,
        webhook_id: str | None = None,
    ) -> Preset:
        """Store a new preset."""
        now = utcnow()
        values = {
            "id": str(uuid.uuid4()),
            "user_id": user_id,
            "graph_id": graph_id,
            "graph_version": graph_version,
            "name": name,
            "description": description,
            "inputs": dict(inputs or {}),
            "credentials": dict(credentials or {}),
            "is_active": is_active,
            "webhook_id": webhook_id,
            "created_at": now,
            "updated_at": now,
        }
        async with self.db.begin() as conn:
            await conn.execute(PRESETS.insert().values(**values))
        found = await self.get(user_id, str(values["id"]))
        assert found is not None
        return found

    async def get(self, user_id: str, preset_id: str) -> Preset | None:
        """The user's preset, or None."""
        async with self.db.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(PRESETS).where(PRESETS.c.id == preset_id, PRESETS.c.user_id == user_id)
                )
            ).one_or_none()
        return None if row is None else _preset(row)

    async def get_many(self, owned: Iterable[tuple[str, str]]) -> dict[str, Preset]:
        """The presets named by (user id, preset id) pairs, by id (missing ones left out)."""
        pairs = sorted(set(owned))
        if not pairs:
            return {}
        async with self.db.engine.connect() as conn:
            rows = await conn.execute(
                select(PRESETS).where(tuple_(PRESETS.c.user_id, PRESETS.c.id).in_(pairs))
            )
            return {row.id: _preset(row) for row in rows}

    async def by_webhook(self, webhook_id: str) -> Preset | None:
        """The preset a webhook starts (the webhook's owner's)."""
        async with self.db.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(PRESETS).where(PRESETS.c.webhook_id == webhook_id).limit(1)
                )
            ).one_or_none()
        return None if row is None else _preset(row)

    async def list_for(
        self, user_id: str, *, graph_id: str | None = None, offset: int = 0, limit: int = 50
    ) -> tuple[list[Preset], int]:
        """A page of the user's presets (newest change first) and the total."""
        conditions = [PRESETS.c.user_id == user_id]
        if graph_id is not None:
            conditions.append(PRESETS.c.graph_id == graph_id)
        async with self.db.engine.connect() as conn:
            total = await conn.scalar(select(func.count()).select_from(PRESETS).where(*conditions))
            rows = await conn.execute(
                select(PRESETS)
                .where(*conditions)
                .order_by(PRESETS.c.updated_at.desc(), PRESETS.c.id)
                .offset(offset)
                .limit(limit)
            )
            return [_preset(r) for r in rows], int(total or 0)

    async def update(
        self, user_id: str, preset_id: str, changes: Mapping[str, Any]
    ) -> Preset | None:
        """Change the given fields of the user's preset; None when it does not exist."""
        values = {k: v for k, v in changes.items() if k in EDITABLE}
        async with self.db.begin() as conn:
            result = await conn.execute(
                update(PRESETS)
                .where(PRESETS.c.id == preset_id, PRESETS.c.user_id == user_id)
                .values(**values, updated_at=utcnow())
            )
        if result.rowcount != 1:
            return None
        return await self.get(user_id, preset_id)

    async def delete(self, user_id: str, preset_id: str) -> Preset | None:
        """Delete the user's preset; the deleted preset, or None.

        Schedules that read it are paused in the same transaction, each keeping a copy of
        the preset's last inputs under its own overrides (resuming runs them without the
        preset's credentials); the foreign key's SET NULL is the database's backstop.
        """
        found = await self.get(user_id, preset_id)
        if found is None:
            return None
        async with self.db.begin() as conn:
            await self.db.schedules.detach_preset(conn, found.id, found.user_id, found.inputs)
            await conn.execute(
                delete(PRESETS).where(PRESETS.c.id == preset_id, PRESETS.c.user_id == user_id)
            )
        return found
