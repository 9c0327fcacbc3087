"""Indexes for the dispatch board: a search by number also matches the hotline's or Open311's
own id (external_id), and the open queues sort by deadline within a status.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_incidents_external_id", "incidents", ["external_id"])
    op.create_index("ix_incidents_status_due", "incidents", ["status", "due_at"])


def downgrade() -> None:
    op.drop_index("ix_incidents_status_due", table_name="incidents")
    op.drop_index("ix_incidents_external_id", table_name="incidents")
