"""Metric sums of a range from the roll-ups (store/rollup.py), exact: edges and unsettled incidents from SQL.

``sums`` answers what ``metrics_sql.group_sums`` answers (the same dict), reading whole days and
months from ``incident_rollup_day``/``_month`` and only a bounded set of incidents one by one:
the slivers of the range that are not whole UTC days, and the incidents that are still
unsettled at ``as_of`` (see rollup.py's docstring for why and how they are found).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from . import metrics_sql, rollup, schema
from .incidents import to_db_time

_T = schema.incidents
DAY = dt.timedelta(days=1)
SLACK = dt.timedelta(minutes=1)  # settles_late_at rebuilt in SQL drops microseconds: look a little wider


def _floor(t: dt.datetime) -> dt.datetime:
    return t.replace(hour=0, minute=0, second=0, microsecond=0)


def _ceil(t: dt.datetime) -> dt.datetime:
    f = _floor(t)
    return f if f == t else f + DAY


def _in(ranges: Sequence[tuple[dt.datetime, dt.datetime]]):
    """reported_at in any of these naive-UTC ranges."""
    if not ranges:
        return sa.false()
    return sa.or_(*[sa.and_(_T.c.reported_at >= a, _T.c.reported_at < b) for a, b in ranges])


def _plan(s: dt.datetime, e: dt.datetime, cuts: Sequence[dt.datetime]):
    """(day ranges read from roll-ups, ranges summed exactly): whole UTC days in [s, e) that no cut
    falls strictly inside, and the rest of [s, e)."""
    d0, d1 = _ceil(s), _floor(e)
    if d0 >= d1:
        return [], [(s, e)]
    cut_days = sorted({_floor(c) for c in cuts if d0 <= _floor(c) < d1 and c != _floor(c)})
    whole, exact, cur = [], [(s, d0)] if s < d0 else [], d0
    for d in cut_days:
        if cur < d:
            whole.append((cur, d))
        exact.append((d, d + DAY))
        cur = d + DAY
    if cur < d1:
        whole.append((cur, d1))
    if d1 < e:
        exact.append((d1, e))
    return whole, exact


def _month_split(a: dt.datetime, b: dt.datetime):
    """[a, b) (whole days) as (day ranges, month ranges): whole UTC months from the month table."""
    m0 = a if a.day == 1 else (a.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    m1 = b.replace(day=1)
    if m0 >= m1:
        return [(a, b)], []
    days = [r for r in ((a, m0), (m1, b)) if r[0] < r[1]]
    return days, [(m0, m1)]


def _rolled(conn, by: str, whole, months, grid_codes: Sequence[str] | None = None) -> dict:
    """Roll-up sums over the whole-day ranges, grouped by ``by`` (of these grids only, if given)."""
    day_ranges, month_ranges = [], []
    for a, b in whole:
        if by == "month":
            day_ranges.append((a, b))
        else:
            d, m = _month_split(a, b)
            day_ranges += d
            month_ranges += m
    out: dict = {}
    for table, period, ranges, fmt in ((schema.rollup_day, "day", day_ranges, "%Y-%m-%d"),
                                       (schema.rollup_month, "month", month_ranges, "%Y-%m")):
        if not ranges:
            continue
        col = table.c[period]
        cond = sa.or_(*[sa.and_(col >= a.strftime(fmt), col < b.strftime(fmt)) for a, b in ranges])
        if grid_codes is not None:
            cond = sa.and_(cond, table.c.grid_code.in_(list(grid_codes)))
        key: Any
        if by == "all":
            key = sa.literal("all")
        elif by == "month":  # a whole day lies before a month's end iff it is before that end's day
            key = sa.case(*[(col < _floor(_db(end)).strftime(fmt), label) for label, end in months],
                          else_=sa.null())
        else:
            key = table.c[metrics_sql.KEY_COLUMNS[by]]
        q = sa.select(key.label("key"), *[sa.func.sum(table.c[s]).label(s) for s in rollup.SUMS]).where(cond)
        if by != "all":
            q = q.group_by(key)
        for r in conn.execute(q).mappings():
            k = None if r["key"] == "" else r["key"]
            _add(out, k, {s: r[s] or 0 for s in metrics_sql.SUMS}, 1)
    return out


def _add(out: dict, key, sums: dict, sign: int) -> None:
    acc = out.setdefault(key, dict.fromkeys(metrics_sql.SUMS, 0))
    for name in metrics_sql.SUMS:
        acc[name] += sign * (sums.get(name) or 0)


def _final(conn, backend: str, by: str, months, where) -> dict:
    """Sums at infinity (the roll-ups' definition) of the incidents ``where`` selects, by ``by``."""
    # the rows first, in a layer of their own: else SQLite may walk a key's index for the GROUP BY
    # and test every incident against ``where`` instead of using the indexes ``where`` can use
    rows = sa.select(_T.c.id).where(where)
    ids = (rows.limit(-1) if backend == "sqlite" else rows).subquery()
    key = metrics_sql.key_expr(by, months)
    q = sa.select(key.label("key"), *rollup.final_sums(backend)).where(_T.c.id.in_(sa.select(ids.c.id)))
    if by != "all":
        q = q.group_by(key)
    return {r["key"]: dict(r) for r in conn.execute(q).mappings() if r["count"]}


def sums(conn, backend: str, by: str, start: dt.datetime, end: dt.datetime, as_of: dt.datetime,
         months=None, response_limit_hours: float | None = None,
         grid_codes: Sequence[str] | None = None) -> dict | None:
    """``metrics_sql.group_sums``'s answer from the roll-ups, or None when they cannot give it
    (another response limit than theirs). ``grid_codes``: only the incidents of these grids."""
    if float(response_limit_hours or 0) != rollup.LIMIT_HOURS:
        return None
    s, e, at = _db(start), _db(end), _db(as_of)
    cuts = [_db(end_) for _, end_ in months or ()] if by == "month" else []
    whole, exact = _plan(s, e, cuts)
    grids = _T.c.grid_code.in_(list(grid_codes)) if grid_codes is not None else None

    recent = at - rollup.WINDOW
    if not whole or whole[0][0] >= recent:
        # nothing, or only days whose incidents would all be checked one by one anyway: one exact scan
        return metrics_sql.group_sums(conn, backend, by, start, end, as_of, months, response_limit_hours, extra=grids)
    out = _rolled(conn, by, whole, months, grid_codes)
    # unsettled at as_of: counted at infinity by the roll-ups; take that out, put the exact share in.
    # Recent ones by the report-time index; older ones only when flagged, by ix_incidents_settles_late
    # (their report time wrapped so the planner does not scan the year by it instead). Each set on its
    # own: under one OR, SQLite walked the grid's whole history by grid_code for the grid page.
    unsettled = sa.or_(_T.c.closed_at > at, _T.c.due_at >= at, _T.c.dispatched_at > at,
                       _T.c.reported_at > at - dt.timedelta(hours=rollup.LIMIT_HOURS))
    near = [(max(a, recent), b) for a, b in whole if b > recent]
    far = [(a, min(b, recent)) for a, b in whole if a < recent]
    wrapped = sa.func.coalesce(_T.c.reported_at, _T.c.reported_at)
    fixes = []
    if near:  # a grid's by ix_incidents_grid_reported (grid, report time)
        fixes.append(sa.and_(unsettled, _in(near), *([grids] if grids is not None else [])))
    if far:  # flagged ones are few: by ix_incidents_settles_late, the grid wrapped so SQLite does not
        # walk the grid's whole history by its grid index instead (it guesses an equality is narrower)
        wrapped_grid = sa.func.coalesce(_T.c.grid_code, _T.c.grid_code)
        fixes.append(sa.and_(unsettled, _T.c.settles_late_at >= at - SLACK,
                             sa.or_(*[sa.and_(wrapped >= a, wrapped < b) for a, b in far]),
                             *([wrapped_grid.in_(list(grid_codes))] if grid_codes is not None else [])))
    for fix in fixes:
        for k, v in _final(conn, backend, by, months, fix).items():
            _add(out, k, v, -1)
    # exactly: the edges, and the unsettled ones (apart: each by its own indexes; a fix names its grids)
    for cond in ([_in(exact) if grids is None else sa.and_(_in(exact), grids)] if exact else []) + fixes:
        for k, v in metrics_sql.group_sums(conn, backend, by, start, end, as_of, months, response_limit_hours,
                                           extra=cond).items():
            if v["count"]:
                _add(out, k, v, 1)
    out = {k: v for k, v in out.items() if v["count"]}
    if by == "all":
        out.setdefault("all", dict.fromkeys(metrics_sql.SUMS, 0))
    return out


def _db(t: dt.datetime) -> dt.datetime:
    """A time as stored (naive UTC); never None here."""
    out = to_db_time(t)
    assert out is not None
    return out
