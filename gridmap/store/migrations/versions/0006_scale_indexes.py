"""Indexes for metrics and supervision at a city's scale (issue #13).

- ix_incidents_metrics: reported_at first (the range), then every column the metrics read, so
  a range query is answered from the index alone (SQLite: COVERING INDEX; PostgreSQL: index
  only scan once vacuumed), without one table lookup per incident.
- ix_incidents_status_due: the supervision lists (open incidents by deadline), paged in SQL.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

METRIC_COLUMNS = ["reported_at", "status", "merged_into", "closed_at", "due_at", "dispatched_at", "rework_count",
                  "reopen_count", "extended", "rating", "grid_code", "zone_code", "town_code", "assignee", "category"]


def upgrade() -> None:
    op.create_index("ix_incidents_metrics", "incidents", METRIC_COLUMNS)
    op.create_index("ix_incidents_status_due", "incidents", ["status", "due_at"])


def downgrade() -> None:
    op.drop_index("ix_incidents_status_due", "incidents")
    op.drop_index("ix_incidents_metrics", "incidents")
