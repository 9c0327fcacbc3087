"""The OpenAPI 3.0 document of the OGC API – Features endpoints under /ogcapi (served at /ogcapi/api)."""

from __future__ import annotations

from typing import Any

from .collections import INCIDENT_QUERYABLES, UNIT_QUERYABLES, all_ids
from .crs_param import CONFORMANCE as CRS_CONFORMANCE
from .crs_param import SUPPORTED as CRS_SUPPORTED
from .params import DEFAULT_LIMIT, MAX_LIMIT

OPENAPI_JSON = "application/vnd.oai.openapi+json;version=3.0"
GEOJSON = "application/geo+json"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    CRS_CONFORMANCE,
]

_LINK = {"type": "object", "required": ["href", "rel"],
         "properties": {"href": {"type": "string"}, "rel": {"type": "string"}, "type": {"type": "string"},
                        "title": {"type": "string"}}}
_LINKS = {"type": "array", "items": {"$ref": "#/components/schemas/link"}}
_GEOMETRY = {"type": "object", "nullable": True, "required": ["type"],
             "properties": {"type": {"type": "string", "enum": [
                 "Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon",
                 "GeometryCollection"]}, "coordinates": {"type": "array"}}}
_FEATURE = {"type": "object", "required": ["type", "geometry", "properties"],
            "properties": {"type": {"type": "string", "enum": ["Feature"]},
                           "id": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
                           "geometry": {"$ref": "#/components/schemas/geometry"},
                           "properties": {"type": "object", "nullable": True}, "links": _LINKS}}
_FEATURES = {"type": "object", "required": ["type", "features"],
             "properties": {"type": {"type": "string", "enum": ["FeatureCollection"]},
                            "features": {"type": "array", "items": {"$ref": "#/components/schemas/feature"}},
                            "links": _LINKS, "timeStamp": {"type": "string", "format": "date-time"},
                            "numberMatched": {"type": "integer", "minimum": 0},
                            "numberReturned": {"type": "integer", "minimum": 0}}}
_EXTENT = {"type": "object", "properties": {
    "spatial": {"type": "object", "properties": {
        "bbox": {"type": "array", "minItems": 1, "items": {"type": "array", "minItems": 4, "maxItems": 6,
                                                           "items": {"type": "number"}}},
        "crs": {"type": "string"}}},
    "temporal": {"type": "object", "properties": {
        "interval": {"type": "array", "minItems": 1, "items": {
            "type": "array", "minItems": 2, "maxItems": 2,
            "items": {"type": "string", "format": "date-time", "nullable": True}}},
        "trs": {"type": "string"}}}}}
_COLLECTION = {"type": "object", "required": ["id", "links"],
               "properties": {"id": {"type": "string"}, "title": {"type": "string"},
                              "description": {"type": "string"}, "links": _LINKS,
                              "extent": {"$ref": "#/components/schemas/extent"},
                              "itemType": {"type": "string"},
                              "crs": {"type": "array", "items": {"type": "string"}}}}
SCHEMAS: dict[str, Any] = {
    "link": _LINK, "geometry": _GEOMETRY, "feature": _FEATURE, "featureCollection": _FEATURES, "extent": _EXTENT,
    "collection": _COLLECTION,
    "collections": {"type": "object", "required": ["links", "collections"],
                    "properties": {"links": _LINKS, "collections": {
                        "type": "array", "items": {"$ref": "#/components/schemas/collection"}}}},
    "landingPage": {"type": "object", "required": ["links"],
                    "properties": {"title": {"type": "string"}, "description": {"type": "string"}, "links": _LINKS}},
    "confClasses": {"type": "object", "required": ["conformsTo"],
                    "properties": {"conformsTo": {"type": "array", "items": {"type": "string"}}}},
    "exception": {"type": "object", "required": ["code"],
                  "properties": {"code": {"type": "string"}, "description": {"type": "string"}}},
    "queryables": {"type": "object", "required": ["properties"],
                   "properties": {"type": {"type": "string"}, "properties": {"type": "object"}}},
}


def _ref(name: str, media: str = "application/json") -> dict:
    return {"content": {media: {"schema": {"$ref": f"#/components/schemas/{name}"}}}}


def _ok(name: str, media: str = "application/json", html: bool = True) -> dict:
    content = _ref(name, media)["content"]
    if html:
        content["text/html"] = {"schema": {"type": "string"}}
    return {"description": "OK", "content": content}


# An exception document; a page when the request asked for HTML (f=html).
_ERR = {"description": "error", "content": {**_ref("exception")["content"], "text/html": {"schema": {"type": "string"}}}}
_F = {"name": "f", "in": "query", "required": False, "description": "output format (default json)",
      "schema": {"type": "string", "enum": ["json", "html"]}}
_CRS = {"name": "crs", "in": "query", "required": False, "schema": {"type": "string", "enum": CRS_SUPPORTED},
        "description": "the CRS of the answer's coordinates (Part 2; default CRS84 lon/lat, EPSG:4326 and "
                       "EPSG:4490 latitude first); the answer's Content-Crs header names it"}
_CID = {"name": "collectionId", "in": "path", "required": True, "schema": {"type": "string", "enum": all_ids()}}


def _get(summary: str, op_id: str, ok: dict, params: list | None = None, not_found: bool = False) -> dict:
    responses = {"200": ok, "400": _ERR}
    if not_found:
        responses["404"] = _ERR
    return {"get": {"summary": summary, "operationId": op_id, "parameters": [_F, *(params or [])],
                    "responses": responses}}


def _items_params() -> list[dict]:
    params = [
        {"name": "bbox", "in": "query", "required": False, "style": "form", "explode": False,
         "description": "minx,miny,maxx,maxy (or 6 numbers with heights), CRS84 lon/lat",
         "schema": {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}}},
        {"name": "bbox-crs", "in": "query", "required": False, "description": "the CRS of bbox (default CRS84; "
         "EPSG:4326 and EPSG:4490 give latitude first)", "schema": {"type": "string", "enum": CRS_SUPPORTED}},
        _CRS,
        {"name": "limit", "in": "query", "required": False, "style": "form", "explode": False,
         "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}},
        {"name": "offset", "in": "query", "required": False,
         "schema": {"type": "integer", "minimum": 0, "default": 0}},
        {"name": "datetime", "in": "query", "required": False, "style": "form", "explode": False,
         "description": "an RFC 3339 instant or interval (`a/b`, `../b`, `a/..`). Unit collections: the grid "
                        "plan in force on that date (an interval: on its last day); incidents: the report time",
         "schema": {"type": "string"}},
    ]
    for name in sorted(set(UNIT_QUERYABLES) | set(INCIDENT_QUERYABLES)):
        params.append({"name": name, "in": "query", "required": False,
                       "description": "property filter (exact match) on collections that have this queryable",
                       "schema": {"type": "string"}})
    return params


def document(server_url: str) -> dict[str, Any]:
    """The OpenAPI 3.0 document, with the server at `server_url`: the API root (…/ogcapi).

    The paths are the standard's templates relative to that root (`/collections/{collectionId}/items`),
    which is how clients such as GDAL's OAPIF driver find the operations and their parameters.
    """
    p = ""
    paths = {
        f"{p}/": _get("Landing page", "getLandingPage", _ok("landingPage")),
        f"{p}/conformance": _get("Conformance classes", "getConformance", _ok("confClasses")),
        f"{p}/api": _get("This OpenAPI document", "getApi", {
            "description": "OK", "content": {OPENAPI_JSON: {"schema": {"type": "object"}},
                                             "text/html": {"schema": {"type": "string"}}}}),
        f"{p}/collections": _get("The collections", "getCollections", _ok("collections")),
        f"{p}/collections/{{collectionId}}": _get("One collection", "describeCollection", _ok("collection"),
                                                   [_CID], not_found=True),
        f"{p}/collections/{{collectionId}}/queryables": _get(
            "The properties a filter may name", "getQueryables", _ok("queryables", "application/schema+json"),
            [_CID], not_found=True),
        f"{p}/collections/{{collectionId}}/items": _get(
            "Features of a collection, paged", "getFeatures", _ok("featureCollection", GEOJSON),
            [_CID, *_items_params()], not_found=True),
        f"{p}/collections/{{collectionId}}/items/{{featureId}}": _get(
            "One feature", "getFeature", _ok("feature", GEOJSON),
            [_CID, {"name": "featureId", "in": "path", "required": True, "schema": {"type": "string"}}, _CRS,
             {"name": "datetime", "in": "query", "required": False, "schema": {"type": "string"},
              "description": "unit collections: look the feature up in the plan in force on that date"}],
            not_found=True),
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "gridmap OGC API – Features", "version": "1.0.0",
                 "description": "The grid hierarchy and public incidents as OGC API – Features (Part 1, Core, GeoJSON)."},
        "servers": [{"url": server_url.rstrip("/") or "/"}],
        "paths": paths,
        "components": {"schemas": SCHEMAS},
    }
