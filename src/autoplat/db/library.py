"""Data methods for the library: the graphs a user keeps, and archiving (deactivating) them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, func, select, update

from autoplat.db.models import GraphVersion, LibraryAgent
from autoplat.db.types import utcnow

if TYPE_CHECKING:
    from autoplat.db.manager import DatabaseManager


@dataclass(frozen=True, slots=True)
class LibraryEntry:
    """A library agent with the name and description of the graph version it points at."""

    id: str
    graph_id: str
    graph_version: int
    name: str
    description: str
    is_archived: bool
    created_at: datetime
    updated_at: datetime
    is_favorite: bool = False
    use_graph_is_active_version: bool = True
    #: The graph's settings document (the review safe modes); None: the defaults.
    settings: dict[str, Any] | None = None


def _entries() -> tuple[Any, ...]:
    return (
        LibraryAgent.id,
        LibraryAgent.graph_id,
        LibraryAgent.graph_version,
        GraphVersion.name,
        GraphVersion.description,
        LibraryAgent.is_archived,
        LibraryAgent.created_at,
        LibraryAgent.updated_at,
        LibraryAgent.is_favorite,
        LibraryAgent.use_graph_is_active_version,
        LibraryAgent.settings,
    )


# The version row a library entry shows: the one it points at.
_JOIN = and_(
    GraphVersion.id == LibraryAgent.graph_id, GraphVersion.version == LibraryAgent.graph_version
)


class LibraryStore:
    """Data methods for library agents."""

    def __init__(self, db: DatabaseManager) -> None:
        self.db = db

    async def list(
        self, user_id: str, *, include_archived: bool = False, offset: int = 0, limit: int = 50
    ) -> tuple[list[LibraryEntry], int]:
        """A page of the user's library, newest first, and how many entries match."""
        where = [LibraryAgent.user_id == user_id]
        if not include_archived:
            where.append(LibraryAgent.is_archived.is_(False))
        stmt = (
            select(*_entries())
            .join(GraphVersion, _JOIN)
            .where(*where)
            .order_by(LibraryAgent.created_at.desc(), LibraryAgent.id)
            .offset(offset)
            .limit(limit)
        )
        count = select(func.count()).select_from(LibraryAgent).where(*where)
        async with self.db.begin() as conn:
            total = (await conn.execute(count)).scalar_one()
            rows = (await conn.execute(stmt)).all()
        return [LibraryEntry(*row) for row in rows], int(total)

    async def get(self, user_id: str, entry_id: str) -> LibraryEntry | None:
        """One of the user's library entries, or None (also for another user's)."""
        stmt = (
            select(*_entries())
            .join(GraphVersion, _JOIN)
            .where(LibraryAgent.id == entry_id, LibraryAgent.user_id == user_id)
        )
        async with self.db.begin() as conn:
            row = (await conn.execute(stmt)).first()
        return LibraryEntry(*row) if row is not None else None

    async def graph_settings(self, user_id: str, graph_id: str) -> dict[str, Any] | None:
        """The settings document of the user's library entry of a graph; None when the user
        keeps no such entry, ``{}`` when nothing was set."""
        async with self.db.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(LibraryAgent.settings).where(
                        LibraryAgent.user_id == user_id, LibraryAgent.graph_id == graph_id
                    )
                )
            ).first()
        if row is None:
            return None
        return dict(row.settings or {})

    async def set_graph_settings(
        self, user_id: str, graph_id: str, document: dict[str, Any]
    ) -> bool:
        """Store the settings document of the user's entry of a graph; False without one."""
        async with self.db.begin() as conn:
            result = await conn.execute(
                update(LibraryAgent)
                .where(LibraryAgent.user_id == user_id, LibraryAgent.graph_id == graph_id)
                .values(settings=document, updated_at=utcnow())
            )
        return bool(result.rowcount)

    async def set_favorite(self, user_id: str, entry_id: str, favorite: bool) -> None:
        """Mark or unmark the user's entry as a favourite."""
        async with self.db.begin() as conn:
            await conn.execute(
                update(LibraryAgent)
                .where(LibraryAgent.id == entry_id, LibraryAgent.user_id == user_id)
                .values(is_favorite=favorite, updated_at=utcnow())
            )

    async def set_version(self, user_id: str, entry_id: str, version: int | None) -> bool:
        """Pin the entry to ``version`` (one of the graph's), or follow the active one (None).

        False when the graph has no such version (or the user no such entry).
        """
        async with self.db.begin() as conn:
            graph_id = await conn.scalar(
                select(LibraryAgent.graph_id).where(
                    LibraryAgent.id == entry_id, LibraryAgent.user_id == user_id
                )
            )
            if graph_id is None:
                return False
            versions = select(GraphVersion.version).where(
                GraphVersion.id == graph_id, GraphVersion.user_id == user_id
            )
            if version is None:
                versions = versions.order_by(
                    GraphVersion.is_active.desc(), GraphVersion.version.desc()
                ).limit(1)
            else:
                versions = versions.where(GraphVersion.version == version)
            target = await conn.scalar(versions)
            if target is None:
                return False
            await conn.execute(
                update(LibraryAgent)
                .where(LibraryAgent.id == entry_id, LibraryAgent.user_id == user_id)
                .values(
                    graph_version=target,
                    use_graph_is_active_version=version is None,
                    updated_at=utcnow(),
                )
            )
        return True

    async def set_archived(self, user_id: str, entry_id: str, archived: bool) -> bool:
        """Archive (deactivate) or restore an entry; False when the user has no such entry.

        Archiving deactivates the graph: its schedules are deleted in the same transaction,
        so an archived agent never runs on its own again.
        """
        async with self.db.begin() as conn:
            graph_id = (
                await conn.execute(
                    update(LibraryAgent)
                    .where(LibraryAgent.id == entry_id, LibraryAgent.user_id == user_id)
                    .values(is_archived=archived, updated_at=utcnow())
                    .returning(LibraryAgent.graph_id)
                )
            ).scalar_one_or_none()
            if graph_id is None:
                return False
            if archived:
                await self.db.schedules.delete_for_graph(graph_id, user_id=user_id, conn=conn)
            return True
