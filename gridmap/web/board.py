"""Blueprint "board": the dispatcher's queues (by state, searchable, paged) beside a map.

`/board` is the page, `/board.json` its JSON twin (`?id=<incident>` for one row, with the tab
counts under the same filters), `/board.csv` the filtered rows for Excel, and
`/board/people.json?id=<incident>[&grid=<code>]` whom it can go to. All are built by
`board_data()` over incidents/queue.py, which counts and pages in SQL (store/board.py).
Every signed-in role may look: dispatchers and admins act on everything, staff see and act
only on their own grids' incidents (start, handle, escalate, extend), planners and leaders only
read (leaders without the reporters' names and phones).
The public is sent to /login. The buttons post JSON to the incident API
(`/api/v1/incidents/<id>/actions`, session + X-CSRFToken), which checks the role, the
workflow and the version again; the page then reloads the row from `/board.json?id=<id>`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Response, jsonify, render_template, request, url_for

from ..errors import Forbidden
from ..i18n import current_locale, label, tr
from ..incidents import queue as board_queue
from ..incidents.actors import REPORTER_ACTIONS, STAFF_ACTIONS, Actor, can_read, can_see
from ..incidents.dispatching import candidates
from ..incidents.intake import SOURCES
from ..incidents.model import STATUS_LABELS, STATUSES, Incident
from ..incidents.workflow import allowed_actions
from ..maps import status_colours
from ..registry.model import Level
from ..store.board import BoardQueries
from . import services
from .auth import current_actor, require
from .board_csv import csv_lines
from .board_specs import action_specs
from .compress import gzip_response
from .nav import gate
from .views import incident_view

bp = Blueprint("board", __name__)

QUEUES = board_queue.QUEUES
FLAGS = {"new": "新报 new", "overdue": "超时 overdue", "due_soon": "将到期 due soon", "escalated": "已升级 escalated"}


def _labels(table: dict) -> dict:
    """A table of bilingual labels in the request's language (i18n.label)."""
    return {k: label(v) for k, v in table.items()}
NEW_STATUSES = ("reported", "filed")
ACTING_ROLES = ("admin", "dispatcher")


def loop():
    """The app's IncidentService."""
    return services().incidents


@bp.get("/board")
def board():
    """The queue as a page: tabs, filters, a page of incidents with their actions, and a map."""
    refused = gate("board")
    if refused is not None:
        return refused
    actor = current_actor()
    data = board_data(actor, _request(actor))
    page = {"colours": status_colours(),
            "urls": {"row": url_for("board.board_json"), "units": url_for("api.units", level="grid"),
                     "people": url_for("board.people_json"),
                     "act": url_for("incidents.act", incident_id="INCIDENT_ID"),
                     "status": url_for("resident.incident_status", incident_id="INCIDENT_ID")}}
    return render_template("board.html", data=data, page=page, choices=_choices(), link=_link)


@bp.get("/board.json")
def board_json():
    """The data of /board (same arguments), or one row of it with the tab counts (`?id=<incident id>`)."""
    actor = require()  # errors of a .json path are answered in JSON (web/errors.py)
    return jsonify(board_data(actor, _request(actor), incident_id=request.args.get("id") or None))


@bp.get("/board.csv")
def board_csv():
    """Every row of the filtered queue (all pages, up to 100,000) as CSV for Excel."""
    actor = require()
    req = _request(actor)
    s = loop()
    q = BoardQueries(services().store)
    rows = q.iter_all(req.filter, req.queue, s.clock(), req.sort)
    names = {code: name for code, name, _ in services().store.unit_names()}
    stamp = s.clock().astimezone(s.tz).strftime("%Y%m%d-%H%M")
    return Response(csv_lines(rows, s.taxonomy, s.tz, names, q.person_names), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="board-{req.queue}-{stamp}.csv"'})


@bp.get("/board/people.json")
def people_json():
    """Whom incident `id` can go to: its unit's people (or grid `grid`'s), on duty, open load, the default."""
    actor = require()
    s = loop()
    inc = s.get(request.args.get("id", ""), actor)
    return jsonify(candidates(s, inc, grid_code=request.args.get("grid") or None))


bp.after_request(gzip_response)  # a page of rows with its map data is a few hundred kB


def board_data(actor: Actor, req: board_queue.BoardRequest, incident_id: str | None = None) -> dict[str, Any]:
    """Tab counts and one page of rows (or just row `incident_id`) that `actor` may see, under `req`."""
    s = loop()
    now = s.clock()
    counts = board_queue.counts(s, req)
    if incident_id is not None:
        inc = s.repo.get(incident_id)
        if not can_read(actor, inc):
            raise Forbidden(tr("incident %(incident_id)s is not in your grids", incident_id=incident_id))
        shown = [inc]
    else:
        shown = board_queue.rows(s, req)
    total = counts[req.queue]
    grid_names = _grid_names({i.grid_code for i in shown if i.grid_code})
    people = BoardQueries(services().store).person_names([i.assignee for i in shown if i.assignee])
    soon = now + dt.timedelta(hours=s.services.settings.due_soon_hours)
    rows = [_row(actor, i, now, soon, grid_names, people) for i in shown]
    return {
        "as_of": now.astimezone(s.tz).isoformat(),
        "actor": {"name": actor.name, "role": actor.role, "can_act": can_act(actor),
                  "units": sorted(actor.units) if actor.role == "staff" else None},
        "queue": req.queue, "queues": _labels(QUEUES), "flag_labels": _labels(FLAGS), "action_specs": action_specs(s.taxonomy),
        "counts": counts, "total": total, "shown": len(rows),
        "filters": dict(req.echo or {}), "sort": req.sort, "sorts": _labels(board_queue.SORT_LABELS),
        "page": req.page, "per_page": req.per_page, "pages": max(1, -(-total // req.per_page)),
        "first": req.offset + 1 if rows and incident_id is None else 0,
        "incidents": rows,
    }


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


def _row(actor: Actor, inc: Incident, now: dt.datetime, soon: dt.datetime, grid_names: dict[str, str],
         people: dict[str, str]) -> dict[str, Any]:
    s = loop()
    queues = board_queue.queues_of(inc, now)
    due = inc.due_at
    flags = [f for f, on in (("new", inc.status in NEW_STATUSES), ("overdue", "overdue" in queues),
                             ("due_soon", inc.is_open and due is not None and now < due <= soon),
                             ("escalated", inc.escalated and inc.is_open)) if on]
    return incident_view(actor, inc, s.taxonomy, s.tz) | {  # no reporter data for planners (policy.py)
        "queue": queues[0] if queues[0] != "all" else None, "queues": queues, "flags": flags,
        "grid_name": grid_names.get(inc.grid_code or ""), "assignee_name": people.get(inc.assignee or ""),
        "buttons": buttons(actor, inc),
        "status_url": url_for("resident.incident_status", incident_id=inc.id),
    }


def _request(actor: Actor) -> board_queue.BoardRequest:
    return board_queue.parse(loop(), actor, request.args, getlist=request.args.getlist)


def _choices() -> dict[str, Any]:
    """The options of the filter form: zones, categories, statuses, sources."""
    s = loop()
    zones = [(code, name) for code, name, level in services().store.unit_names() if level == Level.zone]
    return {"zones": sorted(zones), "categories": [(c.code, c.name) for c in s.taxonomy],
            "statuses": [(st, st.replace("_", " ") if current_locale() == "en" else STATUS_LABELS[st]) for st in STATUSES], "sources": list(SOURCES)}


def _link(data: dict[str, Any], **changes: Any) -> str:
    """/board with the current filters, sort and page, some of them changed (None drops one)."""
    args = {k: v for k, v in (data.get("filters") or {}).items() if v}
    args.update(queue=data["queue"], sort=data["sort"], page=data["page"], per_page=data["per_page"])
    args.update(changes)
    if args.get("sort") == "urgent":
        args.pop("sort")
    if args.get("per_page") == board_queue.PER_PAGE:
        args.pop("per_page")
    if args.get("page") == 1:
        args.pop("page")
    return url_for("board.board", **{k: v for k, v in args.items() if v is not None})


def _grid_names(codes: set[str]) -> dict[str, str]:
    if not codes:
        return {}
    return {u.code: u.name for u in services().store.units(codes=sorted(codes))}

