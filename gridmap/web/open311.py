"""Blueprint "open311": Open311 GeoReport v2 under /open311/v2 (JSON), so 311 clients can file reports.

Extensions beyond the standard (allowed by GeoReport v2): `grid_code`, `zone_code`,
`detailed_status` (our closed-loop status) and, on POST, `token` (the reporter's secret to
reopen or rate). An `api_key` identifies a trusted client (an API token); without one the
report is anonymous and rate-limited.
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, jsonify, request

from ..errors import InputError, NotFound
from ..timebounds import check_moment
from ..incidents.model import FINAL_STATUSES, OPEN_STATUSES, STATUS_LABELS
from .auth import current_actor
from .incidents_api import loop

bp = Blueprint("open311", __name__)


def _service(cat) -> dict:
    return {"service_code": cat.code, "service_name": cat.name, "description": getattr(cat, "description", "") or cat.name,
            "metadata": False, "type": "realtime", "keywords": cat.kind, "group": cat.group}


@bp.get("/services.json")
def service_list():
    return jsonify([_service(c) for c in loop().taxonomy])


@bp.get("/services/<code>.json")
def service_definition(code: str):
    if code not in loop().taxonomy:
        raise NotFound(f"no service with code {code!r}")
    return jsonify({"service_code": code, "attributes": []})


def _request(inc) -> dict:
    s = loop()
    cat = s.taxonomy.get(inc.category) if inc.category in s.taxonomy else None
    updated = inc.closed_at or inc.handled_at or inc.dispatched_at or inc.reported_at
    return {
        "service_request_id": inc.id, "status": "open" if inc.status in OPEN_STATUSES else "closed",
        "status_notes": STATUS_LABELS.get(inc.status, inc.status), "service_name": cat.name if cat else inc.category,
        "service_code": inc.category, "description": inc.description,
        "agency_responsible": inc.department or (f"网格 {inc.grid_code}" if inc.grid_code else ""),
        "service_notice": "", "address": "", "address_id": "", "zipcode": "",
        "requested_datetime": inc.reported_at.astimezone(s.tz).isoformat(),
        "updated_datetime": updated.astimezone(s.tz).isoformat(),
        "expected_datetime": inc.due_at.astimezone(s.tz).isoformat() if inc.due_at else None,
        "lat": round(inc.lat, 6), "long": round(inc.lon, 6), "media_url": "",
        "grid_code": inc.grid_code, "zone_code": inc.zone_code, "detailed_status": inc.status,
    }


@bp.post("/requests.json")
def post_request():
    data = request.form.to_dict() if request.form else (request.get_json(silent=True) or {})
    if not isinstance(data, dict):
        raise InputError("send the request form-encoded (GeoReport v2) or as a JSON object")
    data.pop("api_key", None)
    actor = current_actor()  # an api_key (an API token) identifies a trusted client
    body = {"category": data.get("service_code"), "description": data.get("description"),
            "reporter_name": " ".join(str(x) for x in (data.get("first_name"), data.get("last_name")) if x) or None,
            "reporter_phone": data.get("phone") or None, "crs": data.get("crs")}
    if data.get("lat") not in (None, "") or data.get("long") not in (None, ""):
        body.update(lon=data.get("long"), lat=data.get("lat"))
    try:
        filed = loop().report(body, actor, source="open311")
    except InputError as exc:  # name the fields as Open311 clients know them
        fix = lambda p: p.replace("category:", "service_code:").replace("reporter_phone:", "phone:")
        raise InputError(fix(str(exc).splitlines()[0]), [fix(p) for p in exc.problems]) from None
    return jsonify([{"service_request_id": filed.incident.id, "service_notice": "",
                     "account_id": None, "grid_code": filed.incident.grid_code, "token": filed.reporter_token}]), 201


@bp.get("/requests.json")
def get_requests():
    args = request.args
    s = loop()
    if args.get("service_request_id"):
        found = []
        for rid in args["service_request_id"].split(","):
            try:
                found.append(s.repo.get(rid.strip()))
            except NotFound:
                continue
    else:
        status = {"open": list(OPEN_STATUSES), "closed": list(FINAL_STATUSES)}.get(args.get("status", ""), None)
        if args.get("status") and status is None:
            raise InputError("status: 'open' or 'closed'")
        end = _time(args.get("end_date")) or s.clock()
        start = _time(args.get("start_date")) or end - dt.timedelta(days=90)
        found = s.repo.query(status=status, category=args.get("service_code"), start=start, end=end, limit=1000)
    return jsonify([_request(i) for i in found])


@bp.get("/requests/<incident_id>.json")
def get_request(incident_id: str):
    return jsonify([_request(loop().repo.get(incident_id))])


def _time(raw):
    if not raw:
        return None
    try:
        t = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"{raw!r} is not a W3C/ISO 8601 date") from None
    check_moment(t, "start_date/end_date")
    return t if t.tzinfo else t.replace(tzinfo=loop().tz)
