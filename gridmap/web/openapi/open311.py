"""OpenAPI section of blueprint "open311" (web/open311.py): GeoReport v2 under /open311/v2 (JSON only).

GeoReport errors are a list of `{code, description}`.
"""

from __future__ import annotations

from .common import (INT, NUM, STR, TIME, array, errors, json_body, nullable, obj, ok, op, path, query, ref)

TAG = "open311"

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
}


def _errors(*codes: int) -> dict:
    return errors(*codes, schema="GeoReportError")


_KEY = query("api_key", STR, "an API token: a trusted client (not rate-limited)")
_NEW = obj(["service_code"], service_code=STR, lat=NUM, long=NUM, description=STR, first_name=STR, last_name=STR,
           phone=STR, crs=STR, api_key=STR)

PATHS = {
    "/open311/v2/services.json": {"get": op("Service list (the incident categories)", "geoReportServices",
                                            {"200": ok(array(ref("Service"))), **_errors()}, tag=TAG)},
    "/open311/v2/services/{code}.json": {"get": op(
        "Service definition", "geoReportService",
        {"200": ok(obj(["service_code", "attributes"], service_code=STR, attributes=array({}))), **_errors(404)},
        params=[path("code")], tag=TAG)},
    "/open311/v2/requests.json": {
        "post": op("File a service request (anonymous ones are rate-limited)", "geoReportPost",
                   {"201": ok(array(obj(["service_request_id"], service_request_id=STR, service_notice=STR,
                                        account_id=nullable(STR), grid_code=nullable(STR), token=nullable(STR))),
                              description="filed"), **_errors(401, 413, 422, 429)},
                   body=json_body(_NEW, form=True), tag=TAG),
        "get": op("Service requests: by id, or by code, status and date range (default the last 90 days)",
                  "geoReportRequests", {"200": ok(array(ref("ServiceRequest"))), **_errors(401, 422)},
                  params=[query("service_request_id", STR, "comma-separated ids"), query("service_code"),
                          query("start_date", TIME), query("end_date", TIME),
                          query("status", {"type": "string", "enum": ["open", "closed"]}), _KEY], tag=TAG)},
    "/open311/v2/requests/{incident_id}.json": {"get": op(
        "One service request", "geoReportRequest", {"200": ok(array(ref("ServiceRequest"))), **_errors(401, 404, 422)},
        params=[path("incident_id"), _KEY], tag=TAG)},
}
