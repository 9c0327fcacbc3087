"""Versioned plans: draft revisions, unit revisions, publish metadata and the edit log.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN on both backends (no table rebuild), so the PostGIS generated `geom`
    # column and its GiST index on units stay as they are and keep filling for new rows.
    op.add_column("plans", sa.Column("published_at", sa.DateTime(timezone=True)))
    op.add_column("plans", sa.Column("base_version", sa.Integer))
    op.add_column("plans", sa.Column("author", sa.String(64)))
    op.add_column("plans", sa.Column("rev", sa.Integer, nullable=False, server_default="0"))
    op.add_column("units", sa.Column("rev", sa.Integer, nullable=False, server_default="1"))
    # Plans published before this revision were published when they were created.
    op.execute("UPDATE plans SET published_at = created_at WHERE status = 'published'")
    op.create_table(
        "plan_edits",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("plan", sa.Integer, sa.ForeignKey("plans.version"), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("op", sa.String(16), nullable=False),
        sa.Column("author", sa.String(64)),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("params", sa.JSON),
        sa.Column("before", sa.JSON, nullable=False),
        sa.Column("after_codes", sa.JSON, nullable=False),
        sa.UniqueConstraint("plan", "seq", name="uq_plan_edits_seq"),
    )


def downgrade() -> None:
    op.drop_table("plan_edits")
    with op.batch_alter_table("units") as batch:
        batch.drop_column("rev")
    with op.batch_alter_table("plans") as batch:
        for name in ("rev", "author", "base_version", "published_at"):
            batch.drop_column(name)
