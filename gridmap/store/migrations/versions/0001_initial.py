"""Initial schema: plans, units, people, roles; PostGIS geometry column on PostgreSQL.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plans",
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("effective_from", sa.Date),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.String),
    )
    op.create_table(
        "units",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("plan", sa.Integer, sa.ForeignKey("plans.version"), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("level", sa.String(8), nullable=False),
        sa.Column("parent_code", sa.String(32)),
        sa.Column("geom_wkb", sa.LargeBinary, nullable=False),
        sa.Column("minx", sa.Float, nullable=False),
        sa.Column("miny", sa.Float, nullable=False),
        sa.Column("maxx", sa.Float, nullable=False),
        sa.Column("maxy", sa.Float, nullable=False),
        sa.Column("area_m2", sa.Float),
        sa.Column("perimeter_m", sa.Float),
        sa.Column("households", sa.Integer),
        sa.Column("population", sa.Integer),
        sa.Column("properties", sa.JSON),
        sa.Column("valid_from", sa.Date),
        sa.Column("valid_to", sa.Date),
        sa.UniqueConstraint("plan", "code", name="uq_units_plan_code"),
    )
    op.create_index("ix_units_plan_level", "units", ["plan", "level"])
    op.create_index("ix_units_parent", "units", ["plan", "parent_code"])
    op.create_table(
        "people",
        sa.Column("person_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("phone", sa.String(32)),
    )
    op.create_table(
        "roles",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("person_id", sa.String(64), sa.ForeignKey("people.person_id"), nullable=False),
        sa.Column("unit_code", sa.String(32), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.UniqueConstraint("person_id", "unit_code", "role", name="uq_roles"),
    )
    op.create_index("ix_roles_unit", "roles", ["unit_code"])
    if op.get_bind().dialect.name == "postgresql":
        # A PostGIS mirror of the WKB column for spatial SQL (ST_Covers, bbox, OGC API).
        op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        op.execute(
            "ALTER TABLE units ADD COLUMN geom geometry(Geometry, 4326) "
            "GENERATED ALWAYS AS (ST_GeomFromWKB(geom_wkb, 4326)) STORED"
        )
        op.execute("CREATE INDEX ix_units_geom ON units USING GIST (geom)")


def downgrade() -> None:
    op.drop_table("roles")
    op.drop_table("people")
    op.drop_table("units")
    op.drop_table("plans")
