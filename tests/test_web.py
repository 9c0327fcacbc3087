"""The JSON API and the home page through Flask's test client."""

from __future__ import annotations

import pytest

from gridmap import create_app
from gridmap.settings import Settings

from .conftest import GRIDS


@pytest.fixture
def client(services):
    app = create_app(Settings(db=services.settings.db))
    yield app.test_client()
    app.extensions["gridmap"].store.close()


def test_api_locate_and_units(client):
    r = client.get("/api/v1/locate?lon=116.15&lat=39.05")
    assert r.status_code == 200 and r.json["grid"] == GRIDS[1]
    r = client.get("/api/v1/units?level=grid")
    assert r.headers["Content-Type"].startswith("application/geo+json")
    assert [f["id"] for f in r.json["features"]] == GRIDS
    r = client.get(f"/api/v1/units/{GRIDS[0]}")
    assert r.json["properties"]["name"] == "第1网格"


def test_api_errors_are_json_with_status(client):
    assert client.get("/api/v1/units/nope").status_code == 404
    r = client.get("/api/v1/locate?lon=abc&lat=1")
    assert r.status_code == 422 and "must be a number" in r.json["detail"]
    r = client.get("/api/v1/locate?lon=39.05&lat=116.15")
    assert r.status_code == 422 and "swapped" in r.json["detail"]
    assert client.get("/api/v1/units?level=city").status_code == 422


def test_home_page_lists_units_and_broken_teams(client):
    r = client.get("/")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "第3网格" in html and "needs exactly 1" in html


def test_too_large_body_is_413_json(client):
    big = {"category": "exposed_rubbish", "lon": 116.15, "lat": 39.05, "description": "x" * (1024 * 1024 + 10)}
    r = client.post("/api/v1/incidents", json=big)
    assert r.status_code == 413 and r.json["status"] == 413
    r = client.post("/open311/v2/requests.json", data={"service_code": "exposed_rubbish", "description": "x" * 1_100_000})
    assert r.status_code == 413 and r.json[0]["code"] == 413


def test_login_never_redirects_off_site(client, services):
    from gridmap.web.auth import create_user

    create_user(services.store, "disp", "long-enough-pw", "dispatcher")
    html = client.get("/login").get_data(as_text=True)
    token = html.split('name="csrf_token" value="')[1].split('"')[0]
    for target in ("https://evil.example/", "//evil.example/x"):
        r = client.post(f"/login?next={target}", data={"username": "disp", "password": "long-enough-pw",
                                                        "csrf_token": token})
        assert r.status_code == 302 and r.headers["Location"] in ("/", "http://localhost/")
        html = client.get("/login").get_data(as_text=True)
        token = html.split('name="csrf_token" value="')[1].split('"')[0]
    r = client.post("/login?next=/board", data={"username": "disp", "password": "long-enough-pw", "csrf_token": token})
    assert r.headers["Location"].endswith("/board")
