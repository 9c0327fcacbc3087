"""What a grid page adds to its map, as plain data: the duty roster of the coming week, the clock
of each open incident, and the grid's dispatch metrics. Pure functions; no Flask, no store.
"""

from __future__ import annotations

import datetime as dt
from typing import Iterable, Mapping, Sequence

from ..incidents import metrics as m
from ..incidents.metrics import Metrics
from ..incidents.model import Incident
from ..registry.model import Person

ROSTER_DAYS = 7  # the roster shown: today and the six days after
METRIC_WINDOWS = (("30d", "近30天 last 30 days", 30), ("365d", "近一年 last 12 months", 365))


def roster_json(shifts: Iterable[Mapping], people: Mapping[str, Person], tz: dt.tzinfo, now: dt.datetime,
                show_phones: bool) -> list[dict]:
    """Shifts (as IncidentRepo.shifts gives them) by start, with names; `on_duty` marks the current ones."""
    out = []
    for s in sorted(shifts, key=lambda s: (s["starts_at"], s["person_id"])):
        p = people.get(s["person_id"])
        row = {"unit_code": s["unit_code"], "person_id": s["person_id"], "name": p.name if p else s["person_id"],
               "starts_at": s["starts_at"].astimezone(tz).isoformat(), "ends_at": s["ends_at"].astimezone(tz).isoformat(),
               "on_duty": s["starts_at"] <= now < s["ends_at"]}
        if show_phones:
            row["phone"] = (p.phone or "") if p else ""
        out.append(row)
    return out


def clock_json(inc: Incident, now: dt.datetime, due_soon_hours: float, tz: dt.tzinfo) -> dict:
    """An open incident's clock: its deadline, the hours left (negative once late) and its state.

    State: "waiting" (not dispatched yet: the clock starts at dispatch), "ok", "due_soon" (within
    `due_soon_hours`) or "overdue". Hours are wall-clock hours; the deadline itself was set in
    working hours by the category's rule."""
    if inc.due_at is None:
        return {"due_at": None, "hours_left": None, "state": "waiting"}
    left = (inc.due_at - now).total_seconds() / 3600
    state = "overdue" if m.is_overdue(inc, now) else "due_soon" if left <= due_soon_hours else "ok"
    return {"due_at": inc.due_at.astimezone(tz).isoformat(), "hours_left": round(left, 1), "state": state}


CLOCK_LABELS = {"waiting": "待派遣 not dispatched", "ok": "正常 on time", "due_soon": "临期 due soon",
                "overdue": "超期 overdue"}


def metrics_json(windows: Sequence[tuple[str, str, Metrics]]) -> list[dict]:
    """The grid's dispatch metrics per window (``(key, label, Metrics)``: the last 30 days and the
    last 12 months, see ``window_ranges``; computed by the database, see incidents.metrics_db)."""
    out = []
    for key, label, got in windows:
        out.append({"window": key, "label": label, "count": got.count, "closed": got.closed,
                    "overdue_open": got.overdue_open, "closure_rate": _pct(got.closure_rate),
                    "on_time_rate": _pct(got.on_time_rate), "satisfaction": got.satisfaction,
                    "mean_hours_to_close": None if got.mean_hours_to_close is None else round(got.mean_hours_to_close, 1)})
    return out


def window_ranges(now: dt.datetime) -> list[tuple[str, str, dt.datetime]]:
    """(key, label, start) of each metric window ending at ``now``."""
    return [(key, label, now - dt.timedelta(days=days)) for key, label, days in METRIC_WINDOWS]


def _pct(value: float | None) -> float | None:
    return None if value is None else round(100 * value, 1)
