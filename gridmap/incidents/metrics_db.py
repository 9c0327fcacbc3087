"""Dispatch metrics from the database: the definitions of ``metrics`` computed by SQL.

``compute_db`` answers what ``metrics.compute`` answers (same Metrics, same groups, same
order) without loading incidents into Python: the store sums each group in one scan
(gridmap/store/metrics_sql.py) and only the ratios are taken here. It also groups by town
and by month, and gives the 12345 hotline's three rates (三率) per group:

    response_rate   响应率 = responded / response_due
        responded: filed and dispatched no later than ``response_limit_hours`` after the
        report (and by ``as_of``); response_due: filed and responded, or reported at least
        ``response_limit_hours`` before ``as_of`` (one still inside its limit is not judged).
    resolution_rate 解决率 = resolved / closed_rated
        closed_rated: closed (at ``as_of``) and rated by the reporter; resolved: of those,
        never reopened by the reporter (the reporter confirmed it solved).
    satisfaction_rate 满意率 = satisfied / rated
        rated: in-range incidents with a rating (as for 满意度); satisfied: rating 4 or 5
        (满意 / 非常满意 on the 1-5 scale).

Each rate is None when its denominator is 0.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import InputError
from ..i18n import tr
from .metrics import GROUP_FIELDS, Metrics, key_order, ratio, require_aware

BY_DB = sorted([*GROUP_FIELDS, "month"])
MAX_MONTHS = 1200  # by month: one CASE branch per month; 100 years is more than any history


@dataclass(frozen=True)
class HotlineRates:
    """The 12345 hotline's 三率 of one group (see the module docstring)."""

    key: str | None
    response_rate: float | None
    resolution_rate: float | None
    satisfaction_rate: float | None
    responded: int
    response_due: int
    resolved: int
    closed_rated: int
    satisfied: int


def month_bounds(start: dt.datetime, end: dt.datetime, tz: dt.tzinfo) -> list[tuple[str, dt.datetime]]:
    """(``YYYY-MM``, end of that month as an aware time) for every local month [start, end) touches."""
    local = start.astimezone(tz)
    y, m = local.year, local.month
    out = []
    while True:
        ny, nm = (y + 1, 1) if m == 12 else (y, m + 1)
        month_end = dt.datetime(ny, nm, 1, tzinfo=tz)
        out.append((f"{y:04d}-{m:02d}", month_end))
        if month_end >= end:
            return out
        y, m = ny, nm


def p90_linear(n: int, around: dict[int, float]) -> float:
    """numpy.percentile(values, 90, method="linear") from the sorted values near its position."""
    virtual = (n - 1) * (90 / 100)  # numpy's virtual index for "linear"
    if virtual >= n - 1:
        return around[n - 1]
    lo = math.floor(virtual)
    gamma = virtual - lo
    a, b = around[lo], around[lo + 1]
    diff = b - a
    return b - diff * (1 - gamma) if gamma >= 0.5 else a + diff * gamma  # numpy's _lerp


def compute_db(repo, by: str, start: dt.datetime, end: dt.datetime, as_of: dt.datetime | None = None,
               tz: dt.tzinfo = dt.timezone.utc,
               response_limit_hours: float = 2.0,
               grid_codes: Sequence[str] | None = None) -> tuple[list[Metrics], list[HotlineRates]]:
    """Metrics and 三率 per group, computed by the store's database; groups sorted by key, None last.
    ``grid_codes``: only the incidents of these grids (the grid page's own metrics)."""
    if by not in BY_DB:
        raise ValueError(f"by must be one of {BY_DB}, got {by!r}")
    require_aware("start", start)
    require_aware("end", end)
    if not start < end:
        raise ValueError("start must be before end")
    as_of = end if as_of is None else as_of
    require_aware("as_of", as_of)
    if by == "month" and (end - start).days > MAX_MONTHS * 31:
        raise InputError(tr("by month: the range spans more than %(MAX_MONTHS)s months; give a shorter one", MAX_MONTHS=MAX_MONTHS))
    months = month_bounds(start, end, tz) if by == "month" else None
    sums, p90 = repo.metric_sums(by, start, end, as_of, months, response_limit_hours, grid_codes)
    rows, rates = [], []
    for key in sorted(sums, key=key_order):
        s = sums[key]
        n, total, around = p90.get(key, (0, 0.0, {}))
        rows.append(Metrics(
            key=key, count=s["count"], filed=s["filed"], due=s["due"], closed=s["closed"],
            closed_on_time=s["closed_on_time"], overdue_open=s["overdue_open"], rework=s["rework"],
            extended=s["extended"], closure_rate=ratio(s["closed"], s["due"]),
            on_time_rate=ratio(s["closed_on_time"], s["due"]), rework_rate=ratio(s["rework"], s["closed"]),
            extension_rate=ratio(s["extended"], s["due"]),
            mean_hours_to_close=total / n if n else None,
            p90_hours_to_close=p90_linear(n, around) if n else None,
            satisfaction=s["rating_sum"] / s["rated"] if s["rated"] else None, rated=s["rated"]))
        rates.append(HotlineRates(
            key=key, response_rate=ratio(s["responded"], s["response_due"]),
            resolution_rate=ratio(s["resolved"], s["resolution_asked"]),
            satisfaction_rate=ratio(s["satisfied"], s["rated"]), responded=s["responded"],
            response_due=s["response_due"], resolved=s["resolved"], closed_rated=s["resolution_asked"],
            satisfied=s["satisfied"]))
    return rows, rates
