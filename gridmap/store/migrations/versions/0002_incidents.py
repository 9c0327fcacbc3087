"""Incidents, their audit log, the duty roster, users and API tokens.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("external_id", sa.String(64)),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("description", sa.String, nullable=False, server_default=''),
        sa.Column("lon", sa.Float, nullable=False),
        sa.Column("lat", sa.Float, nullable=False),
        sa.Column("reported_at", sa.DateTime, nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("severity", sa.Integer, nullable=False),
        sa.Column("reporter_name", sa.String),
        sa.Column("reporter_phone", sa.String(32)),
        sa.Column("reporter_token", sa.String(64)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("grid_code", sa.String(32)),
        sa.Column("zone_code", sa.String(32)),
        sa.Column("town_code", sa.String(32)),
        sa.Column("plan", sa.Integer),
        sa.Column("assignment", sa.String(16), nullable=False),
        sa.Column("distance_m", sa.Float),
        sa.Column("assignee", sa.String(64)),
        sa.Column("handling_level", sa.String(16), nullable=False),
        sa.Column("department", sa.String),
        sa.Column("escalated", sa.Integer, nullable=False, server_default='0'),
        sa.Column("dispatched_at", sa.DateTime),
        sa.Column("due_at", sa.DateTime),
        sa.Column("handled_at", sa.DateTime),
        sa.Column("closed_at", sa.DateTime),
        sa.Column("rework_count", sa.Integer, nullable=False, server_default='0'),
        sa.Column("reopen_count", sa.Integer, nullable=False, server_default='0'),
        sa.Column("extended", sa.Integer, nullable=False, server_default='0'),
        sa.Column("rating", sa.Integer),
        sa.Column("merged_into", sa.String(32)),
        sa.Column("version", sa.Integer, nullable=False, server_default='1'),
        sa.Column("extra", sa.JSON),
    )
    op.create_index("ix_incidents_grid", "incidents", ["grid_code"])
    op.create_index("ix_incidents_status", "incidents", ["status"])
    op.create_index("ix_incidents_zone", "incidents", ["zone_code"])
    op.create_index("ix_incidents_reported", "incidents", ["reported_at"])
    op.create_index("ix_incidents_category_reported", "incidents", ["category", "reported_at"])
    op.create_table(
        "incident_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id"), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("from_status", sa.String(16)),
        sa.Column("to_status", sa.String(16), nullable=False),
        sa.Column("note", sa.String),
        sa.Column("data", sa.JSON),
    )
    op.create_index("ix_events_incident", "incident_events", ["incident_id"])
    op.create_table(
        "roster",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("unit_code", sa.String(32), nullable=False),
        sa.Column("person_id", sa.String(64), sa.ForeignKey("people.person_id"), nullable=False),
        sa.Column("starts_at", sa.DateTime, nullable=False),
        sa.Column("ends_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_roster_unit_time", "roster", ["unit_code", "starts_at"])
    op.create_table(
        "users",
        sa.Column("username", sa.String(64), primary_key=True),
        sa.Column("password_hash", sa.String, nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("person_id", sa.String(64)),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("username", sa.String(64), sa.ForeignKey("users.username"), nullable=False),
        sa.Column("label", sa.String),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    for name in ("api_tokens", "users", "roster", "incident_events", "incidents"):
        op.drop_table(name)
