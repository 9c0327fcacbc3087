"""Fast many-row INSERT for SQLite: the driver's executemany over plain tuples.

SQLAlchemy's executemany runs every value through its type processors in Python (about half
the time of a bulk import). Here each column's conversion is chosen once per table, values
are stored exactly as SQLAlchemy stores them on SQLite (DateTime as
``YYYY-MM-DD HH:MM:SS.ffffff``, JSON as ``json.dumps`` text, booleans as 0/1), so rows read
back the same through the ordinary Core queries.
"""

from __future__ import annotations

import datetime as dt
import json
import operator
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa


def _time(v: dt.datetime | None) -> str | None:
    return None if v is None else v.isoformat(" ", "microseconds")


def _json(v: Any) -> str:
    return json.dumps(v)  # SQLAlchemy's JSON stores None as 'null' too


def _json_same() -> Callable[[Any], str]:
    """``_json`` that reuses the text while it is handed the very same object (a file's import
    gives all its events one ``{"file": name}``: one dumps a batch, not one a row)."""
    last: list[Any] = [None, "null"]

    def conv(v: Any) -> str:
        if v is not last[0]:
            last[0], last[1] = v, json.dumps(v)
        return last[1]

    return conv


def _converters(table: sa.Table) -> list[tuple[str, Callable[[Any], Any] | None]]:
    out: list[tuple[str, Callable[[Any], Any] | None]] = []
    for c in table.columns:
        if isinstance(c.type, sa.DateTime):
            out.append((c.name, _time))
        elif isinstance(c.type, sa.JSON):
            out.append((c.name, _json))
        else:
            out.append((c.name, None))
    return out


def insert_rows(conn, table: sa.Table, rows: Sequence[dict]) -> None:
    """INSERT ``rows`` (dicts by column name, all with the keys of the first; a column absent
    from the first row takes its scalar default, or NULL)."""
    if not rows:
        return
    first = rows[0]
    names, fns = [], []
    for name, fn in _converters(table):
        col = table.c[name]
        fn = _json_same() if fn is _json else fn
        if name in first:
            names.append(name)
            fns.append(fn)
        elif col.default is not None and not callable(default := getattr(col.default, "arg", None)):
            names.append(name)
            fns.append(_constant(default))
    get = operator.itemgetter(*names)
    conv = [(k, f) for k, f in enumerate(fns) if f is not None]
    params = []
    for r in rows:
        t = list(get({**r, **{n: None for n in names if n not in r}}) if len(r) < len(names) else get(r))
        for k, f in conv:
            t[k] = f(t[k])
        params.append(tuple(t))
    sql = f'INSERT INTO "{table.name}" ({", ".join(names)}) VALUES ({", ".join("?" * len(names))})'
    conn.exec_driver_sql(sql, params)


def copy_rows_pg(conn, table: sa.Table, rows: Sequence[dict], with_ids: bool = True) -> list[int]:
    """PostgreSQL: COPY ``rows`` into ``table``; ids drawn from its sequence first, so they come
    back in row order (``with_ids``). Same transaction as ``conn``; JSON columns as ``json.dumps`` text.
    """
    if not rows:
        return []
    ids: list[int] = []
    if with_ids:
        seq = conn.exec_driver_sql(f"SELECT pg_get_serial_sequence('{table.name}', 'id')").scalar()
        ids = list(conn.exec_driver_sql(f"SELECT nextval('{seq}') FROM generate_series(1, {len(rows)})").scalars())
    first = rows[0]
    cols = [c for c in table.columns if c.name in first and c.name != "id"]
    json_at = [k for k, c in enumerate(cols) if isinstance(c.type, sa.JSON)]
    names = (["id"] if with_ids else []) + [c.name for c in cols]
    get = operator.itemgetter(*[c.name for c in cols])
    raw = conn.connection.driver_connection  # psycopg 3: COPY ... FROM STDIN inside this transaction
    with raw.cursor() as cur:
        with cur.copy(f'COPY "{table.name}" ({", ".join(names)}) FROM STDIN') as copy:
            for k, r in enumerate(rows):
                values = list(get(r))
                for j in json_at:
                    values[j] = _json(values[j])
                copy.write_row(([ids[k]] if with_ids else []) + values)
    return ids


def _constant(value: Any) -> Callable[[Any], Any]:
    """A converter ignoring its input: a column's scalar default for rows that lack the column."""
    return lambda _v: value
