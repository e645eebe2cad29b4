"""graph_executions.credentials_inputs: the credential references a run was started with

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 18:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("graph_executions") as batch:
        batch.add_column(
            sa.Column("credentials_inputs", JSON, nullable=False, server_default=sa.text("'{}'"))
        )


def downgrade() -> None:
    with op.batch_alter_table("graph_executions") as batch:
        batch.drop_column("credentials_inputs")
