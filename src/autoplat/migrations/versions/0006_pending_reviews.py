"""pending reviews: node executions waiting for a person's decision (human in the loop)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 18:25:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pending_reviews",
        sa.Column("node_exec_id", sa.String(length=36), nullable=False),
        sa.Column("graph_exec_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("graph_id", sa.String(length=36), nullable=False),
        sa.Column("graph_version", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("editable", sa.Boolean(), nullable=False),
        sa.Column("payload", JSON, nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reviewed_data", JSON, nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["graph_exec_id"],
            ["graph_executions.id"],
            name=op.f("fk_pending_reviews_graph_exec_id_graph_executions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("node_exec_id", name=op.f("pk_pending_reviews")),
    )
    op.create_index("ix_pending_reviews_run", "pending_reviews", ["graph_exec_id"], unique=False)
    op.create_index(
        "ix_pending_reviews_user",
        "pending_reviews",
        ["user_id", "status", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_pending_reviews_user", table_name="pending_reviews")
    op.drop_index("ix_pending_reviews_run", table_name="pending_reviews")
    op.drop_table("pending_reviews")
