"""KeyValueStore: AutoGPT's ``get_execution_kv_data`` / ``set_execution_kv_data``, per user.

Invariants: every statement is keyed by ``(user_id, key)``, so a user's runs read and write
only that user's values (the run-bound view, ``for_node``, fixes the user once and for all).
Values are JSON documents of at most ``kv_max_value_bytes`` (encoded), and a user holds at
most ``kv_max_keys`` keys; both are refused before anything is written.

AutoGPT's semantics are kept, quirks included: storing ``None`` keeps the key with a null
value, and a stored value that is falsy (``0``, ``""``, ``[]``, ``false``) reads back as
``None``, on ``get`` and in what ``set`` returns.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from autoplat.db.models import ExecutionKeyValue
from autoplat.db.models.kv import KEY_LENGTH
from autoplat.db.storable import clean
from autoplat.db.types import utcnow
from autoplat.errors import BlockRunError

if TYPE_CHECKING:
    from autoplat.db.manager import DatabaseManager

_KV = cast(Table, ExecutionKeyValue.__table__)


class KeyValueTooLarge(BlockRunError):
    """A value (or key) is over the store's size limit."""

    code = "kv_value_too_large"


class KeyValueQuotaExceeded(BlockRunError):
    """The user already holds as many keys as one user may."""

    code = "kv_quota_exceeded"


def _readback(data: Any) -> Any:
    # AutoGPT answers None for every falsy stored document.
    return data if data else None


class KeyValueStore:
    """Data methods of the key-value store (a store of DatabaseManager: ``db.kv``)."""

    def __init__(self, db: DatabaseManager) -> None:
        self.db = db

    @property
    def _limits(self) -> tuple[int, int]:
        settings = self.db.settings
        return (
            int(getattr(settings, "kv_max_value_bytes", 1_000_000)),
            int(getattr(settings, "kv_max_keys", 10_000)),
        )

    async def get_execution_kv_data(self, user_id: str, key: str) -> Any | None:
        """The value of ``user_id``'s ``key``, or None (also for falsy values, as AutoGPT)."""
        async with self.db.engine.connect() as conn:
            data = await conn.scalar(
                select(_KV.c.data).where(_KV.c.user_id == user_id, _KV.c.key == key)
            )
        return _readback(data)

    async def set_execution_kv_data(
        self, user_id: str, node_exec_id: str, key: str, data: Any
    ) -> Any | None:
        """Store ``data`` under ``user_id``'s ``key`` (upsert); returns what reads back."""
        max_bytes, max_keys = self._limits
        if len(key) > KEY_LENGTH:
            raise KeyValueTooLarge(f"the key is longer than {KEY_LENGTH} characters")
        stored = clean(data)
        size = len(json.dumps(stored, ensure_ascii=False, default=str).encode())
        if size > max_bytes:
            raise KeyValueTooLarge(
                f"the value is {size} bytes; the key-value store keeps at most {max_bytes}"
            )
        now = utcnow()
        insert = pg_insert if self.db.is_postgres else sqlite_insert
        statement = insert(_KV).values(
            user_id=user_id,
            key=key,
            node_exec_id=node_exec_id or None,
            data=stored,
            created_at=now,
            updated_at=now,
        )
        statement = statement.on_conflict_do_update(
            index_elements=["user_id", "key"],
            set_={"node_exec_id": node_exec_id or None, "data": stored, "updated_at": now},
        )
        async with self.db.begin() as conn:
            exists = await conn.scalar(
                select(func.count()).where(_KV.c.user_id == user_id, _KV.c.key == key)
            )
            if not exists:
                held = await conn.scalar(
                    select(func.count()).select_from(_KV).where(_KV.c.user_id == user_id)
                )
                if int(held or 0) >= max_keys:
                    raise KeyValueQuotaExceeded(
                        f"the key-value store keeps at most {max_keys} keys per user"
                    )
            await conn.execute(statement)
        return _readback(stored)

    def for_node(self, user_id: str, node_exec_id: str = "") -> UserKeyValues:
        """The view one block run gets (BlockContext.kv): bound to its user and node run."""
        return UserKeyValues(self, user_id, node_exec_id)


@dataclass(frozen=True, slots=True)
class UserKeyValues:
    """A KeyValueAccess bound to one user (and the node execution that writes)."""

    store: KeyValueStore
    user_id: str
    node_exec_id: str

    async def get(self, key: str) -> Any:
        return await self.store.get_execution_kv_data(self.user_id, key)

    async def set(self, key: str, value: Any) -> Any:
        return await self.store.set_execution_kv_data(self.user_id, self.node_exec_id, key, value)
