"""The board's text search by covering B-tree indexes; the trigram indexes of 0012 dropped (issue #13).

The board searches descriptions with ``LIKE '%word%'`` (store/board.py): most Chinese search
words are 1-2 characters, which a trigram index cannot answer, and at 1M incidents the FTS5 /
pg_trgm indexes counted slower than the scan while making every write and the bulk import
slower. A LIKE scan costs what it reads, so it now reads narrow indexes, not the table:

- ix_incidents_text (description, external_id, category, grid_code, zone_code, town_code): the
  "all" tab's count and page under a search: every column the search condition tests;
- ix_incidents_queue gains the same columns after (status, zone_code, escalated, due_at): the
  open tabs' counts under a search from the index alone.

At 1M incidents (SQLite) /board.json?q=... went from 0.40-0.48 s to 0.15-0.25 s.

Revision ID: 0014
Revises: 0013
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

TEXT = ["description", "external_id", "category", "grid_code", "zone_code", "town_code"]
QUEUE_OLD = ["status", "zone_code", "escalated", "due_at"]
QUEUE_NEW = [*QUEUE_OLD, "description", "external_id", "category", "grid_code", "town_code"]


def _migration_0012():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).with_name("0012_text_search.py")
    spec = importlib.util.spec_from_file_location("gridmap_migration_0012", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def upgrade() -> None:
    m = _migration_0012()
    m._run(m.SQLITE_DROP if op.get_bind().dialect.name == "sqlite" else m.PG_DROP)
    op.drop_index("ix_incidents_queue", "incidents")
    op.create_index("ix_incidents_queue", "incidents", QUEUE_NEW)
    op.create_index("ix_incidents_text", "incidents", TEXT)


def downgrade() -> None:
    op.drop_index("ix_incidents_text", "incidents")
    op.drop_index("ix_incidents_queue", "incidents")
    op.create_index("ix_incidents_queue", "incidents", QUEUE_OLD)
    _migration_0012().build()
