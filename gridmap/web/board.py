"""Blueprint "board": the dispatcher's queue (new, overdue and escalated incidents) beside a map.

`/board` is the page, `/board.json` its JSON twin: both are built by `board_data()`, so the
page holds no logic of its own. Every signed-in role may look: dispatchers and admins act on
everything, staff see and act only on their own grids' incidents (start, handle, escalate,
extend), planners only read. The public is sent to /login. The buttons post JSON to the
incident API (`/api/v1/incidents/<id>/actions`, session + X-CSRFToken), which checks the role,
the workflow and the version again; the page then reloads the row from `/board.json?id=<id>`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, current_app, jsonify, redirect, render_template, request, url_for

from ..errors import Forbidden, InputError
from ..incidents.actors import REPORTER_ACTIONS, STAFF_ACTIONS, Actor, can_see
from ..incidents.metrics import due_soon, overdue
from ..incidents.model import OPEN_STATUSES, Incident
from ..incidents.workflow import ACTIONS, allowed_actions
from ..maps import status_colours
from . import services
from .auth import current_actor, require
from .compress import gzip_response
from .views import private_incident

bp = Blueprint("board", __name__)

QUEUES = {"new": "新报 New", "overdue": "超时 Overdue", "escalated": "升级 Escalated"}
FLAGS = {"new": "新报 new", "overdue": "超时 overdue", "due_soon": "将到期 due soon", "escalated": "已升级 escalated"}
NEW_STATUSES = ("reported", "filed")  # waiting for the dispatcher: file it, then dispatch it
MAX_ROWS = 500  # per request; the counts are always complete
ACTING_ROLES = ("admin", "dispatcher")

# What each action asks for besides the version: a reason (workflow.Action.needs_note) and these.
_FIELDS: dict[str, list[dict[str, Any]]] = {
    "transfer": [{"name": "grid_code", "label": "转至网格 To grid (code)", "type": "text", "required": True}],
    "escalate": [{"name": "level", "label": "升级至 Level", "type": "select", "required": True,
                  "options": [["zone", "管区 zone"], ["department", "部门 department"]]},
                 {"name": "department", "label": "部门 Department (optional)", "type": "text", "required": False}],
    "extend": [{"name": "hours", "label": "延期小时 Hours", "type": "number", "required": True}],
    "merge": [{"name": "into", "label": "并入事件 Into incident #", "type": "text", "required": True}],
}
_NOTE = {"name": "note", "label": "理由 Reason", "type": "text", "required": True}


def loop():
    """The app's IncidentService."""
    return current_app.extensions["gridmap.incidents"]


@bp.get("/board")
def board():
    """The queue as a page: a table of incidents with their actions, and a map of them."""
    actor = current_actor()
    if actor.is_public:
        return redirect(url_for("pages.login", next=_here()))
    data = board_data(actor, queue=_queue_arg())
    page = {"colours": status_colours(),
            "urls": {"row": url_for("board.board_json"), "units": url_for("api.units", level="grid"),
                     "act": url_for("incidents.act", incident_id="INCIDENT_ID"),
                     "status": url_for("resident.incident_status", incident_id="INCIDENT_ID")}}
    return render_template("board.html", data=data, page=page)


@bp.get("/board.json")
def board_json():
    """The data of /board (`?queue=new|overdue|escalated`), or one row of it (`?id=<incident id>`)."""
    actor = require()  # errors of a .json path are answered in JSON (web/errors.py)
    if request.args.get("id"):
        return jsonify(board_data(actor, incident_id=request.args["id"]))
    return jsonify(board_data(actor, queue=_queue_arg()))


bp.after_request(gzip_response)  # a long queue is a few hundred kB of HTML or JSON


def board_data(actor: Actor, queue: str | None = None, incident_id: str | None = None) -> dict[str, Any]:
    """The queue `actor` may see: counts per queue and one row per incident, most urgent first.

    An incident is in "new" while it is reported or filed, else in "overdue" once past its
    time limit, else in "escalated" if it was sent up. `flags` lists everything that applies
    (also "due_soon"). With `incident_id`, just that incident's row (its queue may be None
    once it has left the queue, e.g. after dispatch).
    """
    s = loop()
    now = s.clock()
    staff_units = sorted(actor.units) if actor.role == "staff" else None
    if incident_id is not None:
        inc = s.repo.get(incident_id)
        if not can_see(actor, inc):
            raise Forbidden(f"incident {incident_id} is not in your grids")
        pool = [inc]
    else:
        pool = s.repo.query(status=OPEN_STATUSES, within_units=staff_units, order="due_at")
        pool = [i for i in pool if can_see(actor, i)]
    late = {i.id for i in overdue(pool, now)}
    soon = {i.id for i in due_soon(pool, now, s.services.settings.due_soon_hours)}
    placed = [(queue_of(i, late), i) for i in pool]
    counts = {q: sum(1 for k, _ in placed if k == q) for q in QUEUES}
    if incident_id is None:
        placed = [(k, i) for k, i in placed if k is not None and (queue is None or k == queue)]
        placed.sort(key=lambda ki: _urgency(*ki))
    shown = placed[:MAX_ROWS]
    names = _grid_names({i.grid_code for _, i in shown if i.grid_code})
    rows = [_row(actor, i, k, late, soon, names) for k, i in shown]
    return {
        "as_of": now.astimezone(s.tz).isoformat(),
        "actor": {"name": actor.name, "role": actor.role, "can_act": can_act(actor),
                  "units": staff_units},
        "queue": queue, "queues": QUEUES, "flag_labels": FLAGS, "action_specs": action_specs(), "counts": counts, "total": len(placed), "shown": len(rows),
        "incidents": rows,
    }


def queue_of(inc: Incident, late: set[str]) -> str | None:
    """Which queue an open incident is in (None: not in the queue)."""
    if not inc.is_open:
        return None
    if inc.status in NEW_STATUSES:
        return "new"
    if inc.id in late:
        return "overdue"
    if inc.escalated:
        return "escalated"
    return None


def can_act(actor: Actor) -> bool:
    """Whether the board shows this actor any buttons at all (planners only read)."""
    return actor.role in ACTING_ROLES or actor.role == "staff"


def buttons(actor: Actor, inc: Incident) -> list[str]:
    """The actions this actor may take on this incident now (their inputs: `action_specs()`)."""
    names = allowed_actions(inc.status)
    if actor.role in ACTING_ROLES:
        return [a for a in names if a not in REPORTER_ACTIONS]  # rating and reopening are the reporter's
    if actor.role == "staff" and can_see(actor, inc):
        return [a for a in names if a in STAFF_ACTIONS]
    return []


def action_specs() -> dict[str, dict[str, Any]]:
    """Per action: its label and the inputs it needs besides the version (a reason, a grid...)."""
    return {name: {"label": act.label, "fields": list(_FIELDS.get(name, [])) + ([_NOTE] if act.needs_note else [])}
            for name, act in ACTIONS.items() if name not in REPORTER_ACTIONS}


def _row(actor: Actor, inc: Incident, queue: str | None, late: set[str], soon: set[str],
         names: dict[str, str]) -> dict[str, Any]:
    s = loop()
    flags = [f for f, on in (("new", inc.status in NEW_STATUSES), ("overdue", inc.id in late),
                             ("due_soon", inc.id in soon), ("escalated", inc.escalated)) if on]
    return private_incident(inc, s.taxonomy, s.tz) | {
        "queue": queue, "flags": flags, "grid_name": names.get(inc.grid_code or ""),
        "buttons": buttons(actor, inc),
        "status_url": url_for("resident.incident_status", incident_id=inc.id),
    }


def _urgency(queue: str, inc: Incident) -> tuple:
    far = dt.datetime.max.replace(tzinfo=dt.timezone.utc)
    if queue == "new":  # first come, first served
        return (0, inc.reported_at, inc.id)
    return (list(QUEUES).index(queue), inc.due_at or far, inc.reported_at, inc.id)


def _grid_names(codes: set[str]) -> dict[str, str]:
    if not codes:
        return {}
    return {u.code: u.name for u in services().store.units(codes=sorted(codes))}


def _queue_arg() -> str | None:
    q = request.args.get("queue") or None
    if q is not None and q not in QUEUES:
        raise InputError(f"queue: one of {', '.join(QUEUES)}, not {q!r}")
    return q


def _here() -> str:
    qs = request.query_string.decode("latin-1")
    return request.path + ("?" + qs if qs else "")
