"""schedules may point at a preset (read at fire time); a library agent's graph settings
(the safe modes of human review)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 20:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# JSON documents: JSONB on PostgreSQL, JSON text on SQLite (frozen here, not imported).
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("schedules", schema=None) as batch_op:
        batch_op.add_column(sa.Column("preset_id", sa.String(length=36), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_schedules_preset_id_agent_presets"),
            "agent_presets",
            ["preset_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_index("ix_schedules_preset", ["preset_id"], unique=False)
    with op.batch_alter_table("library_agents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("settings", JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("library_agents", schema=None) as batch_op:
        batch_op.drop_column("settings")
    with op.batch_alter_table("schedules", schema=None) as batch_op:
        batch_op.drop_index("ix_schedules_preset")
        batch_op.drop_constraint(
            batch_op.f("fk_schedules_preset_id_agent_presets"), type_="foreignkey"
        )
        batch_op.drop_column("preset_id")
