"""The REST API's OpenAPI document (/api/v1/openapi.json) is valid, complete and true.

Complete: every /api/v1 and /open311/v2 rule the app serves is documented, and nothing else.
True: real responses (status, media type, body) match what the document declares.
"""

from __future__ import annotations

import re

import pytest
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from openapi_spec_validator import validate as validate_openapi

from gridmap.web.auth import create_token, create_user

from .conftest import GRIDS

DOCUMENTED_PREFIXES = ("/api/v1/", "/open311/v2/")
BIG = "479306722524150318868736245760"


@pytest.fixture
def app(services_app):
    return services_app


@pytest.fixture
def client(app):
    return app.test_client()


def _openapi_path(rule: str) -> str:
    """Flask `/incidents/<incident_id>` and `/roster/<int:shift_id>` -> OpenAPI `{incident_id}`."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def _served(app) -> set[tuple[str, str]]:
    out = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(DOCUMENTED_PREFIXES):
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                out.add((method.lower(), _openapi_path(rule.rule)))
    return out


def _documented(doc) -> set[tuple[str, str]]:
    return {(m, p) for p, item in doc["paths"].items() for m in item if m in ("get", "post", "put", "patch", "delete")}


def test_document_is_valid_openapi_3(client):
    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200 and r.mimetype == "application/json"
    validate_openapi(r.json)
    assert r.json["openapi"].startswith("3.")


def test_every_served_rule_is_documented_and_nothing_else(app, client):
    doc = client.get("/api/v1/openapi.json").json
    served, documented = _served(app), _documented(doc)
    assert served - documented == set(), "served but not in the OpenAPI document (add a section in gridmap/web/openapi/)"
    assert documented - served == set(), "documented but not served"
    assert len(served) >= 20


def _validate(doc, method: str, template: str, response) -> None:
    """The response's status, media type and body are what the document declares for this operation."""
    responses = doc["paths"][template][method]["responses"]
    status = str(response.status_code)
    assert status in responses, f"{method.upper()} {template} answered {status}, not declared: {response.get_data(as_text=True)[:300]}"
    declared = responses[status].get("content")
    if not declared:
        assert not response.get_data(), f"{method.upper()} {template} {status} should have no body"
        return
    assert response.mimetype in declared, f"{method.upper()} {template}: {response.mimetype} not in {list(declared)}"
    schema = declared[response.mimetype]["schema"]
    OAS30Validator({"allOf": [schema], "components": doc["components"]},
                   format_checker=oas30_format_checker).validate(response.get_json(force=True))


def test_real_responses_match_the_declared_schemas(app, client):
    doc = client.get("/api/v1/openapi.json").json
    store = app.extensions["gridmap"].store
    create_user(store, "disp", "secret-pass", "dispatcher")
    auth = {"Authorization": f"Bearer {create_token(store, 'disp')}"}
    cat = next(iter(app.extensions["gridmap"].incidents.taxonomy)).code
    seen: set[tuple[str, str]] = set()

    def call(method: str, template: str, url: str, **kw):
        r = client.open(url, method=method.upper(), **kw)
        _validate(doc, method, template, r)
        seen.add((method, template))
        return r

    call("get", "/api/v1/info", "/api/v1/info")
    call("get", "/api/v1/units", "/api/v1/units?level=grid")
    call("get", "/api/v1/units", "/api/v1/units?level=nonsense")
    call("get", "/api/v1/units/{code}", f"/api/v1/units/{GRIDS[0]}")
    call("get", "/api/v1/units/{code}", "/api/v1/units/nope")
    call("get", "/api/v1/locate", "/api/v1/locate?lon=116.15&lat=39.05")
    call("get", "/api/v1/locate", "/api/v1/locate?lon=200&lat=39.05")
    call("get", "/api/v1/check", "/api/v1/check")
    call("get", "/api/v1/places", "/api/v1/places?q=网格&limit=2")
    call("get", "/api/v1/places", "/api/v1/places?q=")
    call("get", "/api/v1/locate", "/api/v1/locate?lon=120&lat=30")  # outside the jurisdiction: in_jurisdiction false
    call("get", "/api/v1/openapi.json", "/api/v1/openapi.json")
    call("get", "/api/v1/categories", "/api/v1/categories")
    filed = call("post", "/api/v1/incidents", "/api/v1/incidents", headers=auth, json={
        "category": cat, "lon": 116.05, "lat": 39.05, "description": "路灯不亮", "reporter_name": "张三",
        "reporter_phone": "13800000000"}).json
    call("post", "/api/v1/incidents", "/api/v1/incidents", json={"category": "nope", "lon": 1})
    call("post", "/api/v1/incidents", "/api/v1/incidents", json={"category": cat, "lon": 120, "lat": 30})  # 422
    iid = filed["id"]
    call("get", "/api/v1/incidents", "/api/v1/incidents?status=open", headers=auth)
    call("get", "/api/v1/incidents", "/api/v1/incidents")  # 401
    call("get", "/api/v1/incidents/{incident_id}", f"/api/v1/incidents/{iid}")  # public view
    call("get", "/api/v1/incidents/{incident_id}", f"/api/v1/incidents/{iid}", headers=auth)
    call("get", "/api/v1/incidents/{incident_id}", "/api/v1/incidents/999999")
    call("post", "/api/v1/incidents/{incident_id}/actions", f"/api/v1/incidents/{iid}/actions", headers=auth,
         json={"action": "file", "version": filed["version"]})
    call("post", "/api/v1/incidents/{incident_id}/actions", f"/api/v1/incidents/{iid}/actions", headers=auth,
         json={"action": "file", "version": filed["version"]})  # stale: 409
    call("get", "/api/v1/incidents/{incident_id}/events", f"/api/v1/incidents/{iid}/events", headers=auth)
    call("get", "/api/v1/supervision", "/api/v1/supervision", headers=auth)
    call("post", "/api/v1/supervision/run", "/api/v1/supervision/run", headers=auth)
    call("get", "/api/v1/metrics", "/api/v1/metrics?by=zone&from=2020-01-01&to=2030-01-01", headers=auth)
    call("get", "/api/v1/metrics", "/api/v1/metrics?by=zone", headers=auth)
    shift = call("post", "/api/v1/roster", "/api/v1/roster", headers=auth, json={
        "unit_code": GRIDS[0], "person_id": "P3", "starts_at": "2026-01-01T08:00:00+08:00",
        "ends_at": "2026-01-01T18:00:00+08:00"}).json
    call("get", "/api/v1/roster", f"/api/v1/roster?unit={GRIDS[0]}", headers=auth)
    call("delete", "/api/v1/roster/{shift_id}", f"/api/v1/roster/{shift['id']}", headers=auth)
    call("get", "/open311/v2/services.{fmt}", "/open311/v2/services.json")
    call("get", "/open311/v2/services/{code}.{fmt}", f"/open311/v2/services/{cat}.json")
    call("get", "/open311/v2/services/{code}.{fmt}", "/open311/v2/services/nope.json")
    call("post", "/open311/v2/requests.{fmt}", "/open311/v2/requests.json",
         data={"service_code": cat, "lat": "39.05", "long": "116.15", "description": "井盖缺失"})
    call("post", "/open311/v2/requests.{fmt}", "/open311/v2/requests.json",
         data={"service_code": cat, "lat": "30", "long": "120"})  # outside the jurisdiction: refused
    call("get", "/open311/v2/requests.{fmt}", f"/open311/v2/requests.json?service_request_id={iid}")
    call("get", "/open311/v2/requests.{fmt}", "/open311/v2/requests.json?status=pending")
    call("get", "/open311/v2/requests/{incident_id}.{fmt}", f"/open311/v2/requests/{iid}.json")
    call("get", "/open311/v2/requests/{incident_id}.{fmt}", "/open311/v2/requests/0.json")
    call("get", "/open311/v2/requests.{fmt}", "/open311/v2/requests.json?start_date=2020-01-01T00:00:00Z&end_date=2021-01-01T00:00:00Z")  # > 90 days: 400
    call("get", "/open311/v2/discovery.{fmt}", "/open311/v2/discovery.json")
    call("get", "/open311/v2/servicerequestupdates.{fmt}", "/open311/v2/servicerequestupdates.json")
    # Every operation of the sections written with this test has a sampled call; later sections
    # are checked by the fuzz test (tests/test_fuzz.py) and may add samples here.
    from gridmap.web.openapi import incidents, open311, registry
    mine = {(m, p) for s in (registry, incidents, open311) for p, item in s.PATHS.items() for m in item}
    assert mine - seen == set()


def test_an_ancient_report_time_is_refused_or_shown_as_rfc3339(client):
    # found by schemathesis: a time before 1901 came back in local mean time (+08:05:43)
    doc = client.get("/api/v1/openapi.json").json
    cat = next(iter(client.application.extensions["gridmap"].incidents.taxonomy)).code
    r = client.post("/api/v1/incidents", json={"category": cat, "lon": 116.05, "lat": 39.05,
                                               "reported_at": "0675-06-20T10:20:07Z"})
    _validate(doc, "post", "/api/v1/incidents", r)  # checks formats: "+08:05:43" is not a date-time
    assert r.status_code == 422 and "before 1970-01-01" in r.json["detail"]


def test_inputs_the_fuzzer_found_crashing_are_answered(app, client):
    """Each of these was a 500 before schemathesis found it."""
    store = app.extensions["gridmap"].store
    create_user(store, "admin", "secret-pass", "admin")
    auth = {"Authorization": f"Bearer {create_token(store, 'admin')}"}
    cat = next(iter(app.extensions["gridmap"].incidents.taxonomy)).code
    filed = client.post("/api/v1/incidents", json={"category": cat, "lon": 116.05, "lat": 39.05}).json
    for method, url, kw, status in [
        ("POST", "/api/v1/roster", {"json": [None, None], "headers": auth}, 422),
        ("POST", "/open311/v2/requests.json", {"json": "AAA"}, 400),  # GeoReport v2: 400
        # a name that is not text is taken as its text form
        ("POST", "/open311/v2/requests.json", {"json": {"service_code": cat, "lat": 39.05, "long": 116.05,
                                                        "first_name": "", "last_name": [None, None]}}, 201),
        ("POST", f"/api/v1/incidents/{filed['id']}/actions", {"json": {"action": "rate", "reporter_token": "令牌"}}, 422),
        ("GET", "/api/v1/coverage?plan=479306722524150318868736245760", {}, 422),
        # numbers past SQLite's 64-bit INTEGER, in any id or offset (store/sql.py turns the overflow into a 422)
        *[(m, u, {"headers": auth}, 422) for m, u in [
            ("GET", f"/api/v1/incidents/{BIG}"), ("GET", f"/api/v1/incidents/{BIG}/events"),
            ("DELETE", f"/api/v1/roster/{BIG}"),
            ("GET", f"/api/v1/incidents?offset={BIG}"), ("GET", f"/api/v1/plans/{BIG}")]],
        ("GET", f"/open311/v2/requests/{BIG}.json", {}, 404),  # not an id we could have given
    ]:
        r = client.open(url, method=method, **kw)
        assert r.status_code == status, (url, r.status_code, r.get_data(as_text=True)[:300])


def test_ranges_before_1970_are_refused_not_echoed(app, client):
    from gridmap.web.auth import create_token, create_user

    store = app.extensions["gridmap"].store
    create_user(store, "boss", "secret-pass", "admin")
    headers = {"Authorization": f"Bearer {create_token(store, 'boss')}"}
    for url in ("/api/v1/metrics?by=zone&from=0675-06-20&to=2026-01-01", "/api/v1/roster?from=1899-12-31"):
        r = client.get(url, headers=headers)
        assert r.status_code == 422 and "before 1970-01-01" in r.json["detail"], (url, r.status_code)
    assert client.get("/api/v1/metrics?by=zone&from=2026-01-01&to=2026-02-01", headers=headers).status_code == 200
