"""Dispatch metrics over incident records: pure functions, no I/O, no database.

Every rule below is checked by tests/test_metrics.py.

Inputs
    ``start``, ``end`` and ``as_of`` must be timezone-aware (``ValueError`` otherwise) and
    ``start < end``. ``as_of`` (the moment the report describes) defaults to ``end``.
    An unknown status, a rating outside 1-5 or a ``closed_at`` before ``reported_at`` is a
    data error and raises ``ValueError`` rather than being silently skipped.

Definitions (for one group of incidents)
    in range        ``start <= reported_at < end`` (start inclusive, end exclusive).
    count           incidents in range, whatever their status.
    excluded        status ``rejected`` / ``merged`` / ``reported`` (not filed yet), or
                    ``merged_into`` set. Excluded incidents never count as filed, due, closed,
                    open or overdue.
    filed           in range and not excluded.
    closed          filed, status ``closed`` and ``closed_at`` is None or ``closed_at <= as_of``
                    (an incident closed after ``as_of`` is still open *at* ``as_of``, so a report
                    recomputed later gives the same answer).
    open            filed and not closed (at ``as_of``).
    due (应结案)     filed and (closed, or open with ``due_at < as_of``: the deadline passed).
                    An open incident without ``due_at`` is never due.
    closed on time  closed with ``due_at`` set and ``closed_at <= due_at``. A closed incident
                    without ``due_at`` (or without ``closed_at``) counts as closed and due but
                    NOT on time: a missing deadline cannot inflate the on-time rate.
    overdue_open    open with ``due_at < as_of``.  Hence ``due == closed + overdue_open``.
    rework          closed with ``rework_count > 0``.
    extended        due with ``extended`` True (延期).
    rated           in-range incidents with a rating (any status); satisfaction = their mean.

Rates (``None`` whenever the denominator is 0: never divide by zero, never report 0% for
"nothing due")
    closure_rate   结案率     = closed / due
    on_time_rate   按期结案率 = closed_on_time / due
    rework_rate    返工率     = rework / closed
    extension_rate 延期率     = extended / due
    satisfaction   满意度     = mean rating over rated (``None`` if none rated)

Durations
    hours to close = ``(closed_at - reported_at)`` in hours, over closed incidents that have a
    ``closed_at``; ``mean_hours_to_close`` is their mean and ``p90_hours_to_close`` is
    ``numpy.percentile(hours, 90, method="linear")`` (the default linear interpolation between
    order statistics: position ``0.9 * (n - 1)`` of the sorted list). Both ``None`` if none.

Grouping (``compute(..., by=...)``)
    ``grid`` -> grid_code, ``zone`` -> zone_code, ``town`` -> town_code, ``worker`` -> assignee, ``category`` ->
    category, ``all`` -> one group with key ``"all"`` (returned even when nothing is in range).
    Incidents without the key are NOT dropped: they form a group with key ``None``, so
    unassigned work stays visible. Only keys with at least one in-range incident appear.
    Groups are sorted by key, ``None`` last.

Zone ranking (``rank_zones``)
    Zones (metrics with key ``None`` are skipped: not a zone) ordered by on_time_rate desc,
    then closure_rate desc, then satisfaction desc, ``None`` last in each criterion, then by key
    asc. Zones equal on all three criteria share a rank (competition ranking: 1, 2, 2, 4).
    ``flag_lowest_satisfaction`` is True for every zone whose satisfaction equals the minimum
    among zones that have any rating (ties are all flagged; unrated zones never are): the zone
    with the lowest resident satisfaction loses its year-end award (DOMAIN.md, Accountability).

Supervision lists
    ``overdue(incidents, as_of)``: open (as above, at ``as_of``) with ``due_at < as_of``.
    ``due_soon(incidents, as_of, within_hours)``: open with ``as_of < due_at <= as_of + within``.
    Both sorted by ``due_at`` then id; neither filters by reported_at. An incident due exactly at
    ``as_of`` is in neither list (not yet late, and not in the half-open "soon" window).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .model import STATUSES, Incident

EXCLUDED_STATUSES = frozenset({"rejected", "merged", "reported"})
GROUP_FIELDS: dict[str, Callable[[Incident], str | None]] = {
    "grid": lambda inc: inc.grid_code,
    "zone": lambda inc: inc.zone_code,
    "town": lambda inc: inc.town_code,
    "worker": lambda inc: inc.assignee,
    "category": lambda inc: inc.category,
    "all": lambda inc: "all",
}
P90_METHOD = "linear"


@dataclass(frozen=True)
class Metrics:
    """Dispatch metrics of one group (see the module docstring for every definition)."""

    key: str | None
    count: int
    filed: int
    due: int
    closed: int
    closed_on_time: int
    overdue_open: int
    rework: int
    extended: int
    closure_rate: float | None
    on_time_rate: float | None
    rework_rate: float | None
    extension_rate: float | None
    mean_hours_to_close: float | None
    p90_hours_to_close: float | None
    satisfaction: float | None
    rated: int


# --- checks -----------------------------------------------------------------------------------


def _require_aware(name: str, value: dt.datetime) -> None:
    """Raise ValueError unless ``value`` is a timezone-aware datetime."""
    if not isinstance(value, dt.datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")


def _check_incident(inc: Incident) -> None:
    """Raise ValueError on data that would make the metrics wrong."""
    if inc.status not in STATUSES:
        raise ValueError(f"incident {inc.id}: unknown status {inc.status!r}")
    if inc.rating is not None and not 1 <= inc.rating <= 5:
        raise ValueError(f"incident {inc.id}: rating {inc.rating!r} outside 1-5")
    if inc.closed_at is not None and inc.closed_at < inc.reported_at:
        raise ValueError(f"incident {inc.id}: closed_at is before reported_at")


# --- per-incident predicates --------------------------------------------------------------------


def in_range(inc: Incident, start: dt.datetime, end: dt.datetime) -> bool:
    """True when ``start <= reported_at < end``."""
    return start <= inc.reported_at < end


def is_filed(inc: Incident) -> bool:
    """True unless rejected, merged (by status or ``merged_into``) or still only reported."""
    return inc.status not in EXCLUDED_STATUSES and inc.merged_into is None


def is_closed(inc: Incident, as_of: dt.datetime) -> bool:
    """Filed, status ``closed``, and closed no later than ``as_of`` (or closing time unknown)."""
    return (
        is_filed(inc)
        and inc.status == "closed"
        and (inc.closed_at is None or inc.closed_at <= as_of)
    )


def is_open(inc: Incident, as_of: dt.datetime) -> bool:
    """Filed and not closed at ``as_of``."""
    return is_filed(inc) and not is_closed(inc, as_of)


def is_overdue(inc: Incident, as_of: dt.datetime) -> bool:
    """Open at ``as_of`` with a deadline strictly before ``as_of``."""
    return is_open(inc, as_of) and inc.due_at is not None and inc.due_at < as_of


def is_due(inc: Incident, as_of: dt.datetime) -> bool:
    """Due to close (应结案): closed, or open with its deadline passed."""
    return is_closed(inc, as_of) or is_overdue(inc, as_of)


def is_closed_on_time(inc: Incident, as_of: dt.datetime) -> bool:
    """Closed with a deadline and ``closed_at <= due_at``; no deadline means not on time."""
    return is_closed(inc, as_of) and inc.closed_on_time() is True


def hours_to_close(inc: Incident) -> float | None:
    """Hours from ``reported_at`` to ``closed_at``; None without ``closed_at``."""
    if inc.closed_at is None:
        return None
    return (inc.closed_at - inc.reported_at).total_seconds() / 3600.0


# --- aggregation --------------------------------------------------------------------------------


def ratio(numerator: int, denominator: int) -> float | None:
    """``numerator / denominator``, or None when the denominator is 0."""
    return numerator / denominator if denominator else None


def _hour_stats(hours: Sequence[float]) -> tuple[float | None, float | None]:
    """(mean, p90 by numpy 'linear' percentile) of ``hours``; (None, None) if empty."""
    if not hours:
        return None, None
    values = np.asarray(hours, dtype=float)
    return float(values.mean()), float(np.percentile(values, 90, method=P90_METHOD))


def _satisfaction(ratings: Sequence[int]) -> float | None:
    """Mean rating (exact integer sum / count, so equal means compare equal); None if none."""
    return sum(ratings) / len(ratings) if ratings else None


def summarize(key: str | None, incidents: Iterable[Incident], as_of: dt.datetime) -> Metrics:
    """Metrics of one group; ``incidents`` must already be the in-range incidents of the group."""
    group = list(incidents)
    closed = [inc for inc in group if is_closed(inc, as_of)]
    due = [inc for inc in group if is_due(inc, as_of)]
    on_time = sum(1 for inc in closed if is_closed_on_time(inc, as_of))
    rework = sum(1 for inc in closed if inc.rework_count > 0)
    extended = sum(1 for inc in due if inc.extended)
    hours = [h for h in map(hours_to_close, closed) if h is not None]
    mean_h, p90_h = _hour_stats(hours)
    ratings = [inc.rating for inc in group if inc.rating is not None]
    return Metrics(
        key=key,
        count=len(group),
        filed=sum(1 for inc in group if is_filed(inc)),
        due=len(due),
        closed=len(closed),
        closed_on_time=on_time,
        overdue_open=sum(1 for inc in group if is_overdue(inc, as_of)),
        rework=rework,
        extended=extended,
        closure_rate=ratio(len(closed), len(due)),
        on_time_rate=ratio(on_time, len(due)),
        rework_rate=ratio(rework, len(closed)),
        extension_rate=ratio(extended, len(due)),
        mean_hours_to_close=mean_h,
        p90_hours_to_close=p90_h,
        satisfaction=_satisfaction(ratings),
        rated=len(ratings),
    )


def _key_order(key: str | None) -> tuple[bool, str]:
    """Sort key putting None last."""
    return (key is None, key or "")


def compute(
    incidents: Iterable[Incident],
    by: str,
    start: dt.datetime,
    end: dt.datetime,
    as_of: dt.datetime | None = None,
) -> list[Metrics]:
    """Metrics per group (``by`` in grid/zone/worker/category/all), sorted by key, None last."""
    if by not in GROUP_FIELDS:
        raise ValueError(f"by must be one of {sorted(GROUP_FIELDS)}, got {by!r}")
    _require_aware("start", start)
    _require_aware("end", end)
    if not start < end:
        raise ValueError("start must be before end")
    as_of = end if as_of is None else as_of
    _require_aware("as_of", as_of)
    keyfunc = GROUP_FIELDS[by]
    groups: dict[str | None, list[Incident]] = {"all": []} if by == "all" else {}
    for inc in incidents:
        _check_incident(inc)
        if in_range(inc, start, end):
            groups.setdefault(keyfunc(inc), []).append(inc)
    return [summarize(key, groups[key], as_of) for key in sorted(groups, key=_key_order)]


require_aware = _require_aware  # public names for gridmap.incidents.metrics_db
key_order = _key_order


# --- zone ranking -------------------------------------------------------------------------------


def _desc_none_last(value: float | None) -> tuple[bool, float]:
    """Sort key for 'descending, None last'."""
    return (value is None, -(value or 0.0))


def _rank_tuple(m: Metrics) -> tuple[tuple[bool, float], ...]:
    """The three ranking criteria: on_time_rate, closure_rate, satisfaction (desc, None last)."""
    return (
        _desc_none_last(m.on_time_rate),
        _desc_none_last(m.closure_rate),
        _desc_none_last(m.satisfaction),
    )


def rank_zones(metrics: Iterable[Metrics]) -> list[dict[str, Any]]:
    """Zones ranked best first; each dict is the Metrics fields plus rank and the flag."""
    zones = [m for m in metrics if m.key is not None]
    keys = [m.key for m in zones]
    if len(set(keys)) != len(keys):
        raise ValueError("rank_zones needs one Metrics per zone (duplicate keys)")
    zones.sort(key=lambda m: (_rank_tuple(m), m.key))
    rated = [m.satisfaction for m in zones if m.satisfaction is not None]
    lowest = min(rated) if rated else None
    out: list[dict[str, Any]] = []
    for position, m in enumerate(zones, start=1):
        tied = position > 1 and _rank_tuple(zones[position - 2]) == _rank_tuple(m)
        rank = out[-1]["rank"] if tied else position
        flag = lowest is not None and m.satisfaction == lowest
        out.append({**asdict(m), "rank": rank, "flag_lowest_satisfaction": flag})
    return out


# --- supervision lists --------------------------------------------------------------------------


def _by_deadline(incidents: Iterable[Incident]) -> list[Incident]:
    """Sorted by due_at, then id."""
    return sorted(incidents, key=lambda inc: (inc.due_at, inc.id))


def overdue(incidents: Iterable[Incident], as_of: dt.datetime) -> list[Incident]:
    """Open incidents whose deadline passed (``due_at < as_of``), earliest deadline first."""
    _require_aware("as_of", as_of)
    return _by_deadline(inc for inc in incidents if is_overdue(inc, as_of))


def due_soon(incidents: Iterable[Incident], as_of: dt.datetime, within_hours: float) -> list[Incident]:
    """Open incidents with ``as_of < due_at <= as_of + within_hours``, earliest first."""
    _require_aware("as_of", as_of)
    if within_hours < 0:
        raise ValueError("within_hours must not be negative")
    horizon = as_of + dt.timedelta(hours=within_hours)
    return _by_deadline(
        inc
        for inc in incidents
        if is_open(inc, as_of) and inc.due_at is not None and as_of < inc.due_at <= horizon
    )
