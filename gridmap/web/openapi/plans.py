"""OpenAPI section of blueprint "plans" (web/plans_api.py): versioned grid plans under /api/v1/plans."""

from __future__ import annotations

from .common import (
                     BEARER,
                     BOOL,
                     GEOJSON,
                     INT,
                     NUM,
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

TAG = "plans"
DATE = {"type": "string", "format": "date"}
CODES = array(STR)
_PLAN = path("version", INT)
_READ = dict(security=BEARER, tag=TAG)

SCHEMAS = {
    "Plan": obj(["version", "status", "effective_from", "created_at", "rev", "edits"], version=INT,
                status={"type": "string", "enum": ["draft", "published"]}, effective_from=nullable(DATE),
                created_at=TIME, published_at=nullable(TIME), note=nullable(STR), base_version=nullable(INT),
                author=nullable(STR), rev=INT, edits=INT),
    "PlanEdit": obj(["seq", "op", "at", "before_codes", "after_codes"], seq=INT, op=STR, author=nullable(STR),
                    at=TIME, params=obj(), before_codes=CODES, after_codes=CODES),
    "PlanEditRequest": obj(
        ["op", "rev"], op={"type": "string", "enum": ["split", "merge", "reshape", "move", "snap", "rename", "staff"]},
        rev={"oneOf": [INT, {"type": "object", "additionalProperties": INT}]},
        code=STR, codes=CODES, line=ref("Geometry"), parts=INT, geometry=ref("Geometry"), neighbour=STR,
        repair=BOOL, area=ref("Geometry"), points=array(array(NUM)), tolerance_m=NUM, level=STR, parent=STR, name=STR,
        leader=STR, instructor=STR, workers=CODES, **{"from": STR, "to": STR}),
    "PlanEditResult": obj(["plan", "rev", "op", "created", "changed", "removed", "revs", "notes"], plan=INT, rev=INT,
                          op=STR, created=CODES, changed=CODES, removed=CODES,
                          revs={"type": "object", "additionalProperties": INT}, notes=array(STR)),
    "CoverageProblem": obj(["kind", "parent", "codes", "area_m2", "location"], kind=STR, parent=STR, codes=CODES,
                           area_m2=NUM, location=obj(["lon", "lat"], lon=NUM, lat=NUM), detail=STR),
    "PlanDiff": obj(["from", "to", "added", "removed", "reshaped", "renamed", "unchanged", "summary"],
                    **{"from": INT, "to": INT}, level=STR, added=array(obj()), removed=array(obj()),
                    reshaped=array(obj(["code", "area_before_m2", "area_after_m2", "area_change_m2"],
                                       code=STR, name=STR, area_before_m2=NUM, area_after_m2=NUM,
                                       area_change_m2=NUM, changed_area_m2=NUM)),
                    renamed=array(obj()), unchanged=CODES,
                    summary={"type": "object", "additionalProperties": INT}),
    "MovingIncident": obj(["id", "from", "to"], id=STR, category=STR, status=STR, assignee=nullable(STR),
                          **{"from": nullable(STR), "to": nullable(STR)}),
    "StaffOnRemovedGrid": obj(["person_id", "unit_code", "role"], person_id=STR, name=nullable(STR),
                              unit_code=STR, role=STR),
    "PlanImpact": obj(["plan", "against", "households", "incidents", "staff_on_removed_grids", "teams", "coverage"],
                      plan=INT, status=STR, rev=INT, against=INT, diff={"type": "object", "additionalProperties": INT},
                      households=obj(["method", "households", "flows"], method=STR, households=NUM,
                                     population=NUM, flows=array(obj())),
                      incidents=obj(["open", "moving"], open=INT, moving=array(ref("MovingIncident"))),
                      staff_on_removed_grids=array(ref("StaffOnRemovedGrid")), teams=array(obj()),
                      coverage=array(ref("CoverageProblem"))),
    "PlanPublished": obj(["plan", "effective_from", "in_force", "rerouted"], plan=INT, effective_from=DATE,
                         in_force=BOOL, replaces=INT, forced=BOOL, coverage=array(ref("CoverageProblem")),
                         rerouted=array(ref("MovingIncident")), reroute_pending=BOOL,
                         staff_on_removed_grids=array(ref("StaffOnRemovedGrid"))),
    "StaffingGap": obj(["code", "problem", "open_incidents"], code=STR, name=STR, problem=STR, counts=obj(),
                       open_incidents=INT, blocks_publish=BOOL),
    "StaffingRefused": obj(["status", "title", "detail", "gaps"], status=INT, title=STR, detail=STR,
                           gaps=array(ref("StaffingGap"))),
    "CoverageRefused": obj(["status", "title", "detail", "problems"], status=INT, title=STR, detail=STR,
                           problems=array(ref("CoverageProblem")), gaps=array(ref("StaffingGap"))),
}

_PUBLISH_ERRORS = {**errors(401, 403, 404, 422), "409": {
    "description": "published already, an outdated draft, coverage problems (listed in `problems`), or grids "
                   "with open incidents lacking a full 1+1+N team (listed in `gaps`)",
    "content": {"application/json": {"schema": {"anyOf": [ref("CoverageRefused"), ref("StaffingRefused"),
                                                          ref("Error")]}}}}}

PATHS = {
    "/api/v1/plans": {
        "get": op("Every plan, oldest first", "listPlans", {"200": ok(array(ref("Plan"))), **errors(401)}, **_READ),
        "post": op("Start a draft: a copy of the plan in force (planner, admin)", "createPlan",
                   {"201": ok(ref("Plan")), **errors(401, 403, 422)}, body=json_body(obj(note=STR)), **_READ),
    },
    "/api/v1/plans/{version}": {
        "get": op("One plan with its edit log", "getPlan",
                  {"200": ok({"allOf": [ref("Plan"), obj(["edit_log"], edit_log=array(ref("PlanEdit")))]}),
                   **errors(401, 404, 422)}, params=[_PLAN], **_READ),
        "delete": op("Drop a draft (planner, admin)", "dropPlan",
                     {"204": {"description": "dropped"}, **errors(401, 403, 404, 409, 422)}, params=[_PLAN], **_READ),
    },
    "/api/v1/plans/{version}/units": {"get": op(
        "A plan's units as GeoJSON, each with its `rev` (EPSG:4326 lon/lat)", "listPlanUnits",
        {"200": ok({"allOf": [ref("FeatureCollection"), obj(["plan", "status", "rev"], plan=INT, status=STR, rev=INT)]},
                   GEOJSON), **errors(401, 404, 422)},
        params=[_PLAN, query("level", STR, "only this level"),
                query("parent", STR, "only the units below this zone or town (any depth)")], **_READ)},
    "/api/v1/plans/{version}/edits": {"post": op(
        "Apply one edit to a draft (split, merge, reshape, move, snap, rename); coverage stays exact (planner, admin)",
        "editPlan", {"200": ok(ref("PlanEditResult")), **errors(401, 403, 404, 409, 422)},
        params=[_PLAN], body=json_body(ref("PlanEditRequest")), **_READ)},
    "/api/v1/plans/{version}/undo": {"post": op(
        "Undo the last edit of a draft (planner, admin)", "undoPlanEdit",
        {"200": ok(obj(["plan", "rev", "undone"], plan=INT, rev=INT, undone=ref("PlanEdit"))),
         **errors(401, 403, 404, 409, 422)},
        params=[_PLAN], body=json_body(obj(rev=INT), required=False), **_READ)},
    "/api/v1/plans/{version}/diff": {"get": op(
        "Added, removed, reshaped (area change m²), renamed and unchanged grids against another plan", "diffPlan",
        {"200": ok(ref("PlanDiff")), **errors(401, 404, 422)},
        params=[_PLAN, query("against", INT, "the plan to compare with (default: the draft's base)"),
                query("level", {"type": "string", "enum": ["county", "town", "zone", "grid", "micro"]},
                      "units of this level (default grid)")], **_READ)},
    "/api/v1/plans/{version}/impact": {"get": op(
        "What publishing would move: households, open incidents, staff; incomplete teams; coverage", "planImpact",
        {"200": ok(ref("PlanImpact")), **errors(401, 404, 422)}, params=[_PLAN], **_READ)},
    "/api/v1/plans/{version}/publish": {"post": op(
        "Publish a draft from a date, re-routing open incidents in the same transaction (planner, admin)",
        "publishPlan", {"200": ok(ref("PlanPublished")), **_PUBLISH_ERRORS}, params=[_PLAN],
        body=json_body(obj(["effective_from"], effective_from=DATE, force=BOOL, reason=STR, rev=INT)), **_READ)},
}
