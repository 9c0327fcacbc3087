"""Open311 GeoReport v2 as real clients use it: XML (the spec's required format) and JSON, over real HTTP.

The `georeport` client in both output formats, plain `requests` for what it lacks (POST,
discovery, FixMyStreet's servicerequestupdates), on both store backends.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
import requests
import xmltodict
from georeport import GeoReport

from gridmap import create_app
from gridmap.incidents.actors import SYSTEM
from gridmap.incidents.model import Event
from gridmap.settings import Settings
from gridmap.web.auth import create_token, create_user

from .conftest import GRIDS
from .live_server import live_server

W3C_SECONDS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")  # no fraction of a second
FORM = {"service_code": "exposed_rubbish", "lat": "39.05", "long": "116.15", "description": "路口堆了垃圾"}


@pytest.fixture
def app(services):
    app = create_app(Settings(db=services.settings.db))
    yield app
    app.extensions["gridmap"].store.close()


def _xml(r: requests.Response) -> dict:
    assert r.headers["Content-Type"].startswith("text/xml"), r.headers["Content-Type"]
    assert r.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    return xmltodict.parse(r.content)


def _as_text(value) -> str | None:
    """A JSON value as XML carries it (xmltodict gives None for an empty element)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _xml_error(r: requests.Response, status: int, *words: str) -> str:
    assert r.status_code == status, (r.status_code, r.text[:300])
    err = _xml(r)["errors"]["error"]
    assert err["code"] == str(status)
    for word in words:
        assert word in err["description"], (word, err["description"])
    return err["description"]


def _json_error(r: requests.Response, status: int, *words: str) -> str:
    assert r.status_code == status, (r.status_code, r.text[:300])
    assert r.headers["Content-Type"].startswith("application/json")
    [err] = r.json()
    assert err["code"] == status
    for word in words:
        assert word in err["description"], (word, err["description"])
    return err["description"]


@pytest.mark.slow  # a live server
def test_georeport_client_reads_the_same_in_xml_and_json(app):
    with live_server(app) as base:
        root = base + "/open311/v2"
        js, xml = GeoReport(root), GeoReport(root, output_format="xml")

        services_json, services_xml = js.get_service_list(), xml.get_service_list()
        assert len(services_xml) == len(services_json) > 1
        for a, b in zip(services_json, services_xml):
            assert {k: _as_text(v) for k, v in a.items()} == b
        assert xml.get_service_definition("exposed_rubbish") == {"service_code": "exposed_rubbish", "attributes": None}
        with pytest.raises(requests.HTTPError) as err:
            xml.get_service_definition("no_such_service")
        _xml_error(err.value.response, 404, "no_such_service")

        # POST as XML: the spec's <service_requests><request> answer
        r = requests.post(root + "/requests.xml", data=FORM, timeout=10)
        assert r.status_code == 201, r.text
        posted = _xml(r)["service_requests"]["request"]
        rid = posted["service_request_id"]
        assert posted["grid_code"] == GRIDS[1] and posted["token"] and set(posted) >= {"service_notice", "account_id"}
        # the public sees the text once a dispatcher has filed the report (incidents/privacy.py)
        app.extensions["gridmap"].incidents.act(rid, "file", SYSTEM)

        one_json, one_xml = js.get_service_request(rid), xml.get_service_request(rid)
        assert {k: _as_text(v) for k, v in one_json.items()} == one_xml
        assert one_xml["service_code"] == "exposed_rubbish" and one_xml["description"] == "路口堆了垃圾"
        assert one_xml["status"] == "open" and one_xml["lat"] == "39.05" and one_xml["long"] == "116.15"
        for key in ("requested_datetime", "updated_datetime"):
            assert W3C_SECONDS.match(one_json[key]) and W3C_SECONDS.match(one_xml[key]), one_json[key]
        # one request in a list: xmltodict gives the element itself
        assert xml.get_service_requests(service_request_id=rid) == one_xml
        assert xml.get_service_requests(service_code="exposed_rubbish", status="open") == one_xml
        with pytest.raises(requests.HTTPError) as err:
            xml.get_service_request("999999")
        _xml_error(err.value.response, 404, "999999")


@pytest.mark.slow  # a live server
def test_discovery_in_both_formats(app):
    with live_server(app) as base:
        d_json = requests.get(base + "/open311/v2/discovery.json", timeout=10).json()
        d_xml = _xml(requests.get(base + "/open311/v2/discovery.xml", timeout=10))["discovery"]
        [endpoint] = d_json["endpoints"]
        assert endpoint["url"] == base + "/open311/v2" and endpoint["specification"].endswith("GeoReport_v2")
        assert endpoint["formats"] == ["text/xml", "application/json"]
        assert d_xml["endpoints"]["endpoint"]["url"] == endpoint["url"]
        assert d_xml["endpoints"]["endpoint"]["formats"]["format"] == endpoint["formats"]
        # the advertised endpoint works
        assert GeoReport(endpoint["url"], output_format="xml").get_service_list()


@pytest.mark.slow  # a live server
def test_comma_separated_status_and_service_code(app):
    svc = app.extensions["gridmap"].incidents
    a = svc.report({"category": "exposed_rubbish", "lon": 116.15, "lat": 39.05}).incident
    b = svc.report({"category": "garbage_overflow", "lon": 116.05, "lat": 39.05}).incident
    c = svc.report({"category": "exposed_rubbish", "lon": 116.25, "lat": 39.05}).incident
    for step in ("file", "dispatch", "start", "handle", "verify", "close"):
        svc.act(c.id, step, _dispatcher())
    with live_server(app) as base:
        geo = GeoReport(base + "/open311/v2")
        ids = lambda rows: sorted(str(x["service_request_id"]) for x in rows)
        assert ids(geo.get_service_requests(status="open,closed")) == sorted([a.id, b.id, c.id])
        assert ids(geo.get_service_requests(status="closed")) == [c.id]
        assert ids(geo.get_service_requests(service_code="exposed_rubbish,garbage_overflow")) == sorted([a.id, b.id, c.id])
        assert ids(geo.get_service_requests(service_code="garbage_overflow", status="open")) == [b.id]
        r = requests.get(base + "/open311/v2/requests.json", params={"service_code": "exposed_rubbish,nope"}, timeout=10)
        _json_error(r, 400, "service_code", "nope")
        r = requests.get(base + "/open311/v2/requests.xml", params={"status": "open,pending"}, timeout=10)
        _xml_error(r, 400, "status", "pending")


def _dispatcher():
    from gridmap.incidents.actors import Actor

    return Actor("disp", "dispatcher")


@pytest.mark.slow  # a live server
def test_post_keeps_the_open311_fields(app):
    svc = app.extensions["gridmap"].incidents
    with live_server(app) as base:
        root = base + "/open311/v2"
        form = {**FORM, "address_string": "东城区 建国门内大街 1 号", "address_id": "A-77",
                "media_url": "https://photos.example.cn/1.jpg", "email": "resident@example.cn", "device_id": "ios-42",
                "account_id": "acct-9", "attribute[WHERE]": "人行道", "attribute[SIZE][]": ["大", "很大"]}
        r = requests.post(root + "/requests.json", data=form, timeout=10)
        assert r.status_code == 201, r.text
        [posted] = r.json()
        assert posted["account_id"] == "acct-9"
        rid = str(posted["service_request_id"])
        for one in (GeoReport(root).get_service_request(rid), GeoReport(root, output_format="xml").get_service_request(rid)):
            assert one["address"] == "东城区 建国门内大街 1 号" and one["address_id"] == "A-77"
            assert one["media_url"] == "https://photos.example.cn/1.jpg"
            text = str(one)
            assert "resident@example.cn" not in text and "ios-42" not in text  # personal data stays private
        kept = svc.repo.get(rid).extra["open311"]  # stored, for staff (private view: `extra`)
        assert kept == {"address_string": "东城区 建国门内大街 1 号", "address_id": "A-77", "device_id": "ios-42",
                        "account_id": "acct-9", "media_url": "https://photos.example.cn/1.jpg",
                        "email": "resident@example.cn", "attributes": {"WHERE": "人行道", "SIZE": ["大", "很大"]}}

        # JSON bodies carry the same fields
        r = requests.post(root + "/requests.json", json={**FORM, "email": "a@b.cn", "attribute": {"WHERE": "路口"}},
                          timeout=10)
        assert r.status_code == 201
        assert svc.repo.get(r.json()[0]["service_request_id"]).extra["open311"] == {
            "email": "a@b.cn", "attributes": {"WHERE": "路口"}}

        n = svc.repo.count()
        # an address alone cannot be placed on a grid: we have no geocoder, and say so
        r = requests.post(root + "/requests.xml", data={"service_code": "exposed_rubbish",
                                                        "address_string": "建国门内大街 1 号"}, timeout=10)
        _xml_error(r, 400, "geocoder", "lat", "long", "address_string")
        # every bad field is named in one answer
        r = requests.post(root + "/requests.json", data={**FORM, "email": "not-an-email", "media_url": "ftp://x",
                                                         "service_code": "nope"}, timeout=10)
        detail = _json_error(r, 400, "email", "media_url", "service_code", "nope")
        assert "3 problem" in detail
        assert svc.repo.count() == n  # nothing stored by the refused posts


@pytest.mark.slow  # a live server
def test_errors_are_the_specs_codes_in_the_urls_format(app):
    with live_server(app) as base:
        root = base + "/open311/v2"
        # swapped: the message names Open311's own fields
        r = requests.post(root + "/requests.json", data={**FORM, "lat": "116.15", "long": "39.05"}, timeout=10)
        detail = _json_error(r, 400, "swapped", "lat", "long", "lat=39.05&long=116.15")
        assert "lon/lat" not in detail and "longitude first" not in detail
        _xml_error(requests.post(root + "/requests.xml", data={"service_code": "exposed_rubbish"}, timeout=10),
                   400, "lat", "long")
        _xml_error(requests.post(root + "/requests.xml", data={**FORM, "api_key": "wrong"}, timeout=10), 403, "api_key")
        _json_error(requests.post(root + "/requests.json", data={**FORM, "api_key": "wrong"}, timeout=10), 403)
        _xml_error(requests.get(root + "/requests/999999.xml", timeout=10), 404)
        _json_error(requests.get(root + "/requests/abc.json", timeout=10), 404)
        _xml_error(requests.get(root + "/requests.xml", params={"start_date": "yesterday"}, timeout=10), 400,
                   "start_date", "yesterday")
        _xml_error(requests.get(root + "/nothing-here.xml", timeout=10), 404)
        # the 90-day window of the spec is honoured, not silently cut
        _json_error(requests.get(root + "/requests.json", params={"start_date": "2026-01-01T00:00:00Z",
                                                                  "end_date": "2026-06-01T00:00:00Z"}, timeout=10),
                    400, "90 days")
        _xml_error(requests.get(root + "/requests.xml", params={"page_size": "1001"}, timeout=10), 400, "page_size")
        # a trusted client's key is good in both formats
        store = app.extensions["gridmap"].store
        create_user(store, "hotline", "secret-pass", "dispatcher")
        key = create_token(store, "hotline")
        r = requests.post(root + "/requests.xml", data={**FORM, "api_key": key}, timeout=10)
        assert r.status_code == 201 and _xml(r)["service_requests"]["request"]["grid_code"] == GRIDS[1]


def _bulk(svc, n: int, start: dt.datetime) -> list[str]:
    """n incidents reported a minute apart from `start`, stored in one go."""
    from gridmap.incidents.service import import_rows

    rows = [{"category": "exposed_rubbish", "lon": "116.15", "lat": "39.05",
             "reported_at": (start + dt.timedelta(minutes=i)).isoformat()} for i in range(n)]
    good, problems = import_rows(svc, rows)
    assert problems == []
    items = [(inc, Event("", inc.reported_at, "test", "report", None, "reported"), None) for inc in good]
    return [i.id for i in svc.repo.add_many(items)]


@pytest.mark.slow  # a live server
def test_more_than_1000_are_paged_not_truncated(app):
    svc = app.extensions["gridmap"].incidents
    start = svc.clock() - dt.timedelta(days=2)
    made = _bulk(svc, 1003, start)
    with live_server(app) as base:
        r = requests.get(base + "/open311/v2/requests.json", timeout=30)
        assert r.status_code == 200 and len(r.json()) == 1000
        assert r.links["next"]["url"]  # says that more exist
        r2 = requests.get(r.links["next"]["url"], timeout=30)
        assert r2.status_code == 200 and "next" not in r2.links
        got = [str(x["service_request_id"]) for x in r.json() + r2.json()]
        assert sorted(got) == sorted(made) and len(set(got)) == 1003
        # XML pages the same way; page_size asks for smaller pages
        url, pages = base + "/open311/v2/requests.xml?page_size=400", []
        while url:
            r = requests.get(url, timeout=30)
            pages.append(_xml(r)["service_requests"]["request"])
            url = r.links.get("next", {}).get("url")
        assert [len(p) for p in pages] == [400, 400, 203]
        # an explicit window holds only what was reported in it
        r = requests.get(base + "/open311/v2/requests.json", timeout=30, params={
            "start_date": start.isoformat(), "end_date": (start + dt.timedelta(minutes=10)).isoformat()})
        assert len(r.json()) == 10 and "next" not in r.links


@pytest.mark.slow  # a live server
def test_servicerequestupdates_as_fixmystreet_polls_them(app):
    svc = app.extensions["gridmap"].incidents
    inc = svc.report({"category": "exposed_rubbish", "lon": 116.15, "lat": 39.05}).incident
    other = svc.report({"category": "exposed_rubbish", "lon": 116.05, "lat": 39.05}).incident
    t0 = svc.clock()
    for step in ("file", "dispatch"):
        svc.act(inc.id, step, _dispatcher(), note="内部备注 13900000001")
    svc.act(other.id, "reject", _dispatcher(), note="不属实")
    with live_server(app) as base:
        url = base + "/open311/v2/servicerequestupdates"
        since = (t0 - dt.timedelta(seconds=1)).isoformat()
        js = requests.get(url + ".json", params={"start_date": since}, timeout=10)
        assert js.status_code == 200, js.text
        rows = js.json()
        assert [(u["service_request_id"], u["status"], u["external_status_code"]) for u in rows] == [
            (inc.id, "open", "filed"), (inc.id, "action_scheduled", "dispatched"),
            (other.id, "no_further_action", "rejected")]
        for u in rows:
            assert set(u) == {"update_id", "service_request_id", "status", "updated_datetime", "description",
                              "media_url", "external_status_code"}
            assert W3C_SECONDS.match(u["updated_datetime"])
        assert "已派遣" in rows[1]["description"] and "13900000001" not in js.text  # staff notes stay internal
        assert len({u["update_id"] for u in rows}) == 3
        xml = _xml(requests.get(url + ".xml", params={"start_date": since}, timeout=10))
        assert [{k: v or "" for k, v in u.items()} for u in xml["service_request_updates"]["request_update"]] == rows
        # a window before the changes holds none of them; a reversed window is refused
        r = requests.get(url + ".json", timeout=10, params={"start_date": (t0 - dt.timedelta(days=1)).isoformat(),
                                                            "end_date": (t0 - dt.timedelta(hours=1)).isoformat()})
        assert r.status_code == 200 and r.json() == []
        _json_error(requests.get(url + ".json", timeout=10, params={"start_date": t0.isoformat(),
                                                                    "end_date": "2020-01-01T00:00:00Z"}),
                    400, "start_date")


def test_openapi_lists_every_open311_post_field(app):
    doc = app.test_client().get("/api/v1/openapi.json").json
    request_body = doc["paths"]["/open311/v2/requests.{fmt}"]["post"]["requestBody"]
    # form-encoded (the GeoReport standard's) is the body; JSON is listed as the alternative (one media type
    # per body, so that generated clients work: tests/test_openapi_clients.py)
    body = {**request_body["content"], **request_body["x-alternative-content"]}
    for media in ("application/x-www-form-urlencoded", "application/json"):
        props = body[media]["schema"]["properties"]
        for name in ("service_code", "lat", "long", "address_string", "address_id", "email", "device_id",
                     "account_id", "first_name", "last_name", "phone", "description", "media_url", "api_key"):
            assert name in props, (media, name)
        assert "attribute[" in body[media]["schema"]["description"]
    fmt = doc["paths"]["/open311/v2/requests.{fmt}"]["get"]["parameters"][0]
    assert fmt["name"] == "fmt" and fmt["schema"]["enum"] == ["json", "xml"]
    assert {"/open311/v2/discovery.{fmt}", "/open311/v2/servicerequestupdates.{fmt}"} <= set(doc["paths"])
