"""OpenAPI section of blueprint "api" (web/api.py): the grid registry under /api/v1."""

from __future__ import annotations

from .common import BOOL, GEOJSON, INT, NUM, STR, array, errors, nullable, obj, ok, op, path, query, ref

TAG = "registry"
LEVELS = ["county", "town", "zone", "grid", "micro"]

SCHEMAS = {
    "Info": obj(["backend", "schema_revision", "plan", "counts"], backend={"type": "string", "enum": ["sqlite", "postgresql"]},
                schema_revision=nullable(STR), plan=nullable(INT),
                counts={"type": "object", "additionalProperties": INT}),
    "Location": obj(["lon", "lat", "grid", "chain", "candidates"], lon=NUM, lat=NUM, grid=nullable(STR),
                    chain={"type": "object", "additionalProperties": STR}, candidates=array(STR),
                    nearest=nullable(STR), distance_m=nullable(NUM), in_jurisdiction=BOOL),
    "PlaceHit": obj(["name", "kind", "lon", "lat", "code", "source", "bounds"], name=STR, kind=STR, lon=NUM, lat=NUM,
                    code=nullable(STR), source=STR, bounds=nullable(array(NUM))),
    "PlaceSearch": obj(["q", "results"], q=STR, results=array(ref("PlaceHit"))),
    "TeamProblem": obj(["code", "name", "level", "problem", "counts"], code=STR, name=STR, level=STR, problem=STR,
                       counts={"type": "object", "additionalProperties": INT}),
}

PATHS = {
    "/api/v1/info": {"get": op("Backend, schema revision, plan in force, counts", "getInfo",
                               {"200": ok(ref("Info")), **errors()}, tag=TAG)},
    "/api/v1/units": {"get": op(
        "Units of the plan in force as GeoJSON (EPSG:4326 lon/lat)", "listUnits",
        {"200": ok(ref("FeatureCollection"), GEOJSON), **errors(422)},
        params=[query("level", {"type": "string", "enum": LEVELS}, "only this level")], tag=TAG)},
    "/api/v1/units/{code}": {"get": op(
        "One unit as a GeoJSON Feature", "getUnit", {"200": ok(ref("Feature"), GEOJSON), **errors(404)},
        params=[path("code")], tag=TAG)},
    "/api/v1/locate": {"get": op(
        "The grid covering a point (a point on a shared edge goes to the lowest code)", "locate",
        {"200": ok(ref("Location")), **errors(404, 422)},
        params=[query("lon", NUM, "longitude (or x in `crs`)", True), query("lat", NUM, "latitude (or y)", True),
                query("crs", STR, "EPSG:4326 (default), GCJ-02, BD-09 or any CRS pyproj knows"),
                query("at", {"type": "string", "format": "date"},
                      "answer under the grid plan in force on this date (default: today)")], tag=TAG)},
    "/api/v1/places": {"get": op(
        "Find a place: units of the plan in force whose name or code contains q, then gazetteer places "
        "(`gridmap places import`); at most `limit` (1-20), EPSG:4326 points", "searchPlaces",
        {"200": ok(ref("PlaceSearch")), **errors(422)},
        params=[query("q", STR, "text in a name or code (1-64 characters)", True),
                query("limit", INT, "how many results, 1-20 (default 10)")], tag=TAG)},
    "/api/v1/check": {"get": op("Units that break the 1+1+N team rule", "checkTeams",
                                {"200": ok(array(ref("TeamProblem"))), **errors()}, tag=TAG)},
    "/api/v1/openapi.json": {"get": op("This OpenAPI document", "getOpenApi", {"200": ok({"type": "object"})},
                                       tag=TAG)},
}
