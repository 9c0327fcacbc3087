"""Incidents, their audit log, the duty roster, users and API tokens.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

from gridmap.store import schema

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = ["incidents", "incident_events", "roster", "users", "api_tokens"]


def upgrade() -> None:
    # The table definitions in gridmap/store/schema.py are the single source; a later change
    # to them gets its own migration with explicit operations.
    bind = op.get_bind()
    for name in TABLES:
        schema.metadata.tables[name].create(bind)


def downgrade() -> None:
    bind = op.get_bind()
    for name in reversed(TABLES):
        schema.metadata.tables[name].drop(bind)
