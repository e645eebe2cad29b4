"""Data methods of webhook triggers (``db.webhooks``): ingress webhooks and their deliveries.

Invariant: a webhook's secret is stored only as its SHA-256 digest and shown once, when the
webhook is made; a delivery id is claimed by one INSERT on the (webhook, delivery id) key
before its run is submitted, so a redelivery — even a concurrent one — starts no second run.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from autoplat.db.models import IntegrationWebhook, WebhookDelivery
from autoplat.db.types import utcnow

if TYPE_CHECKING:
    from autoplat.db.manager import DatabaseManager

WEBHOOKS = cast(Table, IntegrationWebhook.__table__)
DELIVERIES = cast(Table, WebhookDelivery.__table__)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Webhook:
    """A stored webhook (its secret's digest stays in the store)."""

    id: str
    user_id: str
    provider: str
    _secret_sha256: str

    def accepts(self, secret: str | None) -> bool:
        """Whether ``secret`` is this webhook's (constant-time)."""
        return secret is not None and hmac.compare_digest(_digest(secret), self._secret_sha256)


class WebhookStore:
    """Data methods of webhook triggers."""

    def __init__(self, db: DatabaseManager) -> None:
        self.db = db

    async def create(self, user_id: str, provider: str) -> tuple[Webhook, str]:
        """A new webhook and its secret (the only time the secret is known in clear)."""
        secret = secrets.token_urlsafe(32)
        values = {
            "id": str(uuid.uuid4()),
            "user_id": user_id,
            "provider": provider,
            "secret_sha256": _digest(secret),
            "created_at": utcnow(),
        }
        async with self.db.begin() as conn:
            await conn.execute(WEBHOOKS.insert().values(**values))
        return Webhook(str(values["id"]), user_id, provider, str(values["secret_sha256"])), secret

    async def get(self, webhook_id: str, provider: str) -> Webhook | None:
        """The webhook with this id for this provider."""
        async with self.db.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(WEBHOOKS).where(
                        WEBHOOKS.c.id == webhook_id, WEBHOOKS.c.provider == provider
                    )
                )
            ).one_or_none()
        return (
            None if row is None else Webhook(row.id, row.user_id, row.provider, row.secret_sha256)
        )

    async def delete(self, user_id: str, webhook_id: str) -> None:
        """Delete the user's webhook (its deliveries go with it)."""
        async with self.db.begin() as conn:
            await conn.execute(
                delete(WEBHOOKS).where(WEBHOOKS.c.id == webhook_id, WEBHOOKS.c.user_id == user_id)
            )

    async def claim_delivery(self, webhook_id: str, delivery_id: str) -> tuple[bool, str | None]:
        """Claim a delivery id: (True, None) for the first claim, else (False, its run id)."""
        insert: Any = pg_insert if self.db.is_postgres else sqlite_insert
        async with self.db.begin() as conn:
            inserted = await conn.execute(
                insert(DELIVERIES)
                .values(webhook_id=webhook_id, delivery_id=delivery_id, created_at=utcnow())
                .on_conflict_do_nothing(index_elements=["webhook_id", "delivery_id"])
            )
            if inserted.rowcount == 1:
                return True, None
            run_id = await conn.scalar(
                select(DELIVERIES.c.graph_exec_id).where(
                    DELIVERIES.c.webhook_id == webhook_id, DELIVERIES.c.delivery_id == delivery_id
                )
            )
        return False, None if run_id is None else str(run_id)

    async def record_run(self, webhook_id: str, delivery_id: str, graph_exec_id: str) -> None:
        """The run a claimed delivery started."""
        async with self.db.begin() as conn:
            await conn.execute(
                update(DELIVERIES)
                .where(
                    DELIVERIES.c.webhook_id == webhook_id, DELIVERIES.c.delivery_id == delivery_id
                )
                .values(graph_exec_id=graph_exec_id)
            )

    async def release_delivery(self, webhook_id: str, delivery_id: str) -> None:
        """Forget a claim whose run could not start, so the provider's retry may start it."""
        async with self.db.begin() as conn:
            await conn.execute(
                delete(DELIVERIES).where(
                    DELIVERIES.c.webhook_id == webhook_id, DELIVERIES.c.delivery_id == delivery_id
                )
            )
