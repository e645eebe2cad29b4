"""Bulk inserts: one ``INSERT ... SELECT FROM unnest(arrays)`` statement on PostgreSQL.

SQLAlchemy's executemany spends most of its time in Python per row and per parameter; for
thousands of rows PostgreSQL takes one array per column instead, which costs one bind per
column however many rows there are. SQLite keeps the ordinary executemany.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import JSON, Table, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import TypeDecorator

_PG = postgresql.dialect()  # type: ignore[no-untyped-call]


def _is_json(column_type: Any) -> bool:
    impl = column_type.impl if isinstance(column_type, TypeDecorator) else column_type
    variant = getattr(impl, "_variant_mapping", {}).get("postgresql", impl)
    return isinstance(impl, JSON) or isinstance(variant, JSON)


def _pg_array_type(column_type: Any) -> str:
    if _is_json(column_type):
        return "TEXT[]"
    return f"{column_type.compile(dialect=_PG)}[]"


async def bulk_insert(
    conn: AsyncConnection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    conflict_keys: Sequence[str] = (),
    returning: Sequence[str] = (),
) -> list[Row[Any]]:
    """Insert ``rows`` (all with the same keys); ``ON CONFLICT (keys) DO NOTHING`` if given.

    Returns the ``returning`` columns of the rows actually inserted.
    """
    if not rows:
        return []
    names = list(rows[0].keys())
    if conn.dialect.name != "postgresql":
        stmt: Any = table.insert()
        if conflict_keys:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            stmt = sqlite_insert(table).on_conflict_do_nothing(index_elements=list(conflict_keys))
        if returning:
            stmt = stmt.returning(*(table.c[name] for name in returning))
            return list((await conn.execute(stmt, [dict(r) for r in rows])).all())
        await conn.execute(stmt, [dict(r) for r in rows])
        return []
    params: dict[str, Any] = {}
    selects = []
    arrays = []
    for i, name in enumerate(names):
        column = table.c[name]
        values = [row[name] for row in rows]
        if _is_json(column.type):
            values = [None if v is None else json.dumps(v) for v in values]
            selects.append(f"CAST(c{i} AS JSONB)")
        else:
            selects.append(f"c{i}")
        params[f"p{i}"] = values
        arrays.append(f"CAST(:p{i} AS {_pg_array_type(column.type)})")
    sql = (
        f"INSERT INTO {table.name} ({', '.join(names)}) "
        f"SELECT {', '.join(selects)} FROM unnest({', '.join(arrays)}) "
        f"AS t({', '.join(f'c{i}' for i in range(len(names)))})"
    )
    if conflict_keys:
        sql += f" ON CONFLICT ({', '.join(conflict_keys)}) DO NOTHING"
    if returning:
        sql += f" RETURNING {', '.join(returning)}"
        return list((await conn.execute(text(sql), params)).all())
    await conn.execute(text(sql), params)
    return []
