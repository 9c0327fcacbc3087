"""Roll-ups from the rows in hand: what a batch insert adds, summed in Python, not read back.

``rollup.add`` re-reads the rows it counts (~25 us a row on SQLite, the strftime of four times);
a batch insert already holds them. ``contribution`` is ``rollup.final_sums`` for one row dict,
the same tests and NULL rules, so the tables stay equal to ``rollup.rebuild``
(tests/test_rollup.py, tests/test_import_stream.py check it on both backends).

``add_rows`` upserts a batch's sums at once (SQLite; PostgreSQL sums a batch faster itself, with
``rollup.add``: psycopg sends an executemany a row at a time). A load of a million rows (``Staged``) does not:
upserting into a roll-up that has outgrown the page cache is a random B-tree write a row (59 s
of a 1M import); it appends each row's contribution to a temporary table without an index and,
once, before the commit, sums it into both roll-ups in key order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence

from . import schema
from .rollup import EXCLUDED, KEYS, LIMIT_HOURS, SUMS


def contribution(r: dict) -> tuple[int, ...]:
    """One incident row's SUMS (naive UTC times, as stored), as ``final_sums`` counts it in SQL.

    Same tests, same NULL rules (a comparison with NULL is false), the response hours in the
    same IEEE doubles (whole microseconds / 1e6 / 3600), so ``add_rows`` equals ``add``.
    """
    st, rep, due_at, closed_at, disp, rating = (r["status"], r["reported_at"], r["due_at"], r["closed_at"],
                                                r["dispatched_at"], r["rating"])
    f = st not in EXCLUDED and r["merged_into"] is None
    c = f and st == "closed"
    od = f and not c and due_at is not None
    due = c or od
    rated = rating is not None
    timed = c and closed_at is not None
    return (1, f, due, c, timed and due_at is not None and closed_at <= due_at, od,
            c and (r["rework_count"] or 0) > 0, due and r["extended"] is not None and r["extended"] != 0,
            rated, rating or 0,
            f and disp is not None and _us(disp, rep) / 1_000_000.0 / 3600.0 <= LIMIT_HOURS, f,
            c and rated and r["reopen_count"] == 0, c and rated, rated and rating >= 4, timed,
            _us(closed_at, rep) if timed else 0)


def _us(a: dt.datetime, b: dt.datetime) -> int:
    d = a - b
    return (d.days * 86400 + d.seconds) * 1_000_000 + d.microseconds


def add_rows(conn, backend: str, rows: Iterable[dict]) -> None:
    """Count incident rows just written (dicts as inserted, same transaction) into the roll-ups,
    summed in Python from the rows in hand: a bulk import does not read its rows back (``add``
    reads them, ~25 us a row on SQLite)."""
    day_sums: dict[tuple, list[int]] = {}
    for key, values in _keyed(rows):
        _sum_into(day_sums, key, values)
    if not day_sums:
        return
    month_sums: dict[tuple, list[int]] = {}
    for key, day_values in day_sums.items():
        _sum_into(month_sums, (key[0][:7], *key[1:]), day_values)
    for table, period, sums in ((schema.rollup_day, "day", day_sums), (schema.rollup_month, "month", month_sums)):
        conn.exec_driver_sql(_upsert_sql(backend, table.name, period), [(*k, *v) for k, v in sums.items()])


def _sum_into(sums: dict[tuple, list[int]], key: tuple, values: Sequence[int]) -> None:
    got = sums.get(key)
    if got is None:
        sums[key] = [int(v) for v in values]  # (the tests are bools: PostgreSQL wants integers)
    else:
        for j, v in enumerate(values):
            got[j] += v


def _keyed(rows: Iterable[dict]) -> Iterator[tuple[tuple, tuple[int, ...]]]:
    """Each row's roll-up key (its UTC day, then KEYS with NULL as "") and its ``contribution``."""
    days: dict[dt.date, str] = {}
    for r in rows:
        d = r["reported_at"].date()
        day = days.get(d) or days.setdefault(d, d.isoformat())
        yield (day, *[r[k] or "" for k in KEYS]), contribution(r)


def _upsert_parts(table: str, period: str) -> tuple[str, str]:
    """``INSERT INTO table (columns)`` and ``ON CONFLICT ... DO UPDATE`` adding the sums: the two
    ends of an upsert, around VALUES (``_upsert_sql``) or a SELECT (``Staged.apply``)."""
    names = ", ".join(f'"{n}"' for n in (period, *KEYS, *SUMS))
    keys = ", ".join(f'"{n}"' for n in (period, *KEYS))
    adds = ", ".join(f'"{n}" = {table}."{n}" + excluded."{n}"' for n in SUMS)
    return f"INSERT INTO {table} ({names})", f"ON CONFLICT ({keys}) DO UPDATE SET {adds}"


def _upsert_sql(backend: str, table: str, period: str) -> str:
    """The driver's upsert of a row of sums (plain tuples: SQLAlchemy's executemany spent more time
    on its parameters than the database on the rows)."""
    head, tail = _upsert_parts(table, period)
    marks = ", ".join(["%s" if backend == "postgresql" else "?"] * (1 + len(KEYS) + len(SUMS)))
    return f"{head} VALUES ({marks}) {tail}"

class Staged:
    """Contributions of a big load kept in a temporary table, summed into the roll-ups by ``apply``."""

    TABLE = "gridmap_rollup_stage"

    def __init__(self, conn, backend: str):
        self.conn, self.backend = conn, backend
        cols = ", ".join([f'"{k}" VARCHAR(64)' for k in ("day", *KEYS)] + [f'"{s}" BIGINT' for s in SUMS])
        tail = " ON COMMIT DROP" if backend == "postgresql" else ""
        conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {self.TABLE} ({cols}){tail}")
        mark = "%s" if backend == "postgresql" else "?"
        self.insert = f"INSERT INTO {self.TABLE} VALUES ({', '.join([mark] * (1 + len(KEYS) + len(SUMS)))})"

    def add(self, rows: Iterable[dict]) -> None:
        out = [(*key, *map(int, values)) for key, values in _keyed(rows)]
        if not out:
            return
        if self.backend == "postgresql":  # COPY: psycopg's executemany is a round of the protocol a row
            with self.conn.connection.driver_connection.cursor() as cur:
                with cur.copy(f"COPY {self.TABLE} FROM STDIN") as copy:
                    for row in out:
                        copy.write_row(row)
        else:
            self.conn.exec_driver_sql(self.insert, out)

    def apply(self) -> None:
        """Sum the staged rows into both roll-ups (adding to rows already there); drop the stage."""
        keys = ", ".join(f'"{k}"' for k in KEYS)
        sums = ", ".join(f'SUM("{s}")' for s in SUMS)
        for table, period, width in ((schema.rollup_day, "day", 10), (schema.rollup_month, "month", 7)):
            head, tail = _upsert_parts(table.name, period)
            per = f"substr(day, 1, {width})"
            # (WHERE true: SQLite's parser needs it between a SELECT and ON CONFLICT)
            self.conn.exec_driver_sql(f"{head} SELECT {per}, {keys}, {sums} FROM {self.TABLE} WHERE true "
                                      f"GROUP BY {per}, {keys} {tail}")
        self.conn.exec_driver_sql(f"DROP TABLE {self.TABLE}")
