"""Table definitions (SQLAlchemy Core). Migrations under migrations/ create them."""

from __future__ import annotations

from sqlalchemy import (
    JSON, Column, Date, DateTime, Float, ForeignKey, Integer, LargeBinary, MetaData, String,
    Table, UniqueConstraint, Index,
)

metadata = MetaData()

plans = Table(
    "plans", metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("status", String(16), nullable=False),  # published | draft
    Column("effective_from", Date),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("note", String),
)

# Geometry is stored as WKB (EPSG:4326 lon/lat) with its bounding box, so both backends read
# and write it the same way. On PostGIS a generated `geom` column mirrors it, with a GiST
# index, for spatial SQL (see migrations/versions/0001_initial.py).
units = Table(
    "units", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("plan", Integer, ForeignKey("plans.version"), nullable=False),
    Column("code", String(32), nullable=False),
    Column("name", String, nullable=False),
    Column("level", String(8), nullable=False),
    Column("parent_code", String(32)),
    Column("geom_wkb", LargeBinary, nullable=False),
    Column("minx", Float, nullable=False),
    Column("miny", Float, nullable=False),
    Column("maxx", Float, nullable=False),
    Column("maxy", Float, nullable=False),
    Column("area_m2", Float),
    Column("perimeter_m", Float),
    Column("households", Integer),
    Column("population", Integer),
    Column("properties", JSON),
    Column("valid_from", Date),
    Column("valid_to", Date),
    UniqueConstraint("plan", "code", name="uq_units_plan_code"),
    Index("ix_units_plan_level", "plan", "level"),
    Index("ix_units_parent", "plan", "parent_code"),
)

people = Table(
    "people", metadata,
    Column("person_id", String(64), primary_key=True),
    Column("name", String, nullable=False),
    Column("phone", String(32)),
)

roles = Table(
    "roles", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("person_id", String(64), ForeignKey("people.person_id"), nullable=False),
    Column("unit_code", String(32), nullable=False),
    Column("role", String(32), nullable=False),
    UniqueConstraint("person_id", "unit_code", "role", name="uq_roles"),
    Index("ix_roles_unit", "unit_code"),
)
