"""OpenAPI section of blueprint "open311" (web/open311.py): GeoReport v2 under /open311/v2.

Every path ends in `.{fmt}`: `xml` (the spec's required format, text/xml) or `json`. GeoReport
errors are a list of `{code, description}` (in XML `<errors><error>`): 400 bad input, 403 a bad
api_key, 404 an unknown id.
"""

from __future__ import annotations

from .common import ERROR_TEXT, INT, JSON, NUM, STR, TIME, array, nullable, obj, op, path, query, ref

TAG = "open311"
XML = "text/xml"

SCHEMAS = {
    "GeoReportError": array(obj(["code", "description"], code=INT, description=STR)),
    "Service": obj(["service_code", "service_name", "metadata", "type"], service_code=STR, service_name=STR,
                   description=STR, metadata={"type": "boolean"}, type=STR, keywords=STR, group=STR),
    "ServiceRequest": obj(["service_request_id", "status", "service_code", "requested_datetime", "lat", "long"],
                          service_request_id=STR, status={"type": "string", "enum": ["open", "closed"]},
                          status_notes=STR, service_name=STR, service_code=STR, description=STR,
                          agency_responsible=STR, service_notice=STR, address=STR, address_id=STR, zipcode=STR,
                          requested_datetime=TIME, updated_datetime=TIME, expected_datetime=nullable(TIME), lat=NUM,
                          long=NUM, media_url=STR, grid_code=nullable(STR), zone_code=nullable(STR),
                          detailed_status=STR),
    "ServiceRequestUpdate": obj(["update_id", "service_request_id", "status", "updated_datetime", "description"],
                                update_id=STR, service_request_id=STR, status=STR, updated_datetime=TIME,
                                description=STR, media_url=STR, external_status_code=nullable(STR)),
}
_FMT = path("fmt", {"type": "string", "enum": ["json", "xml"]})
_LINK = {"Link": {"description": 'when the window holds more than this page: `<next page URL>; rel="next"`',
                  "schema": STR}}


def _ok(schema: dict, description: str = "OK", headers: dict | None = None) -> dict:
    out = {"description": description, "content": {JSON: {"schema": schema}, XML: {"schema": {"type": "string"}}}}
    if headers:
        out["headers"] = headers
    return out


def _errors(*codes: int) -> dict:
    return {str(c): {"description": ERROR_TEXT[c], "content": {JSON: {"schema": ref("GeoReportError")},
                                                                XML: {"schema": {"type": "string"}}}}
            for c in sorted({*codes, 400, 404, 503})}  # 404 also for a format other than xml or json


_KEY = query("api_key", STR, "an API token: a trusted client (not rate-limited)")
_WINDOW = [query("start_date", TIME, "default end_date minus 90 days"), query("end_date", TIME, "default now"),
           query("page", {"type": "integer", "minimum": 1}, "1 (default), 2, ... when the window holds more"),
           query("page_size", {"type": "integer", "minimum": 1, "maximum": 1000}, "default and at most 1,000")]
# Every field of a GeoReport v2 POST (the spec's list) plus ours (crs); attribute[code] as a pattern.
_NEW = {**obj(["service_code"], service_code=STR, lat=NUM, long=NUM, address_string=STR, address_id=STR,
              email={"type": "string", "format": "email"}, device_id=STR, account_id=STR, first_name=STR,
              last_name=STR, phone=STR, description=STR, media_url={"type": "string", "format": "uri"},
              jurisdiction_id=STR, crs=STR, api_key=STR),
        "additionalProperties": True,
        "description": "`attribute[CODE]` (and `attribute[CODE][]` for several values) carry a service's attributes; "
                       "an address without lat/long is refused (no geocoder)."}

# FixMyStreet's multipart POST: the same fields and the photo as the file `media` (`media_url` stays a link).
_NEW_MEDIA = {**_NEW, "properties": {**_NEW["properties"], "media": {
    "type": "string", "format": "binary",
    "description": "a JPEG, PNG or HEIC photo (at most photo_max_bytes); media_url of GET requests then points to it"}}}

PATHS = {
    "/open311/v2/discovery.{fmt}": {"get": op(
        "Discovery: the specification, endpoint URL and formats", "geoReportDiscovery",
        {"200": _ok(obj(["changeset", "endpoints"], changeset=STR, contact=STR, key_service=STR, endpoints=array(obj(
            ["specification", "url", "formats"], specification=STR, url=STR, changeset=STR, type=STR,
            formats=array(STR))))), **_errors()}, params=[_FMT], tag=TAG)},
    "/open311/v2/services.{fmt}": {"get": op("Service list (the incident categories)", "geoReportServices",
                                             {"200": _ok(array(ref("Service"))), **_errors()}, params=[_FMT], tag=TAG)},
    "/open311/v2/services/{code}.{fmt}": {"get": op(
        "Service definition", "geoReportService",
        {"200": _ok(obj(["service_code", "attributes"], service_code=STR, attributes=array({}))), **_errors(404)},
        params=[path("code"), _FMT], tag=TAG)},
    "/open311/v2/requests.{fmt}": {
        "post": op("File a service request (anonymous ones are rate-limited)", "geoReportPost",
                   {"201": _ok(array(obj(["service_request_id"], service_request_id=STR, service_notice=STR,
                                         account_id=nullable(STR), grid_code=nullable(STR), token=nullable(STR))),
                               description="filed"), **_errors(403, 413, 429)},
                   params=[_FMT], body={"required": True, "content": {"application/x-www-form-urlencoded": {"schema": _NEW},
                                                                      JSON: {"schema": _NEW},
                                                                      "multipart/form-data": {"schema": _NEW_MEDIA}}},
        tag=TAG),
        "get": op("Service requests: by id, or by code, status and date range (default the last 90 days, at most 90)",
                  "geoReportRequests", {"200": _ok(array(ref("ServiceRequest")), headers=_LINK), **_errors(403)},
                  params=[_FMT, query("service_request_id", STR, "comma-separated ids (overrides the rest)"),
                          query("service_code", STR, "comma-separated service codes"),
                          query("status", STR, "open, closed or open,closed"), *_WINDOW, _KEY], tag=TAG)},
    "/open311/v2/requests/{incident_id}.{fmt}": {"get": op(
        "One service request", "geoReportRequest", {"200": _ok(array(ref("ServiceRequest"))), **_errors(403, 404)},
        params=[path("incident_id"), _FMT, _KEY], tag=TAG)},
    "/open311/v2/servicerequestupdates.{fmt}": {"get": op(
        "Status changes (FixMyStreet's extension): updates in [start_date, end_date), oldest first",
        "geoReportUpdates", {"200": _ok(array(ref("ServiceRequestUpdate")), headers=_LINK), **_errors(403)},
        params=[_FMT, *_WINDOW, _KEY], tag=TAG)},
}
