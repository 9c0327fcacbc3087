"""Dispatch metrics computed by the database (SQLite and PostgreSQL), not by Python loops.

The definitions are those of ``gridmap.incidents.metrics`` (read its docstring); here each is
one CASE expression summed per group in a single scan of the in-range incidents:

    filed    status NOT IN (rejected, merged, reported) AND merged_into IS NULL
    closed   filed AND status = 'closed' AND (closed_at IS NULL OR closed_at <= :as_of)
    overdue  filed AND NOT closed AND due_at < :as_of            (due = closed + overdue)
    on time  closed AND closed_at <= due_at (both set)
    rework   closed AND rework_count > 0;   extended: due AND extended
    hours    (closed_at - reported_at) in hours over closed incidents with closed_at

The p90 of hours needs order statistics: ``ROW_NUMBER() OVER (PARTITION BY key ORDER BY
hours)`` and ``COUNT(*) OVER (PARTITION BY key)`` (window functions: SQLite >= 3.25) pick the
two rows around position ``0.9 * (n - 1)``, and the caller interpolates between them as
numpy's "linear" percentile does. Hotline measures (三率) are sums of the same kind; see
``gridmap.incidents.metrics_db`` for their definitions.

Grouping keys: grid, zone, town (their codes), worker (assignee), category, all, and month
(``YYYY-MM`` of reported_at in the caller's time zone, given as month boundaries in UTC so
the query needs no time-zone support from the database).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

import sqlalchemy as sa

from . import schema
from .incidents import to_db_time

EXCLUDED = ("rejected", "merged", "reported")
KEY_COLUMNS = {"grid": "grid_code", "zone": "zone_code", "town": "town_code", "worker": "assignee",
               "category": "category"}
SUMS = ("count", "filed", "due", "closed", "closed_on_time", "overdue_open", "rework", "extended", "rated",
        "rating_sum", "responded", "response_due", "resolved", "resolution_asked",
        "satisfied")

_T = schema.incidents


def _hours(backend: str, a, b):
    """Hours from b to a (naive UTC columns), as Python's ``(a - b).total_seconds() / 3600``.

    Both backends first take the exact difference in whole microseconds, then divide in
    IEEE doubles, so each value is bit-for-bit the one the Python metrics compute.
    """
    if backend == "postgresql":
        us = sa.cast(sa.extract("epoch", a - b) * 1_000_000, sa.BigInteger)
        return sa.cast(us, sa.Float) / sa.cast(1_000_000.0, sa.Float) / sa.cast(3600.0, sa.Float)
    # SQLite stores 'YYYY-MM-DD HH:MM:SS.ffffff': whole seconds by strftime, microseconds from the text
    # (strftime sees the fraction, in milliseconds: .9996 s would round up into the next second)
    secs = (sa.cast(sa.func.strftime("%s", sa.func.substr(a, 1, 19)), sa.Integer)
            - sa.cast(sa.func.strftime("%s", sa.func.substr(b, 1, 19)), sa.Integer))
    micros = sa.cast(sa.func.substr(a, 21, 6), sa.Integer) - sa.cast(sa.func.substr(b, 21, 6), sa.Integer)
    return (secs * 1_000_000 + micros) / 1_000_000.0 / 3600.0


def _key(by: str, months: Sequence[tuple[str, dt.datetime]] | None):
    if by == "all":
        return sa.literal("all")
    if by == "month":
        # months: (label, end of that month in UTC), ascending; reported_at < end picks the first
        whens = [(_T.c.reported_at < to_db_time(end), label) for label, end in months or ()]
        return sa.case(*whens, else_=sa.null()) if whens else sa.null()
    return _T.c[KEY_COLUMNS[by]]


hours = _hours  # public: store/rollup.py tests "responded" exactly as group_sums does
key_expr = _key  # public: the grouping key expression of ``by`` (store/rollup_query.py)


def _flags(as_of: dt.datetime, status=None):
    """(filed, closed, overdue) conditions; ``status``: the expression to test (default the column)."""
    t = _T
    at = to_db_time(as_of)
    status = t.c.status if status is None else status
    filed = sa.and_(status.notin_(EXCLUDED), t.c.merged_into.is_(None))
    closed = sa.and_(filed, status == "closed", sa.or_(t.c.closed_at.is_(None), t.c.closed_at <= at))
    overdue = sa.and_(filed, sa.not_(closed), t.c.due_at.is_not(None), t.c.due_at < at)
    return filed, closed, overdue


def _one(cond):
    return sa.func.sum(sa.case((cond, 1), else_=0))


def _layer(q, backend: str):
    """A subquery the planner keeps as a layer (SQLite flattens subqueries, repeating every
    expression per reference: LIMIT -1 stops that; PostgreSQL evaluates each column once anyway)."""
    return (q.limit(-1) if backend == "sqlite" else q).subquery()


def _flag(cond):
    return sa.case((cond, 1), else_=0)


def _ids(cond, backend: str):
    """The ids ``cond`` selects, in a layer of their own (store/rollup_query.py's edge and correction
    sets): SQLite then uses the indexes ``cond`` can use instead of scanning the range."""
    q = sa.select(_T.c.id).where(cond)
    return sa.select(_layer(q, backend).c.id)


def _range(start: dt.datetime, end: dt.datetime, extra, backend: str) -> list:
    """Reported in [start, end) (and ``extra``: then by the ids it selects, see ``_ids``)."""
    t = _T
    if extra is None:
        return [t.c.reported_at >= to_db_time(start), t.c.reported_at < to_db_time(end)]
    # the range wrapped: ``extra``'s own indexes pick the rows, not a scan of the whole range
    wrapped = sa.func.coalesce(t.c.reported_at, t.c.reported_at)
    return [t.c.id.in_(_ids(sa.and_(wrapped >= to_db_time(start), wrapped < to_db_time(end), extra), backend))]


def group_sums(conn, backend: str, by: str, start: dt.datetime, end: dt.datetime, as_of: dt.datetime,
               months: Sequence[tuple[str, dt.datetime]] | None = None,
               response_limit_hours: float | None = None, extra=None) -> dict:
    """{key: {sum name: value}} over incidents reported in [start, end), judged at ``as_of``.

    ``extra``: a further condition on ``incidents`` rows (store/rollup_query.py: edges, corrections).
    ``response_limit_hours``: the hotline's response limit (响应时限): a filed incident is
    responded when dispatched within that many hours of its report (as of ``as_of``).
    Three layers, so each flag is computed once per incident: (1) the key and ``filed``,
    (2) ``closed`` and ``overdue`` from it, (3) the sums.
    """
    t = _T
    at = to_db_time(as_of)
    limit = float(response_limit_hours or 0)
    cols = [t.c.status, t.c.closed_at, t.c.due_at, t.c.rework_count, t.c.reopen_count, t.c.extended, t.c.rating,
            t.c.dispatched_at, t.c.reported_at]
    one = _layer(sa.select(_key(by, months).label("key"),
                           _flag(sa.and_(t.c.status.notin_(EXCLUDED), t.c.merged_into.is_(None))).label("f"), *cols)
                 .where(*_range(start, end, extra, backend)), backend)
    closed_now = sa.and_(one.c.f == 1, one.c.status == "closed",
                         sa.or_(one.c.closed_at.is_(None), one.c.closed_at <= at))
    two = _layer(sa.select(one, _flag(closed_now).label("c"),
                           _flag(sa.and_(one.c.f == 1, sa.not_(closed_now), one.c.due_at.is_not(None),
                                         one.c.due_at < at)).label("od")), backend)
    x = two.c
    closed, due = x.c == 1, sa.or_(x.c == 1, x.od == 1)
    responded = sa.and_(x.f == 1, x.dispatched_at.is_not(None), x.dispatched_at <= at,
                        _hours(backend, x.dispatched_at, x.reported_at) <= limit)
    # due a response: responded, or the limit has run out by as_of (one still inside it is not judged yet)
    late_enough = x.reported_at <= to_db_time(as_of - dt.timedelta(hours=limit))
    sums = [
        sa.func.count().label("count"),
        sa.func.sum(x.f).label("filed"),
        sa.func.sum(x.c + x.od).label("due"),
        sa.func.sum(x.c).label("closed"),
        _one(sa.and_(closed, x.closed_at.is_not(None), x.due_at.is_not(None), x.closed_at <= x.due_at))
        .label("closed_on_time"),
        sa.func.sum(x.od).label("overdue_open"),
        _one(sa.and_(closed, x.rework_count > 0)).label("rework"),
        _one(sa.and_(due, x.extended != 0)).label("extended"),
        sa.func.count(x.rating).label("rated"),
        sa.func.sum(x.rating).label("rating_sum"),
        _one(responded).label("responded"),
        _one(sa.and_(x.f == 1, sa.or_(late_enough, responded))).label("response_due"),
        _one(sa.and_(closed, x.rating.is_not(None), x.reopen_count == 0)).label("resolved"),
        _one(sa.and_(closed, x.rating.is_not(None))).label("resolution_asked"),
        _one(x.rating >= 4).label("satisfied"),
    ]
    if by == "all":  # one row, even over nothing (count 0)
        q = sa.select(sa.literal("all").label("key"), *sums)
    else:
        q = sa.select(x.key, *sums).group_by(x.key)
    return {r["key"]: {name: (r[name] or 0) for name in SUMS} for r in conn.execute(q).mappings()}


def p90_rows(conn, backend: str, by: str, start: dt.datetime, end: dt.datetime, as_of: dt.datetime,
             months: Sequence[tuple[str, dt.datetime]] | None = None, extra=None,
             grid_codes: Sequence[str] | None = None) -> dict:
    """{key: (n, sum of hours, {position: hours})}: per group, the count and sum of hours to close
    and the sorted hours around position 0.9 (n-1) (``lo - 1 .. lo + 2``: the caller picks numpy's
    two, its float index may round either way). Hours are the stored ``close_hours``.
    ``extra``: a further condition on ``incidents`` rows, as in ``group_sums``; ``grid_codes``: only
    these grids' incidents (read by ix_incidents_grid_reported: the grid and the report-time range).

    PostgreSQL sorts each group in one aggregate (``array_agg(hours ORDER BY hours)``) and returns
    only those four elements. SQLite has no ordered aggregate; a window ``ROW_NUMBER()`` over a
    year of a city's incidents costs seconds there, so it streams ``(key, hours)`` of the closed
    incidents (one C-level scan, two numbers a row) and numpy sorts each group.
    """
    t = _T
    # SQLite: status wrapped so no index seeks on it: with no statistics SQLite would pick
    # ix_incidents_status_due for status = 'closed' and fetch most of the table row by row (8 s at 1M),
    # instead of the range of the covering ix_incidents_metrics. PostgreSQL plans by its statistics.
    if backend == "postgresql":
        # _flags' closed test said without its redundant terms (closed is not an excluded status; a closing
        # time set and not after as_of): PostgreSQL multiplied their selectivities, guessed 80k of 281k
        # rows and chose a bitmap heap scan over the index-only scan of ix_incidents_metrics (0.20 s vs 0.07 s)
        closed = sa.and_(t.c.status == "closed", t.c.merged_into.is_(None), t.c.closed_at <= to_db_time(as_of))
        timed = [t.c.close_hours.is_not(None)]
    else:
        _, closed, _ = _flags(as_of, sa.func.coalesce(t.c.status, t.c.status))
        timed = [t.c.closed_at.is_not(None), t.c.close_hours.is_not(None)]
    hours = t.c.close_hours.label("hours")  # kept with each write (migration 0013): in the covering index
    key = _key(by, months).label("key")
    where = (*_range(start, end, extra, backend), closed, *timed,
             *([t.c.grid_code.in_(list(grid_codes))] if grid_codes is not None else []))
    if backend == "postgresql":
        return _p90_postgresql(conn, key, hours, where, by)
    return _p90_packed(conn, key, where, by) or _p90_streamed(conn, sa.select(key, hours).where(*where))


def _neighbours(n: int) -> range:
    lo = int(0.9 * (n - 1))
    return range(max(lo - 1, 0), min(lo + 3, n))


def _p90_postgresql(conn, key, hours, where, by: str) -> dict:
    from sqlalchemy.dialects import postgresql as pg

    arr = sa.type_coerce(sa.func.array_agg(pg.aggregate_order_by(hours, hours)),
                         pg.ARRAY(sa.Float, zero_indexes=True))
    cols = [key, sa.func.count().label("n"), sa.func.sum(hours).label("total"), arr.label("arr")]
    q = sa.select(*cols).where(*where)
    inner = (q.group_by(key) if by != "all" else q).subquery()
    lo = sa.cast(sa.func.floor(0.9 * (inner.c.n - 1)), sa.Integer)
    a = sa.type_coerce(inner.c.arr, pg.ARRAY(sa.Float, zero_indexes=True))
    picks = [a[lo + d].label(f"p{d + 1}") for d in (-1, 0, 1, 2)]  # out of range: NULL
    out: dict = {}
    for k, n, total, *vals in conn.execute(sa.select(inner.c.key, inner.c.n, inner.c.total, *picks)).all():
        if not n:
            continue
        lo_i = int(0.9 * (n - 1))
        around = {lo_i + d: float(v) for d, v in zip((-1, 0, 1, 2), vals) if v is not None}
        out[k] = (n, float(total), around)
    return out


_US_PER_HOUR = 3_600_000_000.0
_NULL_KEY, _SEP = "\x1e", "\x1f"  # ASCII record / unit separators: never in a code, a name or a month label


def _p90_packed(conn, key, where, by: str) -> dict | None:
    """SQLite: ``p90_rows``'s answer from one row: the keys and the hours of the in-range closed incidents
    as two ``group_concat`` strings, parsed and sorted by numpy. Handing 281k (key, hours) rows to Python
    one by one cost more than the scan (at 1M incidents, 2024 by zone: 0.30 s; this: 0.26 s; by all 0.20 s).

    The hours travel as whole microseconds (``round(close_hours * 3.6e9)``; SQLite prints a REAL with
    15 digits, which would not be exact) and come back as ``us / 1e6 / 3600``, the very operations that
    computed ``close_hours`` (store/incidents.py, migration 0013), so each value is bit-for-bit the
    stored one. None (the caller streams the rows instead) when that cannot hold: more than 2^50 us
    (35 years) to close, or a key holding a separator."""
    import numpy as np

    us = sa.cast(sa.func.round(_T.c.close_hours * _US_PER_HOUR), sa.Integer)
    cols = [sa.func.count(), sa.func.group_concat(us, ","), sa.func.max(sa.func.abs(us))]
    if by != "all":
        cols.append(sa.func.group_concat(sa.func.coalesce(key, _NULL_KEY), _SEP))
    n, values, biggest, *keys = conn.execute(sa.select(*cols).where(*where)).one()
    if not n:
        return {}
    if biggest >= 2 ** 50:
        return None
    v = np.fromstring(values, sep=",", dtype=np.int64)  # text mode: the fast int parser
    if by == "all":
        codes, labels = np.zeros(len(v), dtype=np.int64), np.array(["all"], dtype=object)
    else:
        split = keys[0].split(_SEP)
        if len(split) != len(v):
            return None
        index: dict[str, int] = {}  # (not pandas.factorize: importing pandas costs the CLI 0.8 s)
        codes = np.fromiter((index.setdefault(k, len(index)) for k in split), dtype=np.int64, count=len(split))
        labels = np.array(list(index), dtype=object)
    order = np.lexsort((v, codes))  # by group, then hours
    group, v = codes[order], v[order]
    hours = v / 1e6 / 3600
    bounds = np.searchsorted(group, np.arange(len(labels) + 1))
    out: dict = {}
    for g, label in enumerate(labels):
        h = hours[bounds[g]:bounds[g + 1]]
        k = None if label == _NULL_KEY else label
        # fsum: correctly rounded, so the mean does not depend on the order the rows came in
        out[k] = (len(h), math.fsum(h.tolist()), {i: float(h[i]) for i in _neighbours(len(h))})
    return out


def _p90_streamed(conn, q) -> dict:
    import numpy as np

    groups: dict = {}
    for k, h in conn.execute(q):
        groups.setdefault(k, []).append(h)
    out: dict = {}
    for k, hs in groups.items():
        v = np.sort(np.asarray(hs, dtype=float))
        # fsum: correctly rounded, so the mean does not depend on the order the index gave the rows in
        out[k] = (len(v), math.fsum(hs), {i: float(v[i]) for i in _neighbours(len(v))})
    return out
