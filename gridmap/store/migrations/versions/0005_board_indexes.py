"""Indexes for the dispatch board: a search by number also matches the hotline's or Open311's
own id (external_id); the tab counts read one covering index (status, zone, escalated,
deadline), also when filtered by zone; a zone's incidents page newest first off an index.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_incidents_external_id", "incidents", ["external_id"])
    op.create_index("ix_incidents_queue", "incidents", ["status", "zone_code", "escalated", "due_at"])
    op.create_index("ix_incidents_zone_reported", "incidents", ["zone_code", "reported_at"])


def downgrade() -> None:
    op.drop_index("ix_incidents_zone_reported", table_name="incidents")
    op.drop_index("ix_incidents_queue", table_name="incidents")
    op.drop_index("ix_incidents_external_id", table_name="incidents")
