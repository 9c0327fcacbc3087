"""Blueprint "incidents": the dispatcher's JSON API under /api/v1 (intake, loop, supervision, metrics)."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, jsonify, request, url_for

from .. import params
from ..errors import Forbidden, InputError
from ..i18n import tr
from ..incidents.intake import EARLIEST_REPORT
from ..incidents.model import OPEN_STATUSES
from ..incidents.replies import reply_for
from ..policy import OWN, require_level, sees
from . import services
from .auth import check_csrf, current_actor, require
from .limits import public_report_limit
from .uploads import photo_upload, uploaded_photo
from .views import event_json, incident_view

bp = Blueprint("incidents", __name__)


def loop():
    """The app's IncidentService."""
    return services().incidents


def _show(inc):
    s = loop()
    actor = current_actor()
    return incident_view(actor, inc, s.taxonomy, s.tz)  # fields by the role × data table (policy.py)


@bp.get("/categories")
def categories():
    return jsonify([c.__dict__ for c in loop().taxonomy])


@bp.post("/incidents")
@public_report_limit
@photo_upload
def report():
    body = request.get_json(silent=True) if request.is_json else request.form.to_dict()
    if body is None:
        raise InputError(tr("the request body is not valid JSON"))
    check_csrf()
    if request.is_json and isinstance(body, dict) and body.get("photo") not in (None, ""):  # not silently dropped
        raise InputError(tr("%(field)s: send the photo as a file (multipart/form-data), not as text", field="photo"))
    photo = None if request.is_json else uploaded_photo("photo", "media")
    filed = loop().report(body, current_actor(), photo=photo)
    out = _show(filed.incident) | {
        "reporter_token": filed.reporter_token,
        "possible_duplicates": [d.id for d in filed.duplicates],
        "acknowledgement": reply_for(filed.incident, loop()),  # the auto-acknowledgement and expected time
        "status_url": url_for("resident.incident_status", incident_id=filed.incident.id, _external=True),
    }
    return jsonify(out), 201, {"Location": url_for("incidents.incident", incident_id=filed.incident.id)}


@bp.get("/incidents")
def list_incidents():
    actor = require()
    args = request.args
    status = [s for s in args.get("status", "").split(",") if s] or None
    if status == ["open"]:
        status = list(OPEN_STATUSES)
    limit = min(_int(args.get("limit", 100), "limit"), 1000)
    found = loop().repo.query(status=status, grid_codes=_opt_list(args.get("grid")), zone_code=args.get("zone"),
                              category=args.get("category"), start=_time(args.get("from"), "from"),
                              end=_time(args.get("to"), "to"), limit=limit, offset=_int(args.get("offset", 0), "offset"),
                              # staff: only incidents whose grid or zone is one of their units
                              within_units=sorted(actor.units) if actor.role == "staff" else None)
    return jsonify([_show(i) for i in found])


@bp.get("/incidents/<incident_id>")
def incident(incident_id: str):
    return jsonify(_show(loop().repo.get(incident_id)))


@bp.post("/incidents/<incident_id>/actions")
def act(incident_id: str):
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InputError(tr("send a JSON object: {\"action\": ..., \"version\": ..., \"note\": ...}"))
    actor = current_actor() if body.get("reporter_token") else require()
    check_csrf()  # a reporter_token in the body must not let a session-cookie write skip the CSRF check
    action = str(body.pop("action", "") or "")
    version = body.pop("version", None)
    if version is not None and not isinstance(version, int):
        raise InputError(tr("version: must be the integer version you last read"))
    note = body.pop("note", "") or ""
    if not isinstance(note, str):
        raise InputError(tr("note: must be text"))
    token = body.get("reporter_token")
    if token is not None and not (isinstance(token, str) and token.isascii()):  # compare_digest refuses non-ASCII
        raise InputError(tr("reporter_token: must be the text token you were given when you reported"))
    inc = loop().act(incident_id, action, actor, version=version, note=note, data=body)
    return jsonify(_show(inc))


@bp.get("/incidents/<incident_id>/events")
def events(incident_id: str):
    actor = require()
    inc = loop().repo.get(incident_id)
    if not sees(actor, "incident_internal", (inc.grid_code, inc.zone_code)):
        raise Forbidden(tr("the log of incident %(id)s is not open to you", id=inc.id))
    return jsonify([event_json(e, loop().tz) for e in loop().repo.events(incident_id)])


@bp.get("/supervision")
def supervision():
    """Overdue and nearly-due open incidents: one page of each (limit, offset), with totals."""
    actor = require()
    s = loop()
    now = s.clock()
    args = request.args
    limit = min(_int(args.get("limit", 100), "limit"), 1000)
    page = s.repo.supervision_page(now, now + dt.timedelta(hours=s.services.settings.due_soon_hours), limit=limit,
                                   offset=_int(args.get("offset", 0), "offset"), zone_code=args.get("zone"),
                                   grid_codes=_opt_list(args.get("grid")),
                                   within_units=sorted(actor.units) if actor.role == "staff" else None)
    return jsonify({"as_of": now.astimezone(s.tz).isoformat(), "limit": limit, "offset": _int(args.get("offset", 0), "offset"),
                    "overdue_total": page["overdue_total"], "due_soon_total": page["due_soon_total"],
                    "overdue": [_show(i) for i in page["overdue"]], "due_soon": [_show(i) for i in page["due_soon"]]})


@bp.post("/supervision/run")
def supervise():
    require("admin", "dispatcher")
    return jsonify({"escalated": [i.id for i in loop().supervise()]})


@bp.get("/metrics")
def metrics():
    actor = require()
    from ..incidents.metrics import rank_zones
    from ..incidents.metrics_db import BY_DB, compute_db

    by = request.args.get("by", "grid")
    if by not in BY_DB:
        raise InputError(tr("by: one of %(BY_DB)s", BY_DB=", ".join(BY_DB)))
    own = require_level(actor, "metrics_workers" if by == "worker" else "metrics_units") == OWN
    if own and by not in ("grid", "zone", "town", "worker"):
        raise Forbidden(tr("staff see the metrics of their own grids only: by=grid, zone, town or worker, not %(by)s", by=by))
    start, end = _time(request.args.get("from"), "from"), _time(request.args.get("to"), "to")
    if start is None or end is None:
        raise InputError(tr("from and to: give the date range (ISO dates or times)"))
    if start >= end:
        raise InputError(tr("from (%(date)s) must be before to (%(date2)s)", date=start.date(), date2=end.date()))
    s = loop()
    # Deadlines are judged as of the end of the range, or now if the range runs into the future.
    rows, rates = compute_db(s.repo, by, start, end, as_of=min(end, s.clock()), tz=s.tz,
                             response_limit_hours=s.services.settings.response_limit_hours)
    out = {"by": by, "from": start.isoformat(), "to": end.isoformat(),
           "rows": [r.__dict__ | {k: v for k, v in h.__dict__.items() if k != "key"} for r, h in zip(rows, rates)]}
    if own:  # staff: their own grids' rows, their own worker row
        keep = [i for i, r in enumerate(rows) if (r.key == actor.person_id if by == "worker" else r.key in actor.units)]
        out["rows"] = [out["rows"][i] for i in keep]
        rows = [rows[i] for i in keep]
    if by == "zone":
        out["ranking"] = rank_zones(rows)
    return jsonify(out)


@bp.get("/roster")
def roster():
    actor = require()
    own = require_level(actor, "roster") == OWN  # staff: the shifts of their own grids
    shifts = loop().repo.shifts(request.args.get("unit"), _time(request.args.get("from"), "from"), _time(request.args.get("to"), "to"))
    return jsonify([_shift(s) for s in shifts if not own or s["unit_code"] in actor.units])


@bp.post("/roster")
def add_shift():
    require("admin", "dispatcher")
    body = request.get_json(silent=True) or {}
    if not isinstance(body, dict):
        raise InputError(tr("send a JSON object: {\"unit_code\", \"person_id\", \"starts_at\", \"ends_at\"}"))
    unit, person = str(body.get("unit_code", "")), str(body.get("person_id", ""))
    if unit not in services().store.unit_levels():
        raise InputError(tr("unit_code: %(unit)r is not in the store", unit=unit))
    if person not in {p.person_id for p in services().store.people()}:
        raise InputError(tr("person_id: %(person)r is not in the store", person=person))
    start, end = _time(body.get("starts_at"), "starts_at"), _time(body.get("ends_at"), "ends_at")
    if start is None or end is None:
        raise InputError(tr("starts_at and ends_at: required ISO times"))
    shift_id = loop().repo.add_shift(unit, person, start, end)
    return jsonify({"id": shift_id}), 201


@bp.delete("/roster/<int:shift_id>")
def delete_shift(shift_id: int):
    require("admin", "dispatcher")
    loop().repo.delete_shift(shift_id)
    return "", 204


def _shift(s: dict) -> dict:
    tz = loop().tz
    return {**s, "starts_at": s["starts_at"].astimezone(tz).isoformat(), "ends_at": s["ends_at"].astimezone(tz).isoformat()}


def _time(raw, name: str = "time") -> dt.datetime | None:
    try:  # a date before the first incident is named as such (not as outside the queryable range)
        early = raw not in (None, "") and dt.date.fromisoformat(str(raw).strip()[:10]) < EARLIEST_REPORT.date()
    except ValueError:
        early = False  # params.moment names the bad value
    t = None if early else params.moment(raw, name, loop().tz)
    if early or (t is not None and t < EARLIEST_REPORT):
        raise InputError(tr("%(name)s: %(raw)r is before %(EARLIEST_REPORT)s: no incident is that old", name=name, raw=raw, EARLIEST_REPORT=format(EARLIEST_REPORT, "%Y-%m-%d")))
    return t


def _int(raw, name: str) -> int:
    return params.integer(raw, name, default=0, minimum=0)


def _opt_list(raw: str | None, name: str = "grid") -> list[str] | None:
    return params.text_list(raw, name)
