"""Daily metric roll-ups: the metrics of a long range summed from a few rows, kept in step with writes.

``incident_rollup_day`` and ``incident_rollup_month`` hold, per UTC day (month) x grid x zone x
town x assignee x category, every sum ``metrics_sql.group_sums`` takes, as judged once every
deadline has passed ("at infinity"), plus the count and integer microseconds of report -> close
for the mean. Each incident write adds its rows' contribution in the same transaction
(``add``), an update first takes the old one out (``remove``): the tables always equal
``rebuild`` (migration 0011 fills them; ``gridmap incidents rollup --rebuild`` redoes it).

A query over [start, end) judged at ``as_of`` (``sums``):

1. whole UTC months and days inside the range come from the roll-ups (for ``by=month`` only
   days that no local month boundary cuts); the slivers at the edges (a local midnight is not
   a UTC one) are summed exactly from ``incidents`` (``metrics_sql.group_sums``);
2. an incident still *unsettled* at ``as_of`` (closed, due, dispatched after it, or reported
   within the response limit before it) counts differently at ``as_of`` than at infinity: for
   those the roll-up's share is subtracted and the exact one added. They are found by index:
   reported within ``WINDOW`` before ``as_of`` (``ix_incidents_metrics``), or flagged by
   ``settles_late_at`` (``ix_incidents_settles_late``), set when an incident settles more
   than ``LATE`` after its report.

The responded count depends on the response limit: roll-ups hold it for ``LIMIT_HOURS``
(the default setting); another limit is answered by the exact scan. The p90 stays exact
(``metrics_sql.p90_rows``): order statistics do not add up.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

import sqlalchemy as sa

from . import schema

LIMIT_HOURS = 2.0  # the response limit the roll-ups count "responded" for (settings' default)
WINDOW = dt.timedelta(days=30)  # reported this long before as_of: checked one by one
LATE = dt.timedelta(days=29)  # settling later than this after the report: flagged (< WINDOW: margin)
KEYS = schema.ROLLUP_KEYS
SUMS = (*schema.ROLLUP_SUMS, "hours_us")
_T = schema.incidents
EXCLUDED = ("rejected", "merged", "reported")


def settles_late_at(row: dict) -> dt.datetime | None:
    """For an incident row (naive UTC times): the time after which its metrics no longer depend on
    ``as_of``, when that is more than ``LATE`` after its report; else None."""
    rep = row["reported_at"]
    settle = max([rep + dt.timedelta(hours=LIMIT_HOURS)]
                 + [row[k] for k in ("closed_at", "due_at", "dispatched_at") if row.get(k) is not None])
    return settle if settle > rep + LATE else None


def micros(backend: str, a, b):
    """Whole microseconds from b to a (naive UTC columns), exact on both backends."""
    if backend == "postgresql":
        return sa.cast(sa.extract("epoch", a - b) * 1_000_000, sa.BigInteger)
    secs = (sa.cast(sa.func.strftime("%s", sa.func.substr(a, 1, 19)), sa.Integer)
            - sa.cast(sa.func.strftime("%s", sa.func.substr(b, 1, 19)), sa.Integer))
    return secs * 1_000_000 + (sa.cast(sa.func.substr(a, 21, 6), sa.Integer)
                               - sa.cast(sa.func.substr(b, 21, 6), sa.Integer))


def _one(cond):
    return sa.func.sum(sa.case((cond, 1), else_=0))


def final_sums(backend: str) -> list:
    """The SUM columns of ``incidents`` rows as judged at infinity (metrics_sql's definitions)."""
    from . import metrics_sql  # (it imports incidents, which imports this module)

    t = _T
    f = sa.and_(t.c.status.notin_(EXCLUDED), t.c.merged_into.is_(None))
    c = sa.and_(f, t.c.status == "closed")
    od = sa.and_(f, sa.not_(c), t.c.due_at.is_not(None))
    due = sa.or_(c, od)
    timed = sa.and_(c, t.c.closed_at.is_not(None))
    return [
        sa.func.count().label("count"), _one(f).label("filed"), _one(due).label("due"), _one(c).label("closed"),
        _one(sa.and_(c, t.c.closed_at.is_not(None), t.c.due_at.is_not(None), t.c.closed_at <= t.c.due_at))
        .label("closed_on_time"),
        _one(od).label("overdue_open"), _one(sa.and_(c, t.c.rework_count > 0)).label("rework"),
        _one(sa.and_(due, t.c.extended != 0)).label("extended"),
        sa.func.count(t.c.rating).label("rated"), sa.func.coalesce(sa.func.sum(t.c.rating), 0).label("rating_sum"),
        # the same test as metrics_sql: hours in doubles <= limit (us / 1e6 / 3600 <= limit)
        _one(sa.and_(f, t.c.dispatched_at.is_not(None),
                     metrics_sql.hours(backend, t.c.dispatched_at, t.c.reported_at) <= LIMIT_HOURS)).label("responded"),
        _one(f).label("response_due"),
        _one(sa.and_(c, t.c.rating.is_not(None), t.c.reopen_count == 0)).label("resolved"),
        _one(sa.and_(c, t.c.rating.is_not(None))).label("resolution_asked"),
        _one(t.c.rating >= 4).label("satisfied"),
        _one(timed).label("hours_n"),
        sa.func.coalesce(sa.func.sum(sa.case((timed, micros(backend, t.c.closed_at, t.c.reported_at)),
                                             else_=0)), 0).label("hours_us"),
    ]


def _period(backend: str, width: int):
    if backend == "postgresql":
        return sa.func.to_char(_T.c.reported_at, "YYYY-MM-DD" if width == 10 else "YYYY-MM")
    return sa.func.substr(_T.c.reported_at, 1, width)


def _statements(backend: str, where, sign: int) -> list:
    """The INSERT ... SELECT ... ON CONFLICT statements of ``_apply`` (one per roll-up table)."""
    out = []
    for table, period, width in ((schema.rollup_day, "day", 10), (schema.rollup_month, "month", 7)):
        per = _period(backend, width)
        keys = [sa.func.coalesce(_T.c[k], "") for k in KEYS]
        sel = sa.select(per.label(period), *[c.label(k) for c, k in zip(keys, KEYS)], *final_sums(backend)) \
            .where(where).group_by(per, *keys)
        cols = [period, *KEYS, *SUMS]
        if sign < 0:
            sub = sel.subquery()
            sel = sa.select(*[sub.c[n] for n in (period, *KEYS)], *[-sub.c[s] for s in SUMS]).where(sa.true())
        if backend == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
        ins = insert(table).from_select(cols, sel)
        ins = ins.on_conflict_do_update(index_elements=[period, *KEYS],
                                        set_={s: table.c[s] + ins.excluded[s] for s in SUMS})
        out.append(ins)
    return out


# Built once per (backend, sign, selection) with bound parameters and reused: building these ~200-node
# statements (and their cache keys) took ~40 ms of CPU per incident write, more than running them.
_BY_IDS = {"range": sa.and_(_T.c.id >= sa.bindparam("lo"), _T.c.id <= sa.bindparam("hi")),
           "list": _T.c.id.in_(sa.bindparam("ids", expanding=True))}
_cache: dict[tuple[str, int, str], list] = {}


def _cached(backend: str, sign: int, kind: str) -> list:
    key = (backend, sign, kind)
    if key not in _cache:
        _cache[key] = _statements(backend, _BY_IDS[kind], sign)
    return _cache[key]


def _finish(conn, sign: int) -> None:
    if sign < 0:  # rows that fell to nothing go (their key may never come back)
        for table in (schema.rollup_day, schema.rollup_month):
            conn.execute(table.delete().where(table.c["count"] == 0))


def _apply(conn, backend: str, where, sign: int) -> None:
    """Add (sign 1) or take out (sign -1) the contribution of the incidents ``where`` selects."""
    for ins in _statements(backend, where, sign):
        conn.execute(ins)
    _finish(conn, sign)


def _apply_ids(conn, backend: str, ids: Sequence[int], sign: int) -> None:
    """``_apply`` for the incidents ``ids`` (one run of ids, as a batch insert gives, or any list)."""
    ids = sorted({int(i) for i in ids})  # distinct: [1, 1, 3] is not the run 1..3
    params: dict[str, int | list[int]]
    if ids[-1] - ids[0] + 1 == len(ids):
        kind, params = "range", {"lo": ids[0], "hi": ids[-1]}
    else:
        kind, params = "list", {"ids": ids}
    for ins in _cached(backend, sign, kind):
        conn.execute(ins, params)
    _finish(conn, sign)


def add(conn, backend: str, ids: Sequence[int]) -> None:
    """Count incidents ``ids`` (just written, same transaction) into the roll-ups."""
    if ids:
        _apply_ids(conn, backend, ids, 1)


def remove(conn, backend: str, ids: Iterable[int]) -> None:
    """Take incidents ``ids`` (as stored now, before an update) out of the roll-ups."""
    ids = list(ids)
    if ids:
        _apply_ids(conn, backend, ids, -1)


def rebuild(conn, backend: str) -> int:
    """Recompute both roll-ups and every incident's ``settles_late_at`` from ``incidents``; rows written."""
    t = _T
    rep2 = (sa.func.datetime(t.c.reported_at, f"+{int(LIMIT_HOURS * 3600)} seconds") if backend == "sqlite"
            else t.c.reported_at + sa.text(f"interval '{int(LIMIT_HOURS * 3600)} seconds'"))
    late = (sa.func.datetime(t.c.reported_at, f"+{LATE.days} days") if backend == "sqlite"
            else t.c.reported_at + sa.text(f"interval '{LATE.days} days'"))
    parts = [sa.func.coalesce(t.c[k], t.c.reported_at) for k in ("closed_at", "due_at", "dispatched_at")]
    # SQLite's max() of text times compares them as text, which orders these ISO times correctly
    settle = (sa.func.max(rep2, *parts) if backend == "sqlite" else sa.func.greatest(rep2, *parts))
    conn.execute(t.update().values(settles_late_at=sa.case((settle > late, settle), else_=sa.null())))
    for table in (schema.rollup_day, schema.rollup_month):
        conn.execute(table.delete())
    _apply(conn, backend, sa.true(), 1)
    return sum(conn.execute(sa.select(sa.func.count()).select_from(tb)).scalar()
               for tb in (schema.rollup_day, schema.rollup_month))
