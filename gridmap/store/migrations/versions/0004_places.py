"""The offline gazetteer: named points for the report page's and the map's search box.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "places",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("code", sa.String(32)),
        sa.Column("lon", sa.Float, nullable=False),
        sa.Column("lat", sa.Float, nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
    )
    op.create_index("ix_places_name", "places", ["name"])


def downgrade() -> None:
    op.drop_index("ix_places_name", table_name="places")
    op.drop_table("places")
