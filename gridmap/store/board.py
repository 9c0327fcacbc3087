"""The dispatch board's queries: queues, filters, counts and pages, all done in SQL.

Every queue is a condition on the incident's state (no queue hides an incident another one
shows), the tab counts are one COUNT ... GROUP BY over the open incidents plus one COUNT for
"all", and a page is LIMIT/OFFSET over an indexed order, so the board costs the same with a
thousand incidents or a million. Same statements on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import sqlalchemy as sa

from ..incidents.model import OPEN_STATUSES, Incident
from . import schema
from .incidents import incident_from_row, to_db_time

# queue -> the statuses it holds (None: any status); overdue and escalated add a condition.
QUEUE_STATUSES: dict[str, tuple[str, ...] | None] = {
    "new": ("reported", "filed"),
    "active": ("dispatched", "in_progress"),
    "handled": ("handled", "verified"),
    "overdue": OPEN_STATUSES,
    "escalated": OPEN_STATUSES,
    "all": None,
}
SORTS = ("urgent", "newest", "oldest", "due")
_T = schema.incidents


@dataclass(frozen=True)
class BoardFilter:
    """What the dispatcher narrowed the board to; every field given must hold (AND).

    `text` matches the incident number, its external id, words in its description, or (through
    `text_units` / `text_categories`, resolved by the caller from names) a grid, zone or town
    and a category whose name holds the words. Times are aware; `end` is exclusive.
    """

    within_units: tuple[str, ...] | None = None  # staff: only their grids and zones
    zone_code: str | None = None
    grid_code: str | None = None
    categories: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    source: str | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    text: str | None = None
    text_units: tuple[str, ...] = ()
    text_categories: tuple[str, ...] = ()


class BoardQueries:
    """The board's reads over one SQLStore."""

    def __init__(self, store):
        self.store = store

    def counts(self, f: BoardFilter, now: dt.datetime) -> dict[str, int]:
        """How many incidents each queue holds under the filter (keys: QUEUE_STATUSES)."""
        late = sa.case((_T.c.due_at < to_db_time(now), 1), else_=0)
        grouped = (sa.select(_T.c.status, _T.c.escalated, late.label("late"), sa.func.count())
                   .where(_T.c.status.in_(list(OPEN_STATUSES)), *_conditions(f))
                   .group_by(_T.c.status, _T.c.escalated, late))
        total = sa.select(sa.func.count()).select_from(_T).where(*_conditions(f))
        out = dict.fromkeys(QUEUE_STATUSES, 0)
        with self.store.connect() as conn:
            for status, escalated, is_late, n in conn.execute(grouped).all():
                for q in ("new", "active", "handled"):
                    if status in (QUEUE_STATUSES[q] or ()):
                        out[q] += n
                out["overdue"] += n if is_late else 0
                out["escalated"] += n if escalated else 0
            out["all"] = conn.execute(total).scalar()
        return out

    def page(self, f: BoardFilter, queue: str, now: dt.datetime, sort: str = "urgent", limit: int = 50,
             offset: int = 0) -> list[Incident]:
        """One page of a queue under the filter, in `sort` order (ties by number)."""
        q = sa.select(_T).where(*_queue_conditions(queue, now), *_conditions(f))
        q = q.order_by(*_order(queue, sort)).limit(limit).offset(offset)
        with self.store.connect() as conn:
            return [incident_from_row(r) for r in conn.execute(q).mappings()]

    def iter_all(self, f: BoardFilter, queue: str, now: dt.datetime, sort: str = "urgent", limit: int = 100_000,
                 batch: int = 2_000) -> Iterator[Incident]:
        """Every incident of a queue under the filter (up to `limit`), fetched in batches (CSV export)."""
        q = (sa.select(_T).where(*_queue_conditions(queue, now), *_conditions(f))
             .order_by(*_order(queue, sort)).limit(limit))
        with self.store.connect() as conn:
            result = conn.execution_options(yield_per=batch).execute(q).mappings()
            for r in result:
                yield incident_from_row(r)

    def person_names(self, person_ids: Sequence[str]) -> dict[str, str]:
        """person_id -> name for these people (unknown ids are left out)."""
        ids = sorted({p for p in person_ids if p})
        if not ids:
            return {}
        t = schema.people
        with self.store.connect() as conn:
            return dict(conn.execute(sa.select(t.c.person_id, t.c.name).where(t.c.person_id.in_(ids))).all())


def _queue_conditions(queue: str, now: dt.datetime) -> list:
    if queue not in QUEUE_STATUSES:
        raise ValueError(f"unknown queue {queue!r}")
    statuses = QUEUE_STATUSES[queue]
    out: list[Any] = [] if statuses is None else [_T.c.status.in_(list(statuses))]
    if queue == "overdue":
        out.append(_T.c.due_at < to_db_time(now))
    elif queue == "escalated":
        out.append(_T.c.escalated == 1)
    return out


def _conditions(f: BoardFilter) -> list:
    out = []
    if f.within_units is not None:
        units = list(f.within_units)
        out.append(sa.or_(_T.c.grid_code.in_(units), _T.c.zone_code.in_(units)))
    if f.zone_code:
        out.append(_T.c.zone_code == f.zone_code)
    if f.grid_code:
        out.append(_T.c.grid_code == f.grid_code)
    if f.categories:
        out.append(_T.c.category.in_(list(f.categories)))
    if f.statuses:
        out.append(_T.c.status.in_(list(f.statuses)))
    if f.source:
        out.append(_T.c.source == f.source)
    if f.start is not None:
        out.append(_T.c.reported_at >= to_db_time(f.start))
    if f.end is not None:
        out.append(_T.c.reported_at < to_db_time(f.end))
    if f.text:
        out.append(_text_condition(f))
    return out


def _text_condition(f: BoardFilter):
    text = f.text or ""
    number = text.lstrip("#")
    if number.isdigit() and len(number) <= 18:
        # a number: the incident's, or a grid's or zone's code (indexed equalities, no text scan)
        either = [_T.c.grid_code == number, _T.c.zone_code == number, _T.c.external_id == number]
        if int(number) < 2**31:  # the id column is a 32-bit integer on PostgreSQL
            either.append(_T.c.id == int(number))
        return sa.or_(*either)
    # description LIKE: most search words are 1-2 Chinese characters, which no trigram index answers;
    # the scan reads the narrow covering indexes ix_incidents_text / ix_incidents_queue (migration 0014)
    like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    either = [_T.c.description.like(like, escape="\\"), _T.c.external_id == text]
    if f.text_units:
        units = list(f.text_units)
        either += [_T.c.grid_code.in_(units), _T.c.zone_code.in_(units), _T.c.town_code.in_(units)]
    if f.text_categories:
        either.append(_T.c.category.in_(list(f.text_categories)))
    return sa.or_(*either)


def _order(queue: str, sort: str) -> list:
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}")
    due = [_T.c.due_at.is_(None), _T.c.due_at.asc()]  # no deadline last, on both backends
    if sort == "urgent":
        sort = {"new": "oldest", "all": "newest"}.get(queue, "due")  # new: first come, first served
    if sort == "newest":
        return [_T.c.reported_at.desc(), _T.c.id.desc()]
    if sort == "oldest":
        return [_T.c.reported_at.asc(), _T.c.id.asc()]
    return [*due, _T.c.reported_at.asc(), _T.c.id.asc()]
