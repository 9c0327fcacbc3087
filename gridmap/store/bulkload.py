"""A large load inside one transaction: secondary indexes dropped first and built again at the end.

Inserting a million rows into ``incidents`` with its 15 secondary indexes (several of them wide,
covering ones) updates every B-tree row by row in random order: on SQLite the page cache spills,
the same pages go to the WAL again and again, and the import spent 3/4 of its time there. Built
afterwards, each index is one sort ("Populating a Database" in PostgreSQL's manual; SQLite's
CREATE INDEX sorts too). The drop, the load and the rebuild are one transaction: an error or a
killed process rolls all three back and leaves the indexes as they were.

Used only when the load is big next to the table (``worth_it``): rebuilding the indexes of a
million rows to add a few thousand would cost more than it saves. Readers never wait on SQLite
(WAL: they see the last commit, indexes and all). On PostgreSQL a dropped index holds an ACCESS
EXCLUSIVE lock on the table until the commit, so every reader of ``incidents`` would wait for
the import: there it is done only into an empty table (a city's first load of its history).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from .rollup_rows import Staged

MIN_ROWS = 50_000  # below this the row-by-row index updates are cheap enough
SORT_THREADS = 2  # each sorts in a buffer of the cache's size: 7.6 -> 4.9 s for ix_incidents_metrics at 1M
SQLITE_CACHE_KIB = 32_768  # the page cache while loading (default 2 MiB); larger made CREATE INDEX slower (1M rows: 32 MiB 4.9 s, 128 MiB 6.0 s)


def worth_it(backend: str, expected: int, existing: int) -> bool:
    """Drop and rebuild for a load of at least MIN_ROWS rows: on SQLite when it has at least half
    the table's rows, on PostgreSQL into an empty table only (readers would wait, see above)."""
    if expected < MIN_ROWS:
        return False
    return existing == 0 if backend == "postgresql" else expected * 2 >= existing


@contextmanager
def load(conn, backend: str, expected: int, existing: int) -> Iterator[Staged | None]:
    """Around a load of ``expected`` rows into a table of ``existing``, inside the transaction
    ``conn``: when ``worth_it``, indexes dropped and roll-ups staged (yields the ``Staged``),
    both done before the block's end; else nothing (yields None: write as usual)."""
    if not worth_it(backend, expected, existing):
        yield None
        return
    old = begin_sqlite(conn) if backend == "sqlite" else None
    try:
        ddl = drop_indexes(conn, backend, ("incidents", "incident_events"))
        stage = Staged(conn, backend)
        yield stage
        stage.apply()
        create_indexes(conn, backend, ddl)
    finally:
        if old is not None:
            restore_sqlite(conn, old)


def drop_indexes(conn, backend: str, tables: Sequence[str]) -> list[str]:
    """Drop the secondary indexes of ``tables`` (not those behind a primary key or a unique
    constraint); return the statements that create them again."""
    names = ", ".join(f"'{t}'" for t in tables)
    if backend == "postgresql":
        rows = conn.exec_driver_sql(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i "
            "JOIN pg_class c ON c.relname = i.indexname AND c.relnamespace = to_regnamespace(i.schemaname) "
            f"WHERE i.schemaname = current_schema() AND i.tablename IN ({names}) "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = c.oid) "
            "ORDER BY i.indexname").all()
    else:
        rows = conn.exec_driver_sql(
            f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name IN ({names}) "
            "AND sql IS NOT NULL ORDER BY name").all()
    for name, _ in rows:
        conn.exec_driver_sql(f'DROP INDEX "{name}"')
    return [sql for _, sql in rows]


def create_indexes(conn, backend: str, statements: Sequence[str]) -> None:
    """Build the dropped indexes again (the same transaction)."""
    if backend == "postgresql" and statements:
        conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '256MB'")
    for sql in statements:
        conn.exec_driver_sql(sql)


def begin_sqlite(conn, cache_kib: int = SQLITE_CACHE_KIB) -> tuple[int, int]:
    """Open the transaction now (the driver would only BEGIN before the first INSERT, so a DROP INDEX
    before it would commit at once), widen the page cache; return what ``restore_sqlite`` puts back."""
    raw = conn.connection.driver_connection
    if not raw.in_transaction:
        raw.execute("BEGIN IMMEDIATE")
    old = (raw.execute("PRAGMA cache_size").fetchone()[0], raw.execute("PRAGMA threads").fetchone()[0])
    raw.execute(f"PRAGMA cache_size = -{int(cache_kib)}")
    raw.execute(f"PRAGMA threads = {SORT_THREADS}")  # CREATE INDEX sorts with helper threads
    return old


def restore_sqlite(conn, old: tuple[int, int]) -> None:
    """The pooled connection's page cache and sort threads as they were before ``begin_sqlite``."""
    raw = conn.connection.driver_connection
    raw.execute(f"PRAGMA cache_size = {int(old[0])}")
    raw.execute(f"PRAGMA threads = {int(old[1])}")
