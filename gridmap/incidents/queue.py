"""The dispatch board's queues as a use case: read the request's filters, count, page.

Queues follow the states of the closed loop: new (reported or filed, waiting for the
dispatcher), active (dispatched or in progress), handled (handled or verified, waiting to be
checked and closed), overdue (open past its time limit), escalated (open and sent up), and
all (every incident, closed ones too, so that nothing leaves sight). An incident may be in
several (an overdue one is also active); each tab's count is the number of its rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Mapping

from ..errors import InputError
from ..i18n import tr
from ..store.board import QUEUE_STATUSES, SORTS, BoardFilter, BoardQueries
from .actors import Actor
from .model import STATUSES, Incident

QUEUES = {"new": "新报 New", "active": "在办 In progress", "handled": "待核查 Handled",
          "overdue": "超时 Overdue", "escalated": "升级 Escalated", "all": "全部 All"}
SORT_LABELS = {"urgent": "最急 Most urgent", "newest": "最新 Newest", "oldest": "最早 Oldest",
               "due": "时限 By deadline"}
PER_PAGE, MAX_PER_PAGE = 50, 200
FILTER_KEYS = ("q", "zone", "grid", "category", "status", "source", "from", "to")
assert set(QUEUES) == set(QUEUE_STATUSES) and set(SORT_LABELS) == set(SORTS)


@dataclass(frozen=True)
class BoardRequest:
    """A parsed board request: which queue, which filter, which order, which page."""

    queue: str
    filter: BoardFilter
    sort: str = "urgent"
    page: int = 1
    per_page: int = PER_PAGE
    echo: Mapping[str, Any] | None = None  # the filters as given, to draw the form again

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


def parse(svc, actor: Actor, args: Mapping[str, Any], getlist=None) -> BoardRequest:
    """Read queue, filters, sort and page from query arguments; InputError (422) names each bad one."""
    getlist = getlist or (lambda k: [v for v in str(args.get(k) or "").split(",") if v])
    problems: list[str] = []
    queue = _one_of(args.get("queue") or "all", QUEUES, "queue", problems)
    sort = _one_of(args.get("sort") or "urgent", SORT_LABELS, "sort", problems)
    page = _whole(args.get("page"), "page", 1, 10**9, 1, problems)
    per_page = _whole(args.get("per_page"), "per_page", 1, MAX_PER_PAGE, PER_PAGE, problems)
    categories = tuple(c for v in getlist("category") for c in v.split(",") if c)
    for c in categories:
        if c not in svc.taxonomy:
            problems.append(tr("category: unknown category %(c)r", c=c))
    statuses = tuple(s for v in getlist("status") for s in v.split(",") if s)
    for s in statuses:
        if s not in STATUSES:
            problems.append(tr("status: one of %(STATUSES)s, not %(s)r", STATUSES=", ".join(STATUSES), s=s))
    start = _day(args.get("from"), "from", svc.tz, problems)
    end = _day(args.get("to"), "to", svc.tz, problems)
    if start and end and end < start:
        problems.append(tr("to: the last day is before the first (from)"))
    text = " ".join(str(args.get("q") or "").split())[:100] or None
    if problems:
        raise InputError("board: " + "; ".join(problems), problems=problems)
    units, cats = _text_matches(svc, text) if text else ((), ())
    f = BoardFilter(
        within_units=tuple(sorted(actor.units)) if actor.role == "staff" else None,
        zone_code=(args.get("zone") or None), grid_code=(args.get("grid") or None),
        categories=categories, statuses=statuses, source=(args.get("source") or None),
        start=start, end=end + dt.timedelta(days=1) if end else None,
        text=text, text_units=units, text_categories=cats)
    echo = {k: (",".join(getlist(k)) if k in ("category", "status") else (args.get(k) or "")) for k in FILTER_KEYS}
    return BoardRequest(queue, f, sort, page, per_page, echo)


def counts(svc, req: BoardRequest) -> dict[str, int]:
    """Rows per queue under the request's filter (the tab counts)."""
    return BoardQueries(svc.services.store).counts(req.filter, svc.clock())


def rows(svc, req: BoardRequest) -> list[Incident]:
    """The request's page of its queue."""
    return BoardQueries(svc.services.store).page(req.filter, req.queue, svc.clock(), req.sort, req.per_page,
                                                 req.offset)


def queues_of(inc: Incident, now: dt.datetime) -> list[str]:
    """Every queue an incident is in (the same rules as the SQL in store/board.py)."""
    out = [q for q in ("new", "active", "handled") if inc.status in QUEUE_STATUSES[q]]
    if inc.is_open and inc.due_at is not None and inc.due_at < now:
        out.append("overdue")
    if inc.is_open and inc.escalated:
        out.append("escalated")
    return out + ["all"]


def _text_matches(svc, text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Unit codes (grid, zone, town) and category codes whose names hold the words of `text`."""
    words = text.split()
    tree = {code: parent for code, parent, _level in svc.services.store.unit_tree()}
    hits = {code for code, name, _level in svc.services.store.unit_names() if all(w in name for w in words)}
    # a town that matches holds its zones and grids (incidents carry town_code): keep the top ones
    units = tuple(sorted(c for c in hits if not _has_ancestor_in(c, hits, tree)))
    cats = tuple(c.code for c in svc.taxonomy if all(w in c.name or w in c.group for w in words))
    return units[:2000], cats


def _has_ancestor_in(code: str, codes: set[str], tree: Mapping[str, str | None]) -> bool:
    seen, parent = set(), tree.get(code)
    while parent and parent not in seen:
        if parent in codes:
            return True
        seen.add(parent)
        parent = tree.get(parent)
    return False


def _one_of(value: str, allowed: Mapping[str, str], name: str, problems: list[str]) -> str:
    if value not in allowed:
        problems.append(tr("%(name)s: one of %(allowed)s, not %(value)r", name=name, allowed=", ".join(allowed), value=value))
        return next(iter(allowed))
    return value


def _whole(value: Any, name: str, low: int, high: int, default: int, problems: list[str]) -> int:
    if value in (None, ""):
        return default
    try:
        n = int(str(value))
    except ValueError:
        problems.append(tr("%(name)s: a whole number, not %(value)r", name=name, value=value))
        return default
    if not low <= n <= high:
        problems.append(tr("%(name)s: from %(low)s to %(high)s, not %(n)s", name=name, low=low, high=high, n=n))
        return default
    return n


def _day(value: Any, name: str, tz, problems: list[str]) -> dt.datetime | None:
    if not value:
        return None
    try:
        day = dt.date.fromisoformat(str(value))
    except ValueError:
        problems.append(tr("%(name)s: a date as YYYY-MM-DD, not %(value)r", name=name, value=value))
        return None
    if day.year < 1970:
        problems.append(tr("%(name)s: no earlier than 1970", name=name))
        return None
    return dt.datetime.combine(day, dt.time(), tzinfo=tz)
