"""The resident's pages: one report's status (/status/<id>) and "my reports" (/my-reports).

Public, no login. The status page shows no personal data (no reporter, no assignee, no staff
names, no notes): the category, the description, a small map of the point and its grid, the
grid's name, local times in words and the steps in words (Chinese first, English kept). The
reporter's token, kept in this browser's localStorage (or given in the link after reporting,
as #token=..., a fragment the server never sees), unlocks rating (1-5 with a comment) and
reopening within `reopen_window_days`; both go to POST /api/v1/incidents/<id>/actions
(static/js/status.js). /my-reports lists the reports whose ids and tokens this browser keeps.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, render_template, url_for

from ..errors import NotFound
from ..incidents.model import Event, Incident
from ..incidents.replies import reply_for
from . import services
from .report_page import display_geometry
from .views import public_incident

bp = Blueprint("resident", __name__)

# What each audit step means to a resident: (Chinese, English).
STEP_WORDS: dict[str, tuple[str, str]] = {
    "report": ("已收到您的报告", "report received"),
    "import": ("已录入系统", "recorded"),
    "file": ("已立案", "accepted as a case"),
    "reject": ("不予立案", "not accepted"),
    "merge": ("与相同问题的报告合并", "merged with a report of the same problem"),
    "merged_from": ("合并了一份重复报告", "a duplicate report was merged in"),
    "dispatch": ("已派给网格员处理", "sent to a grid worker"),
    "start": ("开始处置", "work started"),
    "handle": ("处置完成，等待核查", "work done, awaiting a check"),
    "verify": ("核查通过", "checked and confirmed"),
    "rework": ("核查未通过，返工", "sent back for more work"),
    "close": ("已办结", "closed"),
    "reopen": ("报告人重新打开", "reopened by the reporter"),
    "transfer": ("转给其他网格", "passed to another grid"),
    "escalate": ("上报升级处理", "escalated"),
    "extend": ("处理时限延长", "time limit extended"),
    "rate": ("报告人已评价", "rated by the reporter"),
    "overdue": ("超过时限，已督办", "past its time limit: escalated"),
    "reroute": ("网格调整后改派", "moved to a new grid after a redraw"),
}
WEEKDAYS = "一二三四五六日"


def local_time(t: dt.datetime | None, tz) -> str | None:
    """A time as residents read it: 2026年12月2日（周三）10:12, in the jurisdiction's time zone."""
    if t is None:
        return None
    t = t.astimezone(tz)
    return f"{t.year}年{t.month}月{t.day}日（周{WEEKDAYS[t.weekday()]}）{t:%H:%M}"


def step_words(e: Event) -> tuple[str, str]:
    """(Chinese, English) of one audit step, with the stars of a rating."""
    zh, en = STEP_WORDS.get(e.action, (e.action, e.action))
    if e.action == "rate" and isinstance(e.data.get("rating"), int):
        zh, en = f"{zh}：{e.data['rating']} 星", f"{en}: {e.data['rating']} of 5"
    return zh, en


@bp.get("/status/<incident_id>")
def incident_status(incident_id: str):
    """Public status page of one incident: no personal data."""
    loop = services().incidents
    inc = loop.repo.get(incident_id)
    ctx = status_context(inc, loop)
    return render_template("status.html", **ctx)


def _reply(inc: Incident, loop) -> dict[str, Any]:
    return reply_for(inc, loop)


def status_context(inc: Incident, loop) -> dict[str, Any]:
    """What status.html and static/js/status.js need."""
    tz = loop.tz
    pub = public_incident(inc, loop.taxonomy, tz)
    grid = _grid(inc.grid_code)
    until = loop.reopen_until(inc)
    now = loop.clock()
    steps = [(local_time(e.at, tz), *step_words(e)) for e in loop.repo.events(inc.id)]
    data = {
        "id": inc.id, "status": inc.status, "lon": pub["lon"], "lat": pub["lat"], "rating": inc.rating,
        "grid": None if grid is None else {"type": "Feature", "geometry": display_geometry(grid.geometry),
                                           "properties": {"code": grid.code, "name": grid.name}},
        "can_rate": inc.status == "closed",
        "can_reopen": until is not None and now <= until,
        "reopen_closed": until is not None and now > until,
        "urls": {"act": url_for("incidents.act", incident_id=inc.id), "mine": url_for("resident.my_reports")},
    }
    return {"inc": pub, "grid_name": grid.name if grid else None, "steps": steps, "data": data,
            "reply": _reply(inc, loop),
            "times": {"reported": local_time(inc.reported_at, tz), "due": local_time(inc.due_at, tz),
                      "closed": local_time(inc.closed_at, tz), "reopen_until": local_time(until, tz)},
            "overdue": bool(inc.due_at and inc.is_open and inc.due_at < now)}


def _grid(code: str | None):
    if not code:
        return None
    try:
        return services().unit(code)
    except NotFound:  # a grid of an older plan (a closed case keeps its grid): no outline to draw
        return None


@bp.get("/my-reports")
def my_reports():
    """The reports this browser filed (ids and tokens from localStorage; nothing is kept on the server)."""
    return render_template("my_reports.html", urls={
        "incident": url_for("incidents.incident", incident_id="ID")[:-2],
        "status": url_for("resident.incident_status", incident_id="ID")[:-2]})
