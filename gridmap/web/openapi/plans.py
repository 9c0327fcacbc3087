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
        ["op", "rev"], op={"type": "string", "enum": ["split", "merge", "reshape", "move", "snap", "rename", "staff", "lock"]},
        rev={"oneOf": [INT, {"type": "object", "additionalProperties": INT}]},
        code=STR, codes=CODES, line=ref("Geometry"), parts=INT, geometry=ref("Geometry"), neighbour=STR,
        repair=BOOL, area=ref("Geometry"), points=array(array(NUM)), tolerance_m=NUM, level=STR, parent=STR, name=STR,
        leader=STR, instructor=STR, workers=CODES, locked=BOOL, **{"from": STR, "to": STR}),
    "PlanEditResult": obj(["plan", "rev", "op", "created", "changed", "removed", "revs", "notes"], plan=INT, rev=INT,
                          op=STR, created=CODES, changed=CODES, removed=CODES,
                          revs={"type": "object", "additionalProperties": INT}, notes=array(STR),
                          features=array(obj())),
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

_BLOCKS_ERR = {**errors(401, 403, 404, 409), "422": {
    "description": "a bad block-assignment file: its problems, naming rows (nothing written)",
    "content": {"application/json": {"schema": obj(["status", "title", "detail"], status=INT, title=STR, detail=STR,
                                                    problems=array(STR))}}}}
_BLOCKS_DONE = obj(["plan", "rev", "created_draft", "based_on", "rows", "grids", "created", "changed", "removed"],
                   plan=INT, rev=INT, created_draft=BOOL, based_on=INT, rows=INT, grids=INT, created=CODES,
                   changed=CODES, removed=CODES, moved_units=INT, notes=array(STR))
_SIDE = obj(["plan", "balance"], plan=ref("Plan"), balance=obj(["counts", "grids"], counts=obj(), grids=array(obj())))

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
                query("parent", STR, "only the units below this zone or town (any depth)"),
                query("codes", STR, "only these units (comma-separated codes)")], **_READ)},
    "/api/v1/plans/{version}/edits": {"post": op(
        "Apply one edit to a draft (split, merge, reshape, move, snap, rename); coverage stays exact (planner, admin)",
        "editPlan", {"200": ok(ref("PlanEditResult")), **errors(401, 403, 404, 409, 422)},
        params=[_PLAN, query("features", STR, "1: add the created and changed units as GeoJSON features")], body=json_body(ref("PlanEditRequest")), **_READ)},
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
    "/api/v1/plans/{version}/blocks.csv": {"get": op(
        "The plan as a block-assignment file: unit_code,grid_code of its micro-grids (CSV)", "exportPlanBlocks",
        {"200": ok(STR, "text/csv"), **errors(401, 404, 422)}, params=[_PLAN], **_READ)},
    "/api/v1/plans/blocks": {"post": op(
        "Build a draft's grids from a block-assignment file (unit_code,grid_code); a new draft unless `into` "
        "(planner, admin)", "importPlanBlocks",
        {"200": ok(_BLOCKS_DONE), "201": ok(_BLOCKS_DONE), **_BLOCKS_ERR},
        params=[query("into", INT, "the draft to build (default: a new draft from the newest published plan)"),
                query("note", STR, "the new draft's note")],
        body={"required": True, "content": {"text/csv": {"schema": STR}, "multipart/form-data": {
            "schema": obj(["file"], file={"type": "string", "format": "binary"}, note=STR)}}}, **_READ)},
    "/api/v1/plans/compare": {"get": op(
        "Two plans side by side: the diff a -> b and the household balance of each", "comparePlans",
        {"200": ok(obj(["a", "b", "diff", "status", "targets"], a=_SIDE, b=_SIDE, diff=ref("PlanDiff"),
                       status=obj(), targets=obj())), **errors(401, 404, 422)},
        params=[query("a", INT, "plan A", required=True), query("b", INT, "plan B", required=True),
                query("households", STR, "target MIN-MAX (default: the median ±25 %)")], **_READ)},
}
