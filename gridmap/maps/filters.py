"""Filters of the overview map: date range, category, status, zone. Plain data, no Flask.

``MapFilter.parse(args, ...)`` reads the query string of ``/map`` and ``/map.json``::

    from=YYYY-MM-DD   reported on or after this day (jurisdiction's time zone)
    to=YYYY-MM-DD     reported on or before this day (the whole day counts)
    category=CODE     one category of the taxonomy (repeatable)
    status=STATUS     one status (repeatable); "open" (the default) is every open status,
                      "all" every status
    zone=CODE         one zone: its incidents, and the map framed on it

A bad value raises InputError naming the parameter and the value, so the page and its JSON
twin answer 422 with the reason instead of showing a silently unfiltered map.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from .. import params
from ..errors import InputError
from ..i18n import tr
from ..incidents.model import OPEN_STATUSES, STATUS_LABELS

ALL = "all"
OPEN = "open"


@dataclass(frozen=True)
class MapFilter:
    """Which incidents the overview shows. Empty fields mean "no restriction"."""

    start: dt.date | None = None
    end: dt.date | None = None  # inclusive
    categories: tuple[str, ...] = ()
    statuses: tuple[str, ...] = field(default=tuple(OPEN_STATUSES))
    zone: str | None = None

    @classmethod
    def parse(cls, args: Mapping, categories: Iterable[str], zones: Iterable[str]) -> "MapFilter":
        """Read and check the query string; `categories` and `zones` are the known codes."""
        getlist = args.getlist if hasattr(args, "getlist") else (lambda k: [args[k]] if k in args else [])
        start, end = _date(args.get("from"), "from"), _date(args.get("to"), "to")
        if start and end and start > end:
            raise InputError(tr("from=%(start)s is after to=%(end)s", start=start, end=end))
        cats = tuple(dict.fromkeys(c for c in (v.strip() for v in getlist("category")) if c))
        known = set(categories)
        for c in cats:
            if c not in known:
                raise InputError(tr("category=%(c)r is not a category of the taxonomy", c=c))
        statuses = _statuses([s.strip() for s in getlist("status") if s.strip()])
        zone = (args.get("zone") or "").strip() or None
        if zone is not None and zone not in set(zones):
            raise InputError(tr("zone=%(zone)r is not a zone of the plan in force", zone=zone))
        return cls(start, end, cats, statuses, zone)

    @property
    def open_only(self) -> bool:
        return set(self.statuses) <= set(OPEN_STATUSES)

    @property
    def active(self) -> bool:
        """True when anything but the default (open incidents, everywhere, any time) is asked."""
        return self != MapFilter()

    def query(self, tz: dt.tzinfo) -> dict:
        """Keyword arguments for IncidentRepo.query (one category is pushed into SQL)."""
        q: dict = {"status": list(self.statuses)}
        if self.start:
            q["start"] = dt.datetime.combine(self.start, dt.time(), tz)
        if self.end:
            q["end"] = dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time(), tz)
        if len(self.categories) == 1:
            q["category"] = self.categories[0]
        if self.zone:
            q["zone_code"] = self.zone
        return q

    def keep(self, incidents: Iterable) -> list:
        """What the SQL query could not do: several categories."""
        out = list(incidents)
        if len(self.categories) > 1:
            wanted = set(self.categories)
            out = [i for i in out if i.category in wanted]
        return out

    def as_json(self) -> dict:
        return {"from": self.start.isoformat() if self.start else None,
                "to": self.end.isoformat() if self.end else None,
                "category": list(self.categories), "status": list(self.statuses), "zone": self.zone}

    def as_args(self) -> dict:
        """The query string that gives this filter back (for links to the JSON twin)."""
        out: dict = {}
        if self.start:
            out["from"] = self.start.isoformat()
        if self.end:
            out["to"] = self.end.isoformat()
        if self.categories:
            out["category"] = list(self.categories)
        if tuple(self.statuses) != tuple(OPEN_STATUSES):
            out["status"] = ALL if set(self.statuses) == set(STATUS_LABELS) else list(self.statuses)
        if self.zone:
            out["zone"] = self.zone
        return out

    def describe(self, names: Mapping[str, str] | None = None) -> str:
        """One line for the page: what is shown (`names`: category and zone names by code)."""
        names = names or {}
        parts = ["在办 open" if tuple(self.statuses) == tuple(OPEN_STATUSES)
                 else "全部状态 all statuses" if set(self.statuses) == set(STATUS_LABELS)
                 else " / ".join(STATUS_LABELS.get(s, s) for s in self.statuses)]
        if self.start or self.end:
            parts.append(f"{self.start or '…'} – {self.end or '…'}")
        if self.categories:
            parts.append(", ".join(names.get(c, c) for c in self.categories))
        if self.zone:
            parts.append(f"管区 zone {names.get(self.zone, '')} {self.zone}".replace("  ", " "))
        return " · ".join(parts)


def _date(raw: str | None, name: str) -> dt.date | None:
    return params.day(raw, name)


def _statuses(raw: list[str]) -> tuple[str, ...]:
    if not raw or raw == [OPEN]:
        return tuple(OPEN_STATUSES)
    if ALL in raw:
        return tuple(STATUS_LABELS)
    out: list[str] = []
    for s in raw:
        if s == OPEN:
            out.extend(OPEN_STATUSES)
        elif s in STATUS_LABELS:
            out.append(s)
        else:
            raise InputError(tr("status=%(s)r is not a status; use one of %(STATUS_LABELS)s", s=s, STATUS_LABELS=', '.join([OPEN, ALL, *STATUS_LABELS])))
    return tuple(dict.fromkeys(out))
