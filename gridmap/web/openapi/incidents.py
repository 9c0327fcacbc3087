"""OpenAPI section of blueprint "incidents" (web/incidents_api.py): the closed loop under /api/v1."""

from __future__ import annotations

from ...incidents.intake import MAX_DESCRIPTION, PHONE
from ...incidents.model import STATUSES
from ...incidents.workflow import ACTIONS
from .common import (
    BEARER,
    BOOL,
    INT,
    NUM,
    OPTIONAL_BEARER,
    STR,
    TIME,
    array,
    errors,
    json_body,
    nullable,
    obj,
    ok,
    op,
    path,
    query,
    ref,
)

TAG = "incidents"
_METRIC_COUNTS = ("count", "filed", "due", "closed", "closed_on_time", "overdue_open", "rework", "extended", "rated")
_METRIC_RATES = ("closure_rate", "on_time_rate", "rework_rate", "extension_rate", "mean_hours_to_close",
                 "p90_hours_to_close", "satisfaction")
_PUBLIC = dict(id=STR, category=STR, category_name=STR, status={"type": "string", "enum": list(STATUSES)},
               status_label=STR, description=STR, lon=NUM, lat=NUM, grid_code=nullable(STR), zone_code=nullable(STR),
               town_code=nullable(STR), reported_at=TIME, due_at=nullable(TIME), closed_at=nullable(TIME),
               rating=nullable(INT), merged_into=nullable(STR),
               # the reporter's photo (EXIF stripped): for the public only once filed, else photo_withheld
               photo=nullable(obj(["url", "thumb_url"], url=STR, thumb_url=STR, width=INT, height=INT,
                                  thumb_width=INT, thumb_height=INT)),
               photo_withheld=BOOL)
_PHOTO_PART = {"type": "string", "format": "binary",
               "description": "a JPEG, PNG or HEIC photo, at most photo_max_bytes (413 above it; 422 if not a photo)"}
# Seen only by dispatchers, admins and the incident's own grid staff (absent from the public view).
_PRIVATE = dict(reporter_name=nullable(STR), reporter_phone=nullable(STR), source=STR, severity=INT, assignment=STR,
                distance_m=nullable(NUM), assignee=nullable(STR), handling_level=STR, department=nullable(STR),
                escalated=BOOL, plan=nullable(INT), dispatched_at=nullable(TIME), handled_at=nullable(TIME),
                rework_count=INT, reopen_count=INT, extended=BOOL, version=INT, extra={"type": "object"},
                actions=array({"type": "string", "enum": list(ACTIONS)}))

SCHEMAS = {
    "Incident": obj(list(_PUBLIC), **_PUBLIC, **_PRIVATE),
    "IncidentFiled": {"allOf": [ref("Incident"), obj(["reporter_token", "possible_duplicates", "status_url"],
                                                     reporter_token=nullable(STR), possible_duplicates=array(STR),
                                                     status_url=STR)]},
    "NewIncident": {**obj(["category"], category=STR, lon={"type": "number", "minimum": -180, "maximum": 180},
                          lat={"type": "number", "minimum": -90, "maximum": 90},
                          location=obj(["type", "coordinates"], type={"type": "string", "enum": ["Point"]},
                                       coordinates={**array(NUM), "minItems": 2, "maxItems": 3}),
                          crs={"type": "string", "description": "EPSG:4326 (default), GCJ-02, BD-09 or an EPSG code"},
                          description={"type": "string", "maxLength": MAX_DESCRIPTION},
                          severity={"type": "integer", "minimum": 1, "maximum": 3},
                          reporter_name=STR, reporter_phone={"type": "string", "pattern": PHONE.pattern},
                          reported_at={**TIME, "description": "not in the future; default now"}),
                    "anyOf": [{"required": ["lon", "lat"]}, {"required": ["location"]}]},
    "Action": obj(["action"], action={"type": "string", "enum": list(ACTIONS)}, version=INT, note=STR,
                  reporter_token=STR, assignee=STR, hours=NUM, level=STR, department=STR, grid_code=STR,
                  rating={"type": "integer", "minimum": 1, "maximum": 5}, into=STR),
    "Event": obj(["at", "actor", "action", "from", "to"], at=TIME, actor=STR, action=STR, **{"from": nullable(STR)},
                 to=STR, note=nullable(STR), data=nullable({"type": "object"})),
    "Metrics": obj(["key", *_METRIC_COUNTS, *_METRIC_RATES], key=nullable(STR), **{k: INT for k in _METRIC_COUNTS},
                   **{k: nullable(NUM) for k in _METRIC_RATES}),
    "Shift": obj(["id", "unit_code", "person_id", "starts_at", "ends_at"], id=INT, unit_code=STR, person_id=STR,
                 starts_at=TIME, ends_at=TIME),
}

_HOTLINE_RATES = ("response_rate", "resolution_rate", "satisfaction_rate")
_HOTLINE_COUNTS = ("responded", "response_due", "resolved", "closed_rated", "satisfied")
_ID = path("incident_id", STR)
# OpenAPI links: what a client (or a stateful fuzzer) can do next with a new incident's id.
_INCIDENT_LINKS = {name: {"operationId": op_id, "parameters": {"incident_id": "$response.body#/id"}}
                   for name, op_id in (("GetIncident", "getIncident"), ("ActOnIncident", "actOnIncident"),
                                       ("ListIncidentEvents", "listIncidentEvents"))}


def _with_photo(body: dict) -> dict:
    """The report's body, also accepted as multipart/form-data with the photo in `photo`."""
    body["content"]["multipart/form-data"] = {"schema": {"allOf": [ref("NewIncident"), obj([], photo=_PHOTO_PART)]}}
    return body


def _linked(response: dict, links: dict) -> dict:
    return {**response, "links": links}


_RANGE = [query("from", TIME, "from this time (ISO 8601 date or time)"), query("to", TIME, "up to this time")]

PATHS = {
    "/api/v1/categories": {"get": op("The incident taxonomy", "listCategories", {"200": ok(array(obj(
        ["code", "name", "group", "kind", "level", "time_limit_hours"], code=STR, name=STR, group=STR, kind=STR,
        level=STR, time_limit_hours=NUM, duplicate_radius_m=NUM, duplicate_window_hours=NUM,
        department=nullable(STR), severe_level=STR, time_mode=STR, description=STR))), **errors()}, tag=TAG)},
    "/api/v1/incidents": {
        "post": op("Report an incident (anonymous reports are rate-limited)", "reportIncident",
                   {"201": _linked(ok(ref("IncidentFiled"), description="filed"), _INCIDENT_LINKS),
                    **errors(401, 403, 413, 422, 429)},
                   body=_with_photo(json_body(ref("NewIncident"), form=True)), security=OPTIONAL_BEARER, tag=TAG),
        "get": op("The queue (staff: only their own grids)", "listIncidents",
                  {"200": ok(array(ref("Incident"))), **errors(401, 403, 422)},
                  params=[query("status", STR, "comma-separated statuses, or `open`"),
                          query("grid", STR, "comma-separated grid codes"), query("zone"), query("category"),
                          *_RANGE, query("limit", {"type": "integer", "minimum": 0}, "at most 1,000 (default 100)"),
                          query("offset", {"type": "integer", "minimum": 0})],
                  security=BEARER, tag=TAG)},
    "/api/v1/incidents/{incident_id}": {"get": op(
        "One incident (the public view unless you may see it all)", "getIncident",
        {"200": ok(ref("Incident")), **errors(401, 404, 422)}, params=[_ID], security=OPTIONAL_BEARER, tag=TAG)},
    "/api/v1/incidents/{incident_id}/actions": {"post": op(
        "Act on an incident: refused with 409 if the action is not allowed now or `version` is stale", "actOnIncident",
        {"200": ok(ref("Incident")), **errors(401, 403, 404, 409, 413, 422)}, params=[_ID],
        body=json_body(ref("Action")), security=OPTIONAL_BEARER, tag=TAG)},
    "/api/v1/incidents/{incident_id}/events": {"get": op(
        "The audit log of one incident", "listIncidentEvents", {"200": ok(array(ref("Event"))), **errors(401, 403, 404, 422)},
        params=[_ID], security=BEARER, tag=TAG)},
    "/api/v1/supervision": {"get": op(
        "Overdue and nearly-due open incidents: one page of each, with totals", "getSupervision",
        {"200": ok(obj(["as_of", "limit", "offset", "overdue_total", "due_soon_total", "overdue", "due_soon"], as_of=TIME,
                       limit=INT, offset=INT, overdue_total=INT, due_soon_total=INT, overdue=array(ref("Incident")),
                       due_soon=array(ref("Incident")))), **errors(401, 403, 422)},
        params=[query("zone"), query("grid", STR, "comma-separated grid codes"),
                query("limit", {"type": "integer", "minimum": 0}, "at most 1,000 per list (default 100)"),
                query("offset", {"type": "integer", "minimum": 0})], security=BEARER, tag=TAG)},
    "/api/v1/supervision/run": {"post": op(
        "Escalate every overdue open incident", "runSupervision",
        {"200": ok(obj(["escalated"], escalated=array(STR))), **errors(401, 403)}, security=BEARER, tag=TAG)},
    "/api/v1/metrics": {"get": op(
        "结案率, 按期结案率, 返工率, 延期率, time to close, satisfaction and the hotline's 三率 by group (computed "
        "by the database)", "getMetrics",
        {"200": ok(obj(["by", "from", "to", "rows"], by=STR, **{"from": TIME, "to": TIME}, rows=array({"allOf": [
            ref("Metrics"), obj(list(_HOTLINE_RATES + _HOTLINE_COUNTS), **{k: nullable(NUM) for k in _HOTLINE_RATES},
                                **{k: INT for k in _HOTLINE_COUNTS})]}),
                       ranking=array({"allOf": [ref("Metrics"), obj(["rank", "flag_lowest_satisfaction"], rank=INT,
                                                                    flag_lowest_satisfaction=BOOL)]}))),
         **errors(401, 403, 422)},
        params=[query("by", {"type": "string", "enum": ["grid", "zone", "town", "worker", "category", "all", "month"]}),
                query("from", TIME, required=True), query("to", TIME, required=True)], security=BEARER, tag=TAG)},
    "/api/v1/roster": {
        "get": op("Duty shifts overlapping [from, to)", "listShifts", {"200": ok(array(ref("Shift"))), **errors(401, 403, 422)},
                  params=[query("unit"), *_RANGE], security=BEARER, tag=TAG),
        "post": op("Put a person on duty for a unit", "addShift",
                   {"201": _linked(ok(obj(["id"], id=INT), description="created"),
                                   {"DeleteShift": {"operationId": "deleteShift",
                                                    "parameters": {"shift_id": "$response.body#/id"}}}),
                    **errors(401, 403, 413, 422)},
                   body=json_body(obj(["unit_code", "person_id", "starts_at", "ends_at"], unit_code=STR, person_id=STR,
                                      starts_at=TIME, ends_at=TIME)), security=BEARER, tag=TAG)},
    "/api/v1/roster/{shift_id}": {"delete": op(
        "Remove a shift", "deleteShift", {"204": {"description": "removed"}, **errors(401, 403, 404, 422)},
        params=[path("shift_id", INT)], security=BEARER, tag=TAG)},
}
