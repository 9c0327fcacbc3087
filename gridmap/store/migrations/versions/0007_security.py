"""Security (issue #15): session generations, disabled users, token expiry, login throttling,
the shared secret key, and reporter tokens stored hashed.

Revision ID: 0007
Revises: 0006
"""

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # bumped on logout, password change and disable: a saved session cookie of an older generation is dead
    op.add_column("users", sa.Column("session_gen", sa.Integer, nullable=False, server_default="0"))
    op.add_column("users", sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()))
    op.add_column("api_tokens", sa.Column("expires_at", sa.DateTime))
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(200), nullable=False),  # "user:NAME" or "addr:IP"
        sa.Column("at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_login_failures_key_at", "login_failures", ["key", "at"])
    op.create_table(
        "app_secrets",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.String, nullable=False),
    )
    # reporter tokens were kept in plain text: keep only their SHA-256, like API tokens
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, reporter_token FROM incidents WHERE reporter_token IS NOT NULL")).all()
    for rid, tok in rows:
        conn.execute(sa.text("UPDATE incidents SET reporter_token = :h WHERE id = :id"),
                     {"h": hashlib.sha256(tok.encode()).hexdigest(), "id": rid})


def downgrade() -> None:  # reporter tokens stay hashed: the plain ones are gone
    op.drop_table("app_secrets")
    op.drop_index("ix_login_failures_key_at", "login_failures")
    op.drop_table("login_failures")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("expires_at")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("disabled")
        batch.drop_column("session_gen")
