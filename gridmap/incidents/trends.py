"""The dashboard's trends and breakdowns, computed by the database (metrics_db.compute_db).

``breakdowns`` answers, for the dashboard and its one-screen wall view (大屏):

- ``trend``: the 12 local months up to ``as_of`` (the current month so far included), one row
  each: count, 结案率, 按期结案率, 满意度; months without an incident are there with count 0;
- ``categories``: the period's incidents by category, most first (at most ``limit`` rows and
  an "other" row summing the rest; ``share`` of the total, ``of_top`` of the largest row);
- ``towns``: the same by town (镇街), with names.

Every figure is a group sum in SQL (gridmap/store/metrics_sql.py), so the cost is a few
index-range scans whatever the number of incidents, and every list is bounded.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from .metrics_db import compute_db

TREND_MONTHS = 12
LIMIT = 12  # rows per breakdown; the rest is summed into one "other" row
_KEEP = ("count", "due", "closed", "closure_rate", "on_time_rate", "satisfaction", "rated", "overdue_open")


def month_start(t: dt.datetime, back: int = 0) -> dt.datetime:
    """The first instant of the local month `back` months before the one `t` is in (t's time zone)."""
    y, m = divmod(t.year * 12 + t.month - 1 - back, 12)  # back < 0: months ahead
    m += 1
    return t.replace(year=y, month=m, day=1, hour=0, minute=0, second=0, microsecond=0)


def _row(m) -> dict[str, Any]:
    return {k: (round(getattr(m, k), 4) if isinstance(getattr(m, k), float) else getattr(m, k)) for k in _KEEP}


def trend(repo, as_of: dt.datetime, tz: dt.tzinfo, months: int = TREND_MONTHS,
          response_limit_hours: float = 2.0) -> list[dict[str, Any]]:
    """One row per local month for the `months` months up to as_of (its month so far; oldest first)."""
    # the month of the last instant before as_of: as_of at 00:00 on the 1st ends the month before
    local = (as_of - dt.timedelta(microseconds=1)).astimezone(tz)
    start = month_start(local, months - 1)
    end = month_start(local, -1)  # the start of the next month: the current month is counted so far
    rows, _ = compute_db(repo, "month", start, end, as_of=as_of, tz=tz, response_limit_hours=response_limit_hours)
    got = {r.key: r for r in rows}
    out = []
    for back in range(months - 1, -1, -1):
        label = f"{month_start(local, back):%Y-%m}"
        r = got.get(label)
        out.append({"month": label, **(_row(r) if r else dict.fromkeys(_KEEP, 0) | {
            "closure_rate": None, "on_time_rate": None, "satisfaction": None})})
    return out


def breakdown(repo, by: str, start: dt.datetime, end: dt.datetime, as_of: dt.datetime, tz: dt.tzinfo,
              names: dict[str, str], limit: int = LIMIT, response_limit_hours: float = 2.0) -> dict[str, Any]:
    """The period's incidents by `by` (category or town), most first, `limit` rows and the rest summed."""
    rows, _ = compute_db(repo, by, start, end, as_of=as_of, tz=tz, response_limit_hours=response_limit_hours)
    rows = sorted(rows, key=lambda r: (-r.count, str(r.key)))
    total = sum(r.count for r in rows)
    top = rows[0].count if rows else 0
    shown = [{"code": r.key, "name": names.get(r.key or "", r.key or "—"), **_row(r),
              "share": round(r.count / total, 4) if total else None,
              "of_top": round(r.count / top, 4) if top else None} for r in rows[:limit]]
    rest = rows[limit:]
    other = None
    if rest:
        n = sum(r.count for r in rest)
        other = {"groups": len(rest), "count": n, "share": round(n / total, 4) if total else None}
    return {"by": by, "total": total, "groups": len(rows), "rows": shown, "other": other}


def breakdowns(repo, taxonomy, town_names: dict[str, str], start: dt.datetime, end: dt.datetime,
               as_of: dt.datetime, tz: dt.tzinfo, response_limit_hours: float = 2.0) -> dict[str, Any]:
    """The trend of the last 12 months and the period by category and by town (see the module docstring)."""
    cats = {c.code: c.name for c in taxonomy}
    kw = {"response_limit_hours": response_limit_hours}
    return {"trend": trend(repo, as_of, tz, **kw),
            "categories": breakdown(repo, "category", start, end, as_of, tz, cats, **kw),
            "towns": breakdown(repo, "town", start, end, as_of, tz, town_names, **kw)}
