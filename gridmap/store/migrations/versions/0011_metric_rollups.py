"""Metric roll-ups per UTC day and month x grid x zone x town x assignee x category (issue #13).

- incident_rollup_day, incident_rollup_month: the sums store/rollup.py keeps in step with every
  incident write, so a year's metrics read a few thousand rows instead of every incident;
- incidents.settles_late_at (+ ix_incidents_settles_late): set when an incident's metrics keep
  changing with as_of for longer than 29 days after its report, so a query finds those by index;
- both filled here from the incidents already stored (store/rollup.py ``rebuild``).

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

KEYS = ("grid_code", "zone_code", "town_code", "assignee", "category")
SUMS = ("count", "filed", "due", "closed", "closed_on_time", "overdue_open", "rework", "extended", "rated",
        "rating_sum", "responded", "response_due", "resolved", "resolution_asked", "satisfied", "hours_n")


def _table(name: str, period: str, width: int) -> None:
    op.create_table(
        name,
        sa.Column(period, sa.String(width), nullable=False),
        *[sa.Column(k, sa.String(64), nullable=False) for k in KEYS],
        *[sa.Column(s, sa.Integer, nullable=False) for s in SUMS],
        sa.Column("hours_us", sa.BigInteger, nullable=False),
    )
    op.create_index(f"ux_{name}", name, [period, *KEYS], unique=True)


def upgrade() -> None:
    op.add_column("incidents", sa.Column("settles_late_at", sa.DateTime))
    op.create_index("ix_incidents_settles_late", "incidents", ["settles_late_at", "reported_at"])
    _table("incident_rollup_day", "day", 10)
    _table("incident_rollup_month", "month", 7)
    from gridmap.store import rollup

    bind = op.get_bind()
    rollup.rebuild(bind, bind.dialect.name)


def downgrade() -> None:
    op.drop_table("incident_rollup_month")
    op.drop_table("incident_rollup_day")
    op.drop_index("ix_incidents_settles_late", "incidents")
    op.drop_column("incidents", "settles_late_at")
