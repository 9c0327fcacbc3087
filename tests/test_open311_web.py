"""Open311 GeoReport v2 over real HTTP (the `georeport` client) and the incident JSON API end to end.

Both store backends (SQLite and PostGIS) through the `services` fixture.
"""

from __future__ import annotations

import datetime as dt

import pytest
import requests
from georeport import GeoReport

from gridmap import create_app
from gridmap.incidents.actors import SYSTEM
from gridmap.settings import Settings
from gridmap.web.auth import create_token, create_user

from .conftest import GRIDS, ZONE
from .live_server import live_server
from .pages import csrf

IN_G1 = (116.05, 39.05)  # inside GRIDS[0]
IN_G2 = (116.15, 39.05)  # inside GRIDS[1]
LOOP = [("file", "filed"), ("dispatch", "dispatched"), ("start", "in_progress"), ("handle", "handled"),
        ("verify", "verified"), ("close", "closed")]
PRIVATE_KEYS = ("reporter_name", "reporter_phone", "assignee")


# -- fixtures and helpers ------------------------------------------------------------------------
def _make_app(services, **settings):
    return create_app(Settings(db=services.settings.db, **settings))


@pytest.fixture
def app(services):
    app = _make_app(services)
    yield app
    app.extensions["gridmap"].store.close()


@pytest.fixture
def client(app):
    return app.test_client()


def _token_for(app, username: str, role: str, person_id: str | None = None) -> str:
    store = app.extensions["gridmap"].store
    create_user(store, username, "secret-pass", role, person_id)
    return create_token(store, username)


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def disp(app) -> dict:
    """Headers of a dispatcher calling with an API token."""
    return bearer(_token_for(app, "disp", "dispatcher"))


def report(client, at=IN_G2, headers=None, **fields):
    body = {"category": "exposed_rubbish", "lon": at[0], "lat": at[1], "description": "垃圾堆在路边",
            "reporter_name": "王五", "reporter_phone": "13900000009"} | fields
    return client.post("/api/v1/incidents", json=body, headers=headers or {})


def act(client, incident_id, action, headers=None, **body):
    return client.post(f"/api/v1/incidents/{incident_id}/actions", json={"action": action, **body},
                       headers=headers or {})


def get_private(client, incident_id, headers) -> dict:
    r = client.get(f"/api/v1/incidents/{incident_id}", headers=headers)
    assert r.status_code == 200
    return r.json


def events(client, incident_id, headers) -> list[dict]:
    r = client.get(f"/api/v1/incidents/{incident_id}/events", headers=headers)
    assert r.status_code == 200, r.json
    return r.json


def assert_error(r, status: int, *words: str) -> None:
    """A JSON error with this status whose detail mentions every word (e.g. the field name)."""
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True))
    assert r.is_json and r.json["status"] == status
    for word in words:
        assert word in r.json["detail"], (word, r.json["detail"])


def walk_to(client, incident_id, headers, last: str) -> dict:
    """Take the loop's steps up to and including `last`; return the final private view."""
    out = None
    for action, _ in LOOP:
        r = act(client, incident_id, action, headers)
        assert r.status_code == 200, r.json
        out = r.json
        if action == last:
            break
    return out


@pytest.mark.slow
# -- Open311 GeoReport v2 over real HTTP -----------------------------------------------------------
def test_open311_services_post_get_with_georeport_client(app):
    with live_server(app) as base:
        root = base + "/open311/v2/"
        geo = GeoReport(root)

        services = geo.get_service_list()
        codes = {s["service_code"]: s for s in services}
        assert "exposed_rubbish" in codes
        svc = codes["exposed_rubbish"]
        assert svc["service_name"] == "暴露垃圾" and svc["metadata"] is False and svc["type"] == "realtime"
        assert geo.get_service_definition("exposed_rubbish") == {"service_code": "exposed_rubbish", "attributes": []}
        with pytest.raises(requests.HTTPError) as err:
            geo.get_service_definition("no_such_service")
        assert err.value.response.status_code == 404

        # georeport 0.3.1 has no POST: file the request with `requests`, form-encoded as GeoReport v2 says.
        r = requests.post(root + "requests.json", timeout=10, data={
            "service_code": "exposed_rubbish", "lat": "39.05", "long": "116.15",
            "description": "路口堆了一堆垃圾", "first_name": "三", "last_name": "张", "phone": "13900000001"})
        assert r.status_code == 201, r.text
        [posted] = r.json()
        rid = str(posted["service_request_id"])
        assert posted["grid_code"] == GRIDS[1] and posted["token"]
        one = geo.get_service_request(rid)
        assert one["service_request_id"] == int(rid) or str(one["service_request_id"]) == rid
        assert one["status"] == "open" and one["detailed_status"] == "reported"
        assert one["service_code"] == "exposed_rubbish" and one["service_name"] == "暴露垃圾"
        assert one["lat"] == pytest.approx(39.05) and one["long"] == pytest.approx(116.15)
        assert one["grid_code"] == GRIDS[1] and one["zone_code"] == ZONE
        assert one["description"] == ""  # the public sees the text once a dispatcher has filed it (privacy.py)
        app.extensions["gridmap"].incidents.act(rid, "file", SYSTEM)
        one = geo.get_service_request(rid)
        assert one["description"] == "路口堆了一堆垃圾" and one["detailed_status"] == "filed"
        assert dt.datetime.fromisoformat(one["requested_datetime"]).tzinfo is not None
        # personal data never leaves through the public 311 interface
        assert "13900000001" not in str(one) and "张" not in str(one)

        [again] = geo.get_service_requests(service_request_id=rid)
        assert again == one
        listed = geo.get_service_requests(service_code="exposed_rubbish", status="open")
        assert rid in [str(x["service_request_id"]) for x in listed]
        assert geo.get_service_requests(service_request_id="999999") == []
        with pytest.raises(requests.HTTPError) as err:
            geo.get_service_request("999999")
        assert err.value.response.status_code == 404

        # a trusted client with an api_key (an API token) files a report in its name
        key = _token_for(app, "hotline", "dispatcher")
        r = requests.post(root + "requests.json", timeout=10, data={
            "api_key": key, "service_code": "exposed_rubbish", "lat": "39.05", "long": "116.05"})
        assert r.status_code == 201 and r.json()[0]["grid_code"] == GRIDS[0]
        trusted_id = r.json()[0]["service_request_id"]
        assert app.extensions["gridmap"].incidents.repo.events(trusted_id)[0].actor == "hotline"
        r = requests.post(root + "requests.json", timeout=10, data={
            "api_key": "wrong", "service_code": "exposed_rubbish", "lat": "39.05", "long": "116.05"})
        assert r.status_code == 403 and r.json()[0]["code"] == 403  # GeoReport v2: 403 for a bad api_key

        # bad requests: JSON errors naming the field
        r = requests.post(root + "requests.json", timeout=10, data={
            "service_code": "no_such_service", "lat": "39.05", "long": "116.15"})
        assert r.status_code == 400 and r.headers["Content-Type"].startswith("application/json")
        assert r.json()[0]["code"] == 400
        assert "service_code" in r.json()[0]["description"] and "no_such_service" in r.json()[0]["description"]
        r = requests.post(root + "requests.json", timeout=10, data={
            "service_code": "exposed_rubbish", "lat": "116.15", "long": "39.05"})
        assert r.status_code == 400 and "swapped" in r.json()[0]["description"]
        r = requests.post(root + "requests.json", timeout=10, data={"service_code": "exposed_rubbish"})
        assert r.status_code == 400 and "location" in r.json()[0]["description"]
        r = requests.get(root + "requests.json", params={"status": "pending"}, timeout=10)
        assert r.status_code == 400 and "status" in r.json()[0]["description"]
    assert app.extensions["gridmap"].incidents.repo.count() == 2  # nothing stored by the refused posts


# -- the JSON API through the test client ----------------------------------------------------------
def test_anonymous_report_is_public_only(client):
    r = report(client)
    assert r.status_code == 201, r.json
    out = r.json
    iid = out["id"]
    assert out["reporter_token"] and out["grid_code"] == GRIDS[1] and out["zone_code"] == ZONE
    assert out["status"] == "reported"
    assert r.headers["Location"].endswith(f"/api/v1/incidents/{iid}")
    assert out["status_url"].endswith(f"/status/{iid}")
    for key in PRIVATE_KEYS:
        assert key not in out
    assert "13900000009" not in r.get_data(as_text=True)

    assert_error(client.get("/api/v1/incidents"), 401)
    r = client.get(f"/api/v1/incidents/{iid}")
    # the public policy (incidents/privacy.py): no text before a dispatcher files it, the point rounded
    assert r.status_code == 200 and r.json["id"] == iid and r.json["description"] == "" and r.json["text_withheld"]
    assert (r.json["lon"], r.json["lat"]) == (round(IN_G2[0], 3), round(IN_G2[1], 3))
    client.application.extensions["gridmap"].incidents.act(iid, "file", SYSTEM)
    r = client.get(f"/api/v1/incidents/{iid}")
    assert r.json["description"] == "垃圾堆在路边" and not r.json["text_withheld"]
    for key in PRIVATE_KEYS + ("version", "reporter_token"):
        assert key not in r.json
    assert "13900000009" not in r.get_data(as_text=True)
    assert_error(client.get(f"/api/v1/incidents/{iid}/events"), 401)
    assert_error(client.get("/api/v1/incidents", headers=bearer("not-a-token")), 401, "token")


def test_dispatcher_walks_the_loop_and_reporter_rates(client, disp):
    filed = report(client).json
    iid, token = filed["id"], filed["reporter_token"]

    r = client.get("/api/v1/incidents", headers=disp)
    assert r.status_code == 200
    [row] = [x for x in r.json if x["id"] == iid]
    assert row["reporter_phone"] == "13900000009" and row["reporter_name"] == "王五"
    assert row["assignee"] == "P5"  # the worker of GRIDS[1]
    version = row["version"]
    for action, status in LOOP:
        r = act(client, iid, action, disp, version=version)
        assert r.status_code == 200, r.json
        assert r.json["status"] == status and r.json["version"] == version + 1
        version += 1
    closed = get_private(client, iid, disp)
    assert closed["closed_at"] and closed["due_at"] and closed["actions"] == ["reopen", "rate"]
    log = events(client, iid, disp)
    assert [e["action"] for e in log] == ["report"] + [a for a, _ in LOOP]
    assert [e["to"] for e in log] == ["reported"] + [s for _, s in LOOP]
    assert all(e["actor"] == "disp" for e in log[1:]) and log[0]["actor"] == "public"

    # the reporter rates with the secret from the report, without logging in
    assert_error(act(client, iid, "rate", rating=5, reporter_token="wrong-token"), 403, "token")
    assert_error(act(client, iid, "rate", rating=5), 401)  # no token, no login
    assert_error(act(client, iid, "rate", rating=7, reporter_token=token), 422, "rating")
    assert_error(act(client, iid, "rate", rating="5", reporter_token=token), 422, "rating")
    r = act(client, iid, "rate", rating=5, reporter_token=token)
    assert r.status_code == 200 and r.json["rating"] == 5 and r.json["status"] == "closed"
    for key in PRIVATE_KEYS:  # the reporter is anonymous: public view only
        assert key not in r.json
    # the reporter token is a credential for reopen/rate only, never for office actions
    assert_error(act(client, iid, "reopen", note="还是脏", reporter_token="wrong-token"), 403)
    log = events(client, iid, disp)
    assert log[-1]["action"] == "rate" and log[-1]["data"] == {"rating": 5}
    assert token not in str(log)  # the secret is not written to the audit log


def test_impossible_and_stale_actions_are_409_and_change_nothing(client, disp):
    iid = report(client).json["id"]
    before = get_private(client, iid, disp)
    n_events = len(events(client, iid, disp))

    assert_error(act(client, iid, "close", disp), 409, "close", "reported")
    assert_error(act(client, iid, "fly", disp), 409, "unknown action")
    assert_error(act(client, iid, "file", disp, version=before["version"] + 5), 409, "version")
    assert get_private(client, iid, disp) == before
    assert len(events(client, iid, disp)) == n_events

    r = act(client, iid, "file", disp, version=before["version"])
    assert r.status_code == 200 and r.json["version"] == before["version"] + 1
    # the same step again with the version we had read is stale now
    assert_error(act(client, iid, "dispatch", disp, version=before["version"]), 409, "reload")
    after = get_private(client, iid, disp)
    assert after["status"] == "filed" and after["version"] == before["version"] + 1
    assert len(events(client, iid, disp)) == n_events + 1

    assert_error(act(client, iid, "dispatch", disp, version="2"), 422, "version")
    assert_error(client.post(f"/api/v1/incidents/{iid}/actions", json=["dispatch"], headers=disp), 422)
    assert_error(act(client, iid, "reject", disp), 422, "note")  # a reason is required


def test_staff_act_only_in_their_own_grids(app, client, disp):
    p1 = bearer(_token_for(app, "p1", "staff", "P1"))  # P1 leads GRIDS[0] only
    other = report(client, at=IN_G2).json["id"]
    mine = report(client, at=IN_G1).json["id"]
    for iid in (other, mine):
        walk_to(client, iid, disp, "dispatch")

    r = client.get("/api/v1/incidents", headers=p1)
    assert r.status_code == 200
    ids = [x["id"] for x in r.json]
    assert mine in ids and other not in ids
    assert [x["reporter_phone"] for x in r.json if x["id"] == mine] == ["13900000009"]
    # another grid's incident: public view only, no actions, no audit log
    r = client.get(f"/api/v1/incidents/{other}", headers=p1)
    assert r.status_code == 200 and "reporter_phone" not in r.json
    assert_error(client.get(f"/api/v1/incidents/{other}/events", headers=p1), 403)
    r = act(client, other, "start", p1)  # issue #15: the 403 no longer names the other grid
    assert_error(r, 403, "not in your grids")
    assert GRIDS[1] not in r.get_data(as_text=True)
    assert get_private(client, other, disp)["status"] == "dispatched"

    r = act(client, mine, "start", p1)
    assert r.status_code == 200 and r.json["status"] == "in_progress"
    assert_error(act(client, mine, "close", p1), 403)  # staff do not file, dispatch or close
    assert_error(act(client, mine, "dispatch", p1), 403)
    assert len(events(client, mine, p1)) == 4
    assert_error(client.post("/api/v1/supervision/run", headers=p1), 403)


def test_zone_staff_list_incidents_of_their_zone(app, client):
    p8 = bearer(_token_for(app, "p8", "staff", "P8"))  # P8: zone_director of ZONE
    iid = report(client, at=IN_G2).json["id"]
    assert get_private(client, iid, p8)["reporter_phone"] == "13900000009"  # can_see: yes
    r = client.get("/api/v1/incidents", headers=p8)
    assert r.status_code == 200
    assert iid in [x["id"] for x in r.json]


@pytest.mark.parametrize("fields, status, words", [
    ({"category": "no_such_category"}, 422, ["category", "no_such_category"]),
    ({"category": None}, 422, ["category: required"]),
    ({"lon": None, "lat": None}, 422, ["location"]),
    ({"lon": "abc"}, 422, ["location", "numbers"]),
    ({"lon": 39.05, "lat": 116.15}, 422, ["location", "swapped"]),
    ({"description": "x" * 2001}, 422, ["description", "2001", "2000"]),
    ({"severity": 9}, 422, ["severity"]),
    ({"reporter_phone": "call me"}, 422, ["reporter_phone"]),
    ({"source": "telepathy"}, 422, ["source"]),
    ({"reported_at": "2999-01-01T00:00:00+08:00"}, 422, ["reported_at", "future"]),
])
def test_bad_reports_are_refused_naming_the_field(app, client, fields, status, words):
    assert_error(report(client, **fields), status, *words)
    assert app.extensions["gridmap"].incidents.repo.count() == 0


def test_bad_requests_are_json_errors(app, client, disp):
    r = client.post("/api/v1/incidents", data="{not json", content_type="application/json")
    assert_error(r, 422, "JSON")
    assert_error(client.post("/api/v1/incidents", json=[1, 2]), 422, "JSON object")
    for path in ("/api/v1/incidents/999999", "/api/v1/incidents/abc", "/api/v1/incidents/999999/events"):
        assert_error(client.get(path, headers=disp), 404, "no incident")
    assert_error(act(client, "999999", "file", disp), 404, "no incident")
    assert_error(client.get("/api/v1/incidents?limit=-1", headers=disp), 422, "limit")
    assert_error(client.get("/api/v1/incidents?from=yesterday", headers=disp), 422, "yesterday")
    assert app.extensions["gridmap"].incidents.repo.count() == 0


def test_html_in_a_description_is_stored_as_text_and_escaped_on_the_status_page(client):
    payload = "<img src=x onerror=alert(1)>"
    r = report(client, description=payload)
    assert r.status_code == 201 and r.json["description"] == ""  # withheld from the public until filed
    iid = r.json["id"]
    client.application.extensions["gridmap"].incidents.act(iid, "file", SYSTEM)
    assert client.get(f"/api/v1/incidents/{iid}").json["description"] == payload
    page = client.get(f"/status/{iid}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<img src=x" not in html
    assert "13900000009" not in html and "王五" not in html
    assert client.get("/status/999999").status_code == 404


def test_session_writes_need_the_csrf_token(app, client):
    create_user(app.extensions["gridmap"].store, "disp", "secret-pass", "dispatcher")
    iid = report(client).json["id"]

    # the login form itself is CSRF-protected
    r = client.post("/login", data={"username": "disp", "password": "secret-pass"})
    assert r.status_code == 400
    token = csrf(client.get("/login").get_data(as_text=True))
    r = client.post("/login", data={"username": "disp", "password": "wrong-pass", "csrf_token": token})
    assert r.status_code == 401 and "wrong user name or password" in r.get_data(as_text=True)
    r = client.post("/login", data={"username": "disp", "password": "secret-pass", "csrf_token": token})
    assert r.status_code == 302

    # logged in: reads work with the session cookie alone
    r = client.get("/api/v1/incidents")
    assert r.status_code == 200 and r.json[0]["reporter_phone"] == "13900000009"
    # writes need the CSRF token. Login clears the session (and with it the CSRF secret), so the
    # form's token is stale: fetch a fresh one (GET /login is the only page that renders one).
    assert_error(act(client, iid, "file"), 403, "CSRF")
    assert_error(act(client, iid, "file", {"X-CSRFToken": "forged"}), 403, "CSRF")
    fresh = csrf(client.get("/login").get_data(as_text=True))
    r = act(client, iid, "file", {"X-CSRFToken": fresh})
    assert r.status_code == 200 and r.json["status"] == "filed"
    assert events(client, iid, {})[-1]["actor"] == "disp"


def test_login_token_from_before_login_is_refused_after_login(app, client):
    """Documents the behaviour: session.clear() at login drops the CSRF secret (a new token is needed)."""
    create_user(app.extensions["gridmap"].store, "disp", "secret-pass", "dispatcher")
    iid = report(client).json["id"]
    token = csrf(client.get("/login").get_data(as_text=True))
    assert client.post("/login", data={"username": "disp", "password": "secret-pass", "csrf_token": token}).status_code == 302
    assert_error(act(client, iid, "file", {"X-CSRFToken": token}), 403, "CSRF")


def test_session_authenticated_report_needs_csrf(app, client):
    create_user(app.extensions["gridmap"].store, "disp", "secret-pass", "dispatcher")
    token = csrf(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"username": "disp", "password": "secret-pass", "csrf_token": token})
    # a cross-site form post carries the cookie but no CSRF token
    r = client.post("/api/v1/incidents", data={"category": "exposed_rubbish", "lon": "116.15", "lat": "39.05"})
    if r.status_code == 201:
        log = app.extensions["gridmap"].incidents.repo.events(r.json["id"])
        assert log[0].actor == "public", "a cookie-only cross-site POST was filed as the logged-in dispatcher"
    else:
        assert r.status_code == 403


@pytest.fixture
def limited_app(services):
    app = _make_app(services, report_rate_limit="3 per minute")
    yield app
    app.extensions["gridmap"].store.close()


def test_anonymous_reports_are_rate_limited(limited_app):
    client = limited_app.test_client()
    codes = [report(client).status_code for _ in range(4)]
    form = {"service_code": "exposed_rubbish", "lat": "39.05", "long": "116.15"}
    codes_311 = [client.post("/open311/v2/requests.json", data=form).status_code for _ in range(4)]
    assert (codes, codes_311) == ([201, 201, 201, 429], [201, 201, 201, 429])


def test_behind_a_proxy_the_limit_counts_each_client(services):
    def codes(app, forwarded_for):
        client = app.test_client()
        return [report(client, headers={"X-Forwarded-For": ip}).status_code for ip in forwarded_for]

    behind = _make_app(services, report_rate_limit="2 per minute", proxy_hops=1)
    # two residents behind one nginx: each has their own allowance
    assert codes(behind, ["10.1.0.1", "10.1.0.1", "10.1.0.2", "10.1.0.2", "10.1.0.1"]) == [201, 201, 201, 201, 429]
    behind.extensions["gridmap"].store.close()
    direct = _make_app(services, report_rate_limit="2 per minute")
    # without proxy_hops a forged header changes nothing: the limit follows the connection
    assert codes(direct, ["10.2.0.1", "10.2.0.2", "10.2.0.3"]) == [201, 201, 429]
    direct.extensions["gridmap"].store.close()


def test_token_clients_are_not_rate_limited(limited_app):
    client = limited_app.test_client()
    disp = bearer(_token_for(limited_app, "disp", "dispatcher"))
    assert [report(client, headers=disp).status_code for _ in range(5)] == [201] * 5
    form = {"service_code": "exposed_rubbish", "lat": "39.05", "long": "116.15", "api_key": disp["Authorization"][7:]}
    assert [client.post("/open311/v2/requests.json", data=form).status_code for _ in range(5)] == [201] * 5
    assert limited_app.extensions["gridmap"].incidents.repo.count() == 10


def test_supervision_lists_and_metrics(app, client, disp):
    svc = app.extensions["gridmap"].incidents
    done = report(client).json
    walk_to(client, done["id"], disp, "close")
    assert act(client, done["id"], "rate", rating=4, reporter_token=done["reporter_token"]).status_code == 200
    late = report(client, at=IN_G1, description="另一处").json["id"]
    walk_to(client, late, disp, "dispatch")
    report(client, at=(116.25, 39.05), category="garbage_overflow")  # reported, not yet filed

    assert_error(client.get("/api/v1/supervision"), 401)
    r = client.get("/api/v1/supervision", headers=disp)
    assert r.status_code == 200 and set(r.json) == {"as_of", "overdue", "due_soon", "overdue_total", "due_soon_total",
                                                    "limit", "offset"}
    assert r.json["overdue"] == []

    due_at = svc.repo.get(late).due_at
    real_clock = svc.clock
    try:
        svc.clock = lambda: due_at - dt.timedelta(hours=1)
        r = client.get("/api/v1/supervision", headers=disp)
        assert [x["id"] for x in r.json["due_soon"]] == [late] and r.json["overdue"] == []
        svc.clock = lambda: due_at + dt.timedelta(hours=1)
        r = client.get("/api/v1/supervision", headers=disp)
        assert [x["id"] for x in r.json["overdue"]] == [late] and r.json["due_soon"] == []
        assert r.json["overdue"][0]["reporter_phone"] == "13900000009"  # dispatcher: private view
    finally:
        svc.clock = real_clock

    assert_error(client.get("/api/v1/metrics?by=zone&from=2020-01-01&to=2030-01-01"), 401)
    r = client.get("/api/v1/metrics?by=zone&from=2020-01-01&to=2030-01-01", headers=disp)
    assert r.status_code == 200 and r.json["by"] == "zone"
    [row] = r.json["rows"]
    assert row["key"] == ZONE and row["count"] == 3 and row["filed"] == 2 and row["closed"] == 1
    assert row["closed_on_time"] == 1 and row["satisfaction"] == 4 and row["rated"] == 1
    [ranked] = r.json["ranking"]
    assert ranked["key"] == ZONE and ranked["rank"] == 1 and ranked["flag_lowest_satisfaction"] is True
    r = client.get("/api/v1/metrics?by=grid&from=2020-01-01&to=2030-01-01", headers=disp)
    assert [x["key"] for x in r.json["rows"]] == GRIDS and "ranking" not in r.json
    assert_error(client.get("/api/v1/metrics?by=planet&from=2020-01-01&to=2030-01-01", headers=disp), 422, "by")
    assert_error(client.get("/api/v1/metrics?by=zone", headers=disp), 422, "from and to")


def test_metrics_with_an_empty_date_range_is_a_422(client, disp):
    assert_error(client.get("/api/v1/metrics?by=zone&from=2030-01-01&to=2020-01-01", headers=disp), 422, "from")


def test_metrics_do_not_count_a_future_deadline_as_overdue(client, disp):
    iid = report(client).json["id"]
    walk_to(client, iid, disp, "dispatch")  # due in 4 working hours from now
    r = client.get("/api/v1/metrics?by=all&from=2020-01-01&to=2030-01-01", headers=disp)
    [row] = r.json["rows"]
    assert row["overdue_open"] == 0 and row["due"] == 0
