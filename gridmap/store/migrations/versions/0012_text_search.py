"""Board text search by index: SQLite FTS5 trigram table kept by triggers; PostgreSQL pg_trgm GIN index.

Dropped again by 0014: the board never used them (at 1M incidents they counted slower than a
scan) and they made every write and the bulk import slower. SQLite: a contentless trigram
table, each description indexed with two U+0001 after it so 1-2 character words have trigrams;
PostgreSQL: a GIN gin_trgm_ops index on the description's UTF-8 bytes in hex (pg_trgm under the
C locale drops Chinese characters).

Revision ID: 0012
Revises: 0011
"""

from alembic import op

SQLITE_DDL = (
    "CREATE VIRTUAL TABLE incidents_fts USING fts5(description, content='', tokenize='trigram')",
    "CREATE VIRTUAL TABLE incidents_fts_vocab USING fts5vocab(incidents_fts, 'row')",
    "CREATE TRIGGER incidents_fts_ai AFTER INSERT ON incidents BEGIN "
    "INSERT INTO incidents_fts(rowid, description) VALUES (new.id, new.description || char(1, 1)); END",
    "CREATE TRIGGER incidents_fts_ad AFTER DELETE ON incidents BEGIN "
    "INSERT INTO incidents_fts(incidents_fts, rowid, description) "
    "VALUES ('delete', old.id, old.description || char(1, 1)); END",
    "CREATE TRIGGER incidents_fts_au AFTER UPDATE OF description ON incidents BEGIN "
    "INSERT INTO incidents_fts(incidents_fts, rowid, description) "
    "VALUES ('delete', old.id, old.description || char(1, 1)); "
    "INSERT INTO incidents_fts(rowid, description) VALUES (new.id, new.description || char(1, 1)); END",
    "INSERT INTO incidents_fts(rowid, description) SELECT id, description || char(1, 1) FROM incidents",
)
SQLITE_DROP = ("DROP TRIGGER IF EXISTS incidents_fts_au", "DROP TRIGGER IF EXISTS incidents_fts_ad",
               "DROP TRIGGER IF EXISTS incidents_fts_ai", "DROP TABLE IF EXISTS incidents_fts_vocab",
               "DROP TABLE IF EXISTS incidents_fts")
PG_DDL = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE OR REPLACE FUNCTION gridmap_text_hex(text) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE "
    "AS $$ SELECT encode(convert_to($1, 'UTF8'), 'hex') $$",
    "CREATE INDEX ix_incidents_text_trgm ON incidents USING gin (gridmap_text_hex(description) gin_trgm_ops)",
)
PG_DROP = ("DROP INDEX IF EXISTS ix_incidents_text_trgm", "DROP FUNCTION IF EXISTS gridmap_text_hex(text)")

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def _run(statements) -> None:
    bind = op.get_bind()
    for sql in statements:
        bind.exec_driver_sql(sql)


def upgrade() -> None:
    # superseded: 0014 drops what this built, so a store migrating past here no longer builds it
    # (at 1M incidents the trigram table took minutes); 0014's downgrade builds it with ``build``
    pass


def build() -> None:
    _run(SQLITE_DDL if op.get_bind().dialect.name == "sqlite" else PG_DDL)


def downgrade() -> None:
    _run(SQLITE_DROP if op.get_bind().dialect.name == "sqlite" else PG_DROP)
