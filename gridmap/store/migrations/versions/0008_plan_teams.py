"""Drafts carry their 1+1+N teams (plan_teams); a forced publish records its reason; when teams were applied.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # One row per grid whose team the draft sets (inherited by a split or merge, or staffed by
    # the planner): members [[person_id, role], ...]. Grids without a row keep the store's roles.
    op.create_table(
        "plan_teams",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("plan", sa.Integer, sa.ForeignKey("plans.version"), nullable=False),
        sa.Column("unit_code", sa.String(32), nullable=False),
        sa.Column("members", sa.JSON, nullable=False),
        sa.UniqueConstraint("plan", "unit_code", name="uq_plan_teams_unit"),
    )
    op.add_column("plans", sa.Column("publish_reason", sa.String))
    # when the plan's teams were written into roles (at publish, or on its effective day)
    op.add_column("plans", sa.Column("teams_applied_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("plans") as batch:
        batch.drop_column("teams_applied_at")
        batch.drop_column("publish_reason")
    op.drop_table("plan_teams")
