"""Data methods for graph versions and library entries."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter
from sqlalchemy import Select, Text, cast, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import defer

from autoplat.db.models import GraphVersion, LibraryAgent
from autoplat.db.types import utcnow
from autoplat.errors import Conflict
from autoplat.graphs import catalog
from autoplat.graphs.model import Graph, Link, Node

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from autoplat.db.manager import DatabaseManager

# Two writers racing for the same next version number: the loser retries with a fresh read.
_VERSION_RACE_ATTEMPTS = 5


def _select_graphs() -> Select[GraphVersion, str, str]:
    """Graph versions with their nodes and links as JSON text, parsed by :func:`_to_graph`."""
    return select(
        GraphVersion, cast(GraphVersion.nodes, Text), cast(GraphVersion.links, Text)
    ).options(defer(GraphVersion.nodes), defer(GraphVersion.links))


@functools.cache
def _parsers() -> tuple[TypeAdapter[list[Node]], TypeAdapter[list[Link]]]:
    return TypeAdapter(list[Node]), TypeAdapter(list[Link])


def _to_graph(row: GraphVersion, nodes_json: str, links_json: str) -> Graph:
    # Parsed straight from the stored text: no intermediate dicts, and pydantic's string
    # cache loads each repeated id, block id and pin name once (a 10,000-node graph names
    # each node id up to three times and its block ids and pin names thousands of times).
    nodes, links = _parsers()
    return Graph(
        id=row.id,
        version=row.version,
        is_active=row.is_active,
        name=row.name,
        description=row.description,
        instructions=row.instructions,
        recommended_schedule_cron=row.recommended_schedule_cron,
        forked_from_id=row.forked_from_id,
        forked_from_version=row.forked_from_version,
        user_id=row.user_id,
        created_at=row.created_at,
        nodes=nodes.validate_json(nodes_json),
        links=links.validate_json(links_json),
    )


def sub_graph_refs(graph: Graph) -> list[dict[str, Any]]:
    """``[{"id", "version"}]`` of the graphs this graph's sub-agent nodes run, de-duplicated."""
    refs: list[dict[str, Any]] = []
    for node in graph.nodes:
        if not catalog.is_agent_executor(node):
            continue
        graph_id, version = (
            node.input_default.get("graph_id"),
            node.input_default.get("graph_version"),
        )
        ref = {"id": graph_id, "version": version}
        if isinstance(graph_id, str) and isinstance(version, int) and ref not in refs:
            refs.append(ref)
    return refs


def _row_values(graph: Graph) -> dict[str, Any]:
    return {
        "name": graph.name,
        "description": graph.description,
        "instructions": graph.instructions,
        "recommended_schedule_cron": graph.recommended_schedule_cron,
        "forked_from_id": graph.forked_from_id,
        "forked_from_version": graph.forked_from_version,
        "nodes": [n.model_dump(mode="json") for n in graph.nodes],
        "links": [link.model_dump(mode="json") for link in graph.links],
        "sub_graph_refs": sub_graph_refs(graph),
    }


class GraphStore:
    """Data methods for graph versions and library entries."""

    def __init__(self, db: DatabaseManager) -> None:
        self.db = db

    async def create_version(self, user_id: str, graph: Graph, *, activate: bool = True) -> Graph:
        """Store ``graph`` as the next version of ``graph.id`` (version 1 if it is new).

        The caller validates the graph first; this only persists it. When ``activate`` is
        set, the new version becomes the only active one. A ``graph.id`` owned by another
        user is replaced by a fresh id (never revealing the other graph).
        """
        stored = await self.create_graphs(user_id, [graph], activate=activate)
        return stored[0]

    async def create_graphs(
        self, user_id: str, graphs: Sequence[Graph], *, activate: bool = True
    ) -> list[Graph]:
        """Store several graph versions in one transaction (an import with its sub-graphs)."""
        for attempt in range(_VERSION_RACE_ATTEMPTS):
            try:
                async with self.db.session() as session:
                    stored = [await self._insert(session, user_id, g, activate) for g in graphs]
                    await session.flush()
                return stored
            except IntegrityError:
                if attempt == _VERSION_RACE_ATTEMPTS - 1:
                    raise Conflict("the graph was changed concurrently; try again") from None
        raise AssertionError("unreachable")

    async def _insert(
        self, session: AsyncSession, user_id: str, graph: Graph, activate: bool
    ) -> Graph:
        latest = (
            await session.execute(
                select(func.max(GraphVersion.version)).where(GraphVersion.id == graph.id)
            )
        ).scalar_one_or_none()
        if latest is not None:
            owner = (
                await session.execute(
                    select(GraphVersion.user_id).where(GraphVersion.id == graph.id).limit(1)
                )
            ).scalar_one()
            if owner != user_id:
                graph = graph.model_copy(update={"id": str(uuid.uuid4())})
                latest = None
        version = (latest or 0) + 1
        if activate and latest is not None:
            await session.execute(
                update(GraphVersion).where(GraphVersion.id == graph.id).values(is_active=False)
            )
        row = GraphVersion(
            id=graph.id,
            version=version,
            user_id=user_id,
            is_active=activate or latest is None,
            created_at=utcnow(),
            **_row_values(graph),
        )
        session.add(row)
        # Flush now so a racing writer's identical (id, version) fails inside the retry loop.
        await session.flush()
        library = (
            await session.execute(
                select(LibraryAgent).where(
                    LibraryAgent.user_id == user_id, LibraryAgent.graph_id == graph.id
                )
            )
        ).scalar_one_or_none()
        if library is None:
            session.add(
                LibraryAgent(
                    id=str(uuid.uuid4()),
                    user_id=user_id,
                    graph_id=graph.id,
                    graph_version=version,
                )
            )
        elif row.is_active and library.use_graph_is_active_version:
            library.graph_version = version  # a pinned entry keeps its version
        # The stored version is the given graph with the row's fields: re-reading the row's
        # JSON would build a second copy of every node and link (tens of MB for a big graph).
        return graph.model_copy(
            update={
                "id": row.id,
                "version": row.version,
                "is_active": row.is_active,
                "user_id": user_id,
                "created_at": row.created_at,
                "sub_graphs": [],
            }
        )

    async def get(
        self, graph_id: str, version: int | None = None, *, user_id: str | None = None
    ) -> Graph | None:
        """A graph version (the active one when ``version`` is None), optionally owner-checked."""
        stmt = _select_graphs().where(GraphVersion.id == graph_id)
        if user_id is not None:
            stmt = stmt.where(GraphVersion.user_id == user_id)
        if version is not None:
            stmt = stmt.where(GraphVersion.version == version)
        else:
            stmt = stmt.order_by(GraphVersion.is_active.desc(), GraphVersion.version.desc())
        async with self.db.session() as session:
            found = (await session.execute(stmt.limit(1))).one_or_none()
            return _to_graph(*found) if found is not None else None

    async def owner_of(self, graph_id: str) -> str | None:
        """The user owning ``graph_id``, or None when no such graph exists."""
        stmt = select(GraphVersion.user_id).where(GraphVersion.id == graph_id).limit(1)
        async with self.db.session() as session:
            return (await session.execute(stmt)).scalar_one_or_none()

    async def sub_graph_refs(
        self, graph_id: str, version: int, *, user_id: str | None = None
    ) -> list[dict[str, Any]] | None:
        """The stored sub-graph references of one version (None if there is no such version)."""
        stmt = select(GraphVersion.sub_graph_refs).where(
            GraphVersion.id == graph_id, GraphVersion.version == version
        )
        if user_id is not None:
            stmt = stmt.where(GraphVersion.user_id == user_id)
        async with self.db.session() as session:
            refs = (await session.execute(stmt)).scalar_one_or_none()
            return list(refs) if refs is not None else None

    async def list_versions(
        self, graph_id: str, *, user_id: str, offset: int = 0, limit: int | None = None
    ) -> list[Graph]:
        """Versions of a graph owned by ``user_id``, newest first."""
        stmt = (
            _select_graphs()
            .where(GraphVersion.id == graph_id, GraphVersion.user_id == user_id)
            .order_by(GraphVersion.version.desc())
            .offset(offset)
            .limit(limit)
        )
        async with self.db.session() as session:
            return [_to_graph(*found) for found in (await session.execute(stmt)).all()]

    async def count_versions(self, graph_id: str, *, user_id: str) -> int:
        """How many versions of a graph ``user_id`` owns (0 when none or not theirs)."""
        stmt = (
            select(func.count())
            .select_from(GraphVersion)
            .where(GraphVersion.id == graph_id, GraphVersion.user_id == user_id)
        )
        async with self.db.session() as session:
            return int((await session.execute(stmt)).scalar_one())

    async def list_graphs(
        self, *, user_id: str, offset: int = 0, limit: int = 50
    ) -> tuple[list[Graph], int]:
        """The active version of each of the user's graphs, newest first, and the total."""
        where = (GraphVersion.user_id == user_id, GraphVersion.is_active.is_(True))
        stmt = (
            _select_graphs()
            .where(*where)
            .order_by(GraphVersion.created_at.desc(), GraphVersion.id)
            .offset(offset)
            .limit(limit)
        )
        async with self.db.session() as session:
            total = (
                await session.execute(select(func.count()).select_from(GraphVersion).where(*where))
            ).scalar_one()
            rows = (await session.execute(stmt)).all()
            return [_to_graph(*found) for found in rows], int(total)

    async def set_active(self, graph_id: str, version: int, *, user_id: str) -> bool:
        """Make ``version`` the active one; False when it does not exist for this user."""
        async with self.db.session() as session:
            exists = (
                await session.execute(
                    select(GraphVersion.version).where(
                        GraphVersion.id == graph_id,
                        GraphVersion.version == version,
                        GraphVersion.user_id == user_id,
                    )
                )
            ).scalar_one_or_none()
            if exists is None:
                return False
            await session.execute(
                update(GraphVersion)
                .where(GraphVersion.id == graph_id)
                .values(is_active=GraphVersion.version == version)
            )
            await session.execute(
                update(LibraryAgent)
                .where(
                    LibraryAgent.graph_id == graph_id,
                    LibraryAgent.user_id == user_id,
                    LibraryAgent.use_graph_is_active_version.is_(True),
                )
                .values(graph_version=version)
            )
            return True

    async def delete(self, graph_id: str, *, user_id: str) -> int:
        """Delete every version of a graph; return how many versions were removed."""
        async with self.db.session() as session:
            result = await session.execute(
                delete(GraphVersion).where(
                    GraphVersion.id == graph_id, GraphVersion.user_id == user_id
                )
            )
            await session.execute(
                delete(LibraryAgent).where(
                    LibraryAgent.graph_id == graph_id, LibraryAgent.user_id == user_id
                )
            )
            # A deleted graph's schedules go with it, in the same transaction.
            await self.db.schedules.delete_for_graph(
                graph_id, user_id=user_id, conn=await session.connection()
            )
            return int(getattr(result, "rowcount", 0) or 0)
