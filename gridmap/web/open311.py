"""Blueprint "open311": Open311 GeoReport v2 under /open311/v2, in XML (the spec's required format) and JSON.

Every resource answers as `.xml` or `.json`: services, services/{code}, requests (GET and POST),
requests/{id}, discovery and FixMyStreet's servicerequestupdates extension. Errors are the
spec's error list, in the format the URL asked for: 400 bad input, 403 a bad api_key, 404 an
unknown id (web/errors.py).

Extensions beyond the standard (allowed by GeoReport v2): `grid_code`, `zone_code`,
`detailed_status` (our closed-loop status) and, on POST, `token` (the reporter's secret to
reopen or rate). GET requests take `page` and `page_size` (see incidents/georeport.py). An
`api_key` identifies a trusted client (an API token); without one the report is anonymous and
rate-limited.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request, url_for

from ..errors import InputError, NotFound
from ..i18n import tr
from ..incidents import georeport as g3
from ..incidents.intake import parse_report
from .auth import current_actor
from .georeport_xml import xml_response
from .incidents_api import loop
from .limits import public_report_limit
from .photos import photo_view
from .uploads import photo_upload, uploaded_photo

bp = Blueprint("open311", __name__)
FMT = "<any(json, xml):fmt>"


def _answer(fmt: str, root: str, value, status: int = 200, headers: dict | None = None):
    """The same data as JSON (the value itself) or as the spec's XML document <root>."""
    if fmt == "xml":
        return xml_response(root, value, status, headers)
    return jsonify(value), status, headers or {}


def _service(cat) -> dict:
    return {"service_code": cat.code, "service_name": cat.name, "description": getattr(cat, "description", "") or cat.name,
            "metadata": False, "type": "realtime", "keywords": cat.kind, "group": cat.group}


@bp.get(f"/discovery.{FMT}")
def discovery(fmt: str):
    endpoint = {"specification": g3.SPEC, "url": url_for("open311.service_list", fmt="xml", _external=True)
                .rsplit("/", 1)[0], "changeset": g3.CHANGESET, "type": "production",
                "formats": ["text/xml", "application/json"]}
    return _answer(fmt, "discovery", {"changeset": g3.CHANGESET,
                                      "contact": "网格化管理中心 / the grid management centre of this jurisdiction",
                                      "key_service": "api_key: an API token from the administrator (gridmap users token NAME)",
                                      "endpoints": [endpoint]})


@bp.get(f"/services.{FMT}")
def service_list(fmt: str):
    return _answer(fmt, "services", [_service(c) for c in loop().taxonomy])


@bp.get(f"/services/<code>.{FMT}")
def service_definition(code: str, fmt: str):
    if code not in loop().taxonomy:
        raise NotFound(tr("no service with code %(code)r", code=code))
    return _answer(fmt, "service_definition", {"service_code": code, "attributes": []})


@bp.post(f"/requests.{FMT}")
@public_report_limit
@photo_upload
def post_request(fmt: str):
    data = request.form if request.form else (request.get_json(silent=True) or {})
    if not hasattr(data, "get"):
        raise InputError(tr("send the request form-encoded (GeoReport v2) or as a JSON object"))
    actor = current_actor()  # an api_key (an API token) identifies a trusted client
    s = loop()
    body, kept, problems = g3.post_fields(data)
    try:  # check the report itself too, so one answer names every problem
        parse_report(body, s.taxonomy, s.clock(), s.tz)
    except InputError as exc:
        problems = [g3.open311_problem(p, data) for p in (exc.problems or [str(exc)])] + problems
    if problems:
        raise InputError(tr("the request has %(n)s problem(s); nothing was stored", n=len(problems)), problems)
    photo = uploaded_photo("media")  # FixMyStreet's multipart `media` file; `media_url` stays a link
    filed = s.report(body, actor, source="open311", extra={"open311": kept} if kept else None, photo=photo)
    return _answer(fmt, "service_requests", [{"service_request_id": filed.incident.id, "service_notice": "",
                                              "account_id": kept.get("account_id"),
                                              "grid_code": filed.incident.grid_code, "token": filed.reporter_token}],
                   201)


@bp.get(f"/requests.{FMT}")
def get_requests(fmt: str):
    s = loop()
    if g3.values(request.args, "service_request_id"):  # ids override every other parameter
        return _answer(fmt, "service_requests", [_view(i, s) for i in _by_ids(s)])
    status, codes = g3.statuses(request.args), g3.service_codes(request.args, s.taxonomy)
    win = g3.window(request.args, s.clock(), s.tz)
    found = s.repo.query(status=status, category=codes, start=win.start, end=win.end,
                         limit=win.page_size + 1, offset=win.offset)
    return _answer(fmt, "service_requests", [_view(i, s) for i in found[:win.page_size]],
                   headers=_paging(win, len(found) > win.page_size))


@bp.get(f"/requests/<incident_id>.{FMT}")
def get_request(incident_id: str, fmt: str):
    return _answer(fmt, "service_requests", [_view(_one(loop(), incident_id), loop())])


@bp.get(f"/servicerequestupdates.{FMT}")
def get_updates(fmt: str):
    """FixMyStreet's extension: status changes in [start_date, end_date), oldest first (its client polls)."""
    s = loop()
    win = g3.window(request.args, s.clock(), s.tz)
    rows = s.repo.status_changes(win.start, win.end, limit=win.page_size + 1, offset=win.offset)
    return _answer(fmt, "service_request_updates", [g3.update_view(i, e, s) for i, e in rows[:win.page_size]],
                   headers=_paging(win, len(rows) > win.page_size))


def _view(inc, s) -> dict:
    """A service request as GeoReport v2 shows it; `media_url` is our photo's absolute URL once the
    public may see it (privacy.py), else the link the client sent, if any."""
    out = g3.request_view(inc, s)
    photo = photo_view(inc, public=True)
    if photo is not None:
        out["media_url"] = photo["url"]
    return out


def _one(s, incident_id: str):
    if not incident_id.isdigit() or len(incident_id) > 18:  # not an id we could have given
        raise NotFound(tr("no service request with id %(id)r", id=incident_id))
    return s.repo.get(incident_id)


def _by_ids(s) -> list:
    found = []
    for rid in g3.values(request.args, "service_request_id"):
        try:
            found.append(_one(s, rid))
        except NotFound:
            continue  # a list query answers with those that exist
    return found


def _paging(win: g3.Window, more: bool) -> dict:
    """A `Link: <next page>; rel="next"` header when the window holds more than this page."""
    if not more:
        return {}
    args = request.args.to_dict(flat=False)
    args["page"] = [str(win.page + 1)]
    # Pin the window, so the next page is the same query even if the default "now" has moved on.
    args.setdefault("start_date", [g3.w3c(win.start, loop().tz)])
    args.setdefault("end_date", [g3.w3c(win.end, loop().tz)])
    nxt = url_for(request.endpoint, _external=True, **(request.view_args or {}), **args)
    return {"Link": f'<{nxt}>; rel="next"'}
