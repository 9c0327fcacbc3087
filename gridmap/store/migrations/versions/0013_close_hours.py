"""incidents.close_hours: hours from report to closing, kept with every write (issue #13).

The metrics' p90 needs every closed incident's hours in the range. Computed per row in SQL
(SQLite: strftime on two texts) that was most of a city-sized metrics query; stored, the
covering index ``ix_incidents_metrics`` carries it, so the p90 reads the index alone.

- incidents.close_hours: ``(closed_at - reported_at)`` in hours when closed_at is set, else NULL;
  written by ``store.incidents.incident_to_row`` (Python's exact timedelta arithmetic) and filled
  here by ``metrics_sql.hours``, whose SQL gives the same bits on both backends;
- ix_incidents_metrics rebuilt with close_hours after closed_at;
- ix_incidents_grid_reported (grid_code, reported_at): one grid's metrics (the grid page's 30 days
  and 12 months) find the grid's rows in range from the index alone, not row by row;
- ix_incidents_grid_open (grid_code, status, due_at): the grid page's open incidents, counted and
  paged by deadline from the index (the busiest grid of a 1M history: 0.8 s -> a few ms).

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

OLD = ["reported_at", "status", "merged_into", "closed_at", "due_at", "dispatched_at", "rework_count",
       "reopen_count", "extended", "rating", "grid_code", "zone_code", "town_code", "assignee", "category"]
NEW = OLD[:4] + ["close_hours"] + OLD[4:]


def upgrade() -> None:
    from gridmap.store import metrics_sql

    op.add_column("incidents", sa.Column("close_hours", sa.Float))
    bind = op.get_bind()
    t = sa.table("incidents", sa.column("closed_at", sa.DateTime), sa.column("reported_at", sa.DateTime),
                 sa.column("close_hours", sa.Float))
    bind.execute(t.update().where(t.c.closed_at.is_not(None))
                 .values(close_hours=metrics_sql.hours(bind.dialect.name, t.c.closed_at, t.c.reported_at)))
    op.drop_index("ix_incidents_metrics", "incidents")
    op.create_index("ix_incidents_metrics", "incidents", NEW)
    op.create_index("ix_incidents_grid_reported", "incidents", ["grid_code", "reported_at"])
    op.create_index("ix_incidents_grid_open", "incidents", ["grid_code", "status", "due_at"])


def downgrade() -> None:
    op.drop_index("ix_incidents_grid_open", "incidents")
    op.drop_index("ix_incidents_grid_reported", "incidents")
    op.drop_index("ix_incidents_metrics", "incidents")
    op.create_index("ix_incidents_metrics", "incidents", OLD)
    op.drop_column("incidents", "close_hours")
