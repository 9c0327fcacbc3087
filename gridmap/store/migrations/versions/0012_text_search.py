"""Board text search by index: SQLite FTS5 trigram table kept by triggers; PostgreSQL pg_trgm GIN index.

See gridmap/store/textsearch.py for why each is built as it is (1-2 character Chinese words;
pg_trgm under the C locale).

Revision ID: 0012
Revises: 0011
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def _run(statements) -> None:
    bind = op.get_bind()
    for sql in statements:
        bind.exec_driver_sql(sql)


def upgrade() -> None:
    from gridmap.store import textsearch

    _run(textsearch.SQLITE_DDL if op.get_bind().dialect.name == "sqlite" else textsearch.PG_DDL)


def downgrade() -> None:
    from gridmap.store import textsearch

    _run(textsearch.SQLITE_DROP if op.get_bind().dialect.name == "sqlite" else textsearch.PG_DROP)
