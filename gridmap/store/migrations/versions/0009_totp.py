"""Two-factor login (issue #15): a TOTP secret per user, the last time step used, recovery codes.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("totp_secret", sa.String(64)))  # base32; NULL = no two-factor login
        batch.add_column(sa.Column("totp_pending", sa.String(64)))  # being enrolled on the page, not yet confirmed
        # the 30-second step of the last code accepted: a code is good once, not again within its window
        batch.add_column(sa.Column("totp_last_step", sa.BigInteger))
    op.create_table(
        "totp_recovery_codes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(64), sa.ForeignKey("users.username"), nullable=False, index=True),
        sa.Column("code_hash", sa.String(64), nullable=False),  # SHA-256, like API tokens
    )


def downgrade() -> None:
    op.drop_table("totp_recovery_codes")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("totp_last_step")
        batch.drop_column("totp_pending")
        batch.drop_column("totp_secret")
