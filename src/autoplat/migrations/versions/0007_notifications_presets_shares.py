"""notifications delivery (dedupe keys, e-mail outbox, batches, user state), presets,
webhook triggers and their deliveries, shared runs; library agents' favourite and
version-pinning flags

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 18:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# JSON documents: JSONB on PostgreSQL, JSON text on SQLite (frozen here, not imported).
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("library_agents", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("is_favorite", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "use_graph_is_active_version",
                sa.Boolean(),
                server_default=sa.true(),
                nullable=False,
            )
        )
    op.create_table(
        "notification_keys",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("notification_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_notification_keys")),
    )
    op.create_table(
        "agent_presets",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("graph_id", sa.String(length=36), nullable=False),
        sa.Column("graph_version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("inputs", JSON, nullable=False),
        sa.Column("credentials", JSON, nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("webhook_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_agent_presets_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_presets")),
    )
    with op.batch_alter_table("agent_presets", schema=None) as batch_op:
        batch_op.create_index("ix_agent_presets_user", ["user_id", "updated_at"], unique=False)

    op.create_table(
        "integration_webhooks",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("secret_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_integration_webhooks_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_integration_webhooks")),
    )
    with op.batch_alter_table("integration_webhooks", schema=None) as batch_op:
        batch_op.create_index("ix_integration_webhooks_user", ["user_id"], unique=False)

    op.create_table(
        "notification_emails",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("to_address", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_notification_emails_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_emails")),
    )
    with op.batch_alter_table("notification_emails", schema=None) as batch_op:
        batch_op.create_index(
            "ix_notification_emails_status", ["status", "created_at"], unique=False
        )
        batch_op.create_index("ix_notification_emails_user", ["user_id", "sent_at"], unique=False)

    op.create_table(
        "notification_user_state",
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("unsubscribe_token", sa.String(length=64), nullable=False),
        sa.Column("zero_balance_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_notification_user_state_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_notification_user_state")),
        sa.UniqueConstraint(
            "unsubscribe_token", name=op.f("uq_notification_user_state_unsubscribe_token")
        ),
    )
    op.create_table(
        "execution_shares",
        sa.Column("graph_exec_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["graph_exec_id"],
            ["graph_executions.id"],
            name=op.f("fk_execution_shares_graph_exec_id_graph_executions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_execution_shares_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("graph_exec_id", name=op.f("pk_execution_shares")),
        sa.UniqueConstraint("token", name=op.f("uq_execution_shares_token")),
    )
    op.create_table(
        "notification_deliveries",
        sa.Column("notification_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("email_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notifications.id"],
            name=op.f("fk_notification_deliveries_notification_id_notifications"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_notification_deliveries_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("notification_id", name=op.f("pk_notification_deliveries")),
    )
    with op.batch_alter_table("notification_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_notification_deliveries_user", ["user_id", "email_id"], unique=False
        )

    op.create_table(
        "webhook_deliveries",
        sa.Column("webhook_id", sa.String(length=36), nullable=False),
        sa.Column("delivery_id", sa.String(length=200), nullable=False),
        sa.Column("graph_exec_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["integration_webhooks.id"],
            name=op.f("fk_webhook_deliveries_webhook_id_integration_webhooks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("webhook_id", "delivery_id", name=op.f("pk_webhook_deliveries")),
    )


def downgrade() -> None:
    op.drop_table("webhook_deliveries")
    with op.batch_alter_table("notification_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_notification_deliveries_user")

    op.drop_table("notification_deliveries")
    op.drop_table("execution_shares")
    op.drop_table("notification_user_state")
    with op.batch_alter_table("notification_emails", schema=None) as batch_op:
        batch_op.drop_index("ix_notification_emails_user")
        batch_op.drop_index("ix_notification_emails_status")

    op.drop_table("notification_emails")
    with op.batch_alter_table("integration_webhooks", schema=None) as batch_op:
        batch_op.drop_index("ix_integration_webhooks_user")

    op.drop_table("integration_webhooks")
    with op.batch_alter_table("agent_presets", schema=None) as batch_op:
        batch_op.drop_index("ix_agent_presets_user")

    op.drop_table("agent_presets")
    op.drop_table("notification_keys")
    with op.batch_alter_table("library_agents", schema=None) as batch_op:
        batch_op.drop_column("use_graph_is_active_version")
        batch_op.drop_column("is_favorite")
