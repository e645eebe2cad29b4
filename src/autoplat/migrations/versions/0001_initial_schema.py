"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25 01:32:16.931486
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# JSON documents: JSONB on PostgreSQL, JSON text on SQLite (frozen here, not imported).
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "system_jobs",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_outcome", sa.String(length=16), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("details", JSON, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_system_jobs")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("preferences", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("head", sa.String(length=16), nullable=False),
        sa.Column("tail", sa.String(length=16), nullable=False),
        sa.Column("hash", sa.String(length=128), nullable=False),
        sa.Column("salt", sa.String(length=64), nullable=False),
        sa.Column("permissions", JSON, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("description", sa.String(length=1000), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_keys_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_keys_prefix")),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index("ix_api_keys_user_id", ["user_id"], unique=False)

    op.create_table(
        "credit_transactions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("running_balance", sa.BigInteger(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("metadata", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_credit_transactions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_transactions")),
    )
    with op.batch_alter_table("credit_transactions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_credit_transactions_user", ["user_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "uq_credit_transactions_key", ["user_id", "idempotency_key"], unique=True
        )

    op.create_table(
        "graph_executions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("graph_id", sa.String(length=36), nullable=False),
        sa.Column("graph_version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("inputs", JSON, nullable=False),
        sa.Column("outputs", JSON, nullable=False),
        sa.Column("stats", JSON, nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("parent_node_exec_id", sa.String(length=36), nullable=True),
        sa.Column("schedule_id", sa.String(length=36), nullable=True),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stop_requested", sa.Boolean(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_graph_executions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_graph_executions")),
    )
    with op.batch_alter_table("graph_executions", schema=None) as batch_op:
        batch_op.create_index("ix_graph_executions_graph", ["graph_id", "created_at"], unique=False)
        batch_op.create_index(
            "ix_graph_executions_runnable",
            ["created_at"],
            unique=False,
            postgresql_where=sa.text("status IN ('QUEUED', 'RUNNING')"),
            sqlite_where=sa.text("status IN ('QUEUED', 'RUNNING')"),
        )
        batch_op.create_index("ix_graph_executions_user", ["user_id", "created_at"], unique=False)

    op.create_table(
        "graphs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("instructions", sa.Text(), nullable=True),
        sa.Column("recommended_schedule_cron", sa.String(length=200), nullable=True),
        sa.Column("forked_from_id", sa.String(length=36), nullable=True),
        sa.Column("forked_from_version", sa.Integer(), nullable=True),
        sa.Column("nodes", JSON, nullable=False),
        sa.Column("links", JSON, nullable=False),
        sa.Column("sub_graph_refs", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_graphs_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", "version", name=op.f("pk_graphs")),
    )
    with op.batch_alter_table("graphs", schema=None) as batch_op:
        batch_op.create_index("ix_graphs_user_id", ["user_id", "id"], unique=False)

    op.create_table(
        "library_agents",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("graph_id", sa.String(length=36), nullable=False),
        sa.Column("graph_version", sa.Integer(), nullable=False),
        sa.Column("is_archived", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_library_agents_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_library_agents")),
    )
    with op.batch_alter_table("library_agents", schema=None) as batch_op:
        batch_op.create_index("ix_library_agents_user_id", ["user_id", "graph_id"], unique=True)

    op.create_table(
        "notifications",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_notifications_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index("ix_notifications_user", ["user_id", "created_at"], unique=False)

    op.create_table(
        "schedules",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("graph_id", sa.String(length=36), nullable=False),
        sa.Column("graph_version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("cron", sa.String(length=200), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("inputs", JSON, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("paused_reason", sa.Text(), nullable=True),
        sa.Column("fires_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_schedules_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedules")),
    )
    with op.batch_alter_table("schedules", schema=None) as batch_op:
        batch_op.create_index("ix_schedules_graph", ["graph_id"], unique=False)
        batch_op.create_index("ix_schedules_updated", ["updated_at"], unique=False)
        batch_op.create_index("ix_schedules_user", ["user_id"], unique=False)

    op.create_table(
        "user_balances",
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("balance >= 0", name=op.f("ck_user_balances_non_negative")),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_balances_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_user_balances")),
    )
    op.create_table(
        "node_executions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("graph_exec_id", sa.String(length=36), nullable=False),
        sa.Column("node_id", sa.String(length=36), nullable=False),
        sa.Column("block_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("input_data", JSON, nullable=False),
        sa.Column("output_data", JSON, nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("stats", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["graph_exec_id"],
            ["graph_executions.id"],
            name=op.f("fk_node_executions_graph_exec_id_graph_executions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_node_executions")),
    )
    with op.batch_alter_table("node_executions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_node_executions_run", ["graph_exec_id", "node_id", "seq"], unique=False
        )

    op.create_table(
        "schedule_fires",
        sa.Column("schedule_id", sa.String(length=36), nullable=False),
        sa.Column("fire_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("graph_exec_id", sa.String(length=36), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["schedules.id"],
            name=op.f("fk_schedule_fires_schedule_id_schedules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("schedule_id", "fire_time", name=op.f("pk_schedule_fires")),
    )


def downgrade() -> None:

    op.drop_table("schedule_fires")
    with op.batch_alter_table("node_executions", schema=None) as batch_op:
        batch_op.drop_index("ix_node_executions_run")

    op.drop_table("node_executions")
    op.drop_table("user_balances")
    with op.batch_alter_table("schedules", schema=None) as batch_op:
        batch_op.drop_index("ix_schedules_user")
        batch_op.drop_index("ix_schedules_updated")
        batch_op.drop_index("ix_schedules_graph")

    op.drop_table("schedules")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_notifications_user")

    op.drop_table("notifications")
    with op.batch_alter_table("library_agents", schema=None) as batch_op:
        batch_op.drop_index("ix_library_agents_user_id")

    op.drop_table("library_agents")
    with op.batch_alter_table("graphs", schema=None) as batch_op:
        batch_op.drop_index("ix_graphs_user_id")

    op.drop_table("graphs")
    with op.batch_alter_table("graph_executions", schema=None) as batch_op:
        batch_op.drop_index("ix_graph_executions_user")
        batch_op.drop_index(
            "ix_graph_executions_runnable",
            postgresql_where=sa.text("status IN ('QUEUED', 'RUNNING')"),
            sqlite_where=sa.text("status IN ('QUEUED', 'RUNNING')"),
        )
        batch_op.drop_index("ix_graph_executions_graph")

    op.drop_table("graph_executions")
    with op.batch_alter_table("credit_transactions", schema=None) as batch_op:
        batch_op.drop_index("uq_credit_transactions_key")
        batch_op.drop_index("ix_credit_transactions_user")

    op.drop_table("credit_transactions")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_api_keys_user_id")

    op.drop_table("api_keys")
    op.drop_table("users")
    op.drop_table("system_jobs")
