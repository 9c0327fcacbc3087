"""OpenAPI section of blueprint "analysis" (web/analysis_api.py): coverage, balance, proposals, 多网合一."""

from __future__ import annotations

from .common import BEARER, BOOL, GEOJSON, INT, JSON, NUM, STR, array, errors, nullable, obj, ok, op, query, ref

TAG = "planning"  # the public tag (generated clients name their module after it): kept
_FORMAT = {"type": "string", "enum": ["json", "geojson", "map"]}
_RANGE = {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*-\s*\d+(\.\d+)?\s*$", "example": "10-15"}

SCHEMAS = {
    "CoverageReport": obj(["plan", "parent", "count", "problems"], plan=nullable(INT), parent=nullable(STR), count=INT,
                          problems=array(ref("CoverageProblem"))),
    "GridBalance": obj(["code", "households", "area_km2", "incidents_per_year", "compactness", "parts", "flags", "ok"],
                       code=STR, name=STR, parent_code=nullable(STR), households=nullable(INT),
                       population=nullable(INT), area_km2=NUM, incidents=INT, incidents_per_year=NUM, staff=INT,
                       staff_per_100_households=nullable(NUM), compactness=NUM, parts=INT, contiguous=BOOL,
                       flags=array(STR), ok=BOOL),
    "BalanceReport": obj(["summary", "grids"], summary=obj(["grids", "flagged"], grids=INT, flagged=INT),
                         grids=array(ref("GridBalance"))),
    "ProposeRequest": obj(["zone"], zone=STR, households=_RANGE, grids=INT, lock={"oneOf": [STR, array(STR)]},
                          method={"type": "string", "enum": ["bisect", "skater", "maxp"]}, crs=STR,
                          weight_field=STR, plan=INT, draft=INT, points=array(array(NUM)),
                          barriers=array(ref("Geometry"))),
    "ProposeUpload": obj(["zone", "points"], zone=STR, points={"type": "string", "format": "binary"},
                         barriers={"type": "string", "format": "binary"}, households=_RANGE, grids=INT, lock=STR,
                         method={"type": "string", "enum": ["bisect", "skater", "maxp"]}, crs=STR,
                         weight_field=STR, plan=INT, draft=INT),
    "NetworksUpload": obj(["layer"], layer=array({"type": "string", "format": "binary"}), code_field=STR, crs=STR,
                          min_layers=INT, snap_m=NUM, min_area_m2=NUM, parent=STR),
    "NetworksReport": obj(["report", "merge", "merged"],
                          report=obj(["layers", "pairs", "grids"], layers=array(obj()), pairs=array(obj()),
                                     grids=array(obj(["layer", "code", "area_m2", "covered_by"], layer=STR, code=STR,
                                                     area_m2=NUM, covered_by=obj()))),
                          merge=obj(), merged=ref("FeatureCollection")),
}

_PROPOSAL = {"allOf": [ref("FeatureCollection"), obj(["proposal"], proposal=obj(), saved=obj())]}

PATHS = {
    "/api/v1/coverage": {"get": op(
        "Coverage of a parent by its children: gaps, overlaps, outside pieces, invalid/multi-part units, slivers (m²)",
        "coverage", {"200": {"description": "the problems (JSON), their shapes (geojson) or a styled map layer (map)",
                             "content": {JSON: {"schema": ref("CoverageReport")},
                                         GEOJSON: {"schema": ref("FeatureCollection")}}},
                     **errors(404, 422)},
        params=[query("parent", STR, "the parent unit (default: every parent)"),
                query("plan", INT, "plan version (default: the plan in force)"),
                query("f", _FORMAT, "json (default), geojson or map")], tag=TAG)},
    "/api/v1/balance": {"get": op(
        "Households, people, area, incidents/year, staff per 100 households, compactness per grid, against targets",
        "balance", {"200": {"description": "the figures (JSON) or the grids coloured by target (f=geojson)",
                            "content": {JSON: {"schema": ref("BalanceReport")},
                                        GEOJSON: {"schema": ref("FeatureCollection")}}},
                    **errors(404, 422)},
        params=[query("parent", STR, "only the grids under this unit"),
                query("households", _RANGE, "target households per grid MIN-MAX"),
                query("population", _RANGE, "target population MIN-MAX"),
                query("area", _RANGE, "target area in km² MIN-MAX"),
                query("min_compactness", NUM, "flag grids below this Polsby-Popper score"),
                query("level", STR, "grid (default) or micro"), query("plan", INT, "plan version"),
                query("from", {"type": "string", "format": "date"}, "incidents from (default: a year ago)"),
                query("to", {"type": "string", "format": "date"}, "incidents before (default: now)"),
                query("f", STR, "json (default) or geojson")], tag=TAG)},
    "/api/v1/propose": {"post": op(
        "Cut a zone into contiguous, compact grids meeting a household range (planner, admin)", "propose",
        {"200": ok(_PROPOSAL, GEOJSON), **errors(401, 403, 404, 409, 413, 422)},
        body={"required": True, "content": {JSON: {"schema": ref("ProposeRequest")},
                                            "multipart/form-data": {"schema": ref("ProposeUpload")}}},
        security=BEARER, tag=TAG)},
    "/api/v1/networks": {"post": op(
        "多网合一: how two or more grid layers overlap, and one merged layer (planner, admin)", "networks",
        {"200": ok(ref("NetworksReport")), **errors(401, 403, 404, 413, 422)},
        body={"required": True, "content": {"multipart/form-data": {"schema": ref("NetworksUpload")}}},
        security=BEARER, tag=TAG)},
}
