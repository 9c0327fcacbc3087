"""Issue #12: one public policy for incidents (gridmap/incidents/privacy.py), applied to every
public route on both backends: a report's text only once a dispatcher has filed it (never for
a rejected one), points rounded to 3 decimals, no reporter anywhere; staff get the exact point."""

from __future__ import annotations

import json

import pytest

from gridmap.incidents.actors import SYSTEM
from gridmap.incidents.privacy import public_point
from gridmap.web.auth import create_token, create_user

from .conftest import GRIDS

POINT = (116.051234, 39.054321)  # in GRIDS[0]
TEXT = "门口垃圾 王五家 13900000009"
PHONE = "13911112222"


@pytest.fixture
def setup(services_app):
    app = services_app
    c = app.test_client()
    ids = {}
    for key in ("pending", "filed", "rejected"):
        r = c.post("/api/v1/incidents", json={"category": "exposed_rubbish", "lon": POINT[0], "lat": POINT[1],
                                              "description": f"{key}: {TEXT}", "reporter_phone": PHONE})
        assert r.status_code == 201, r.get_json()
        ids[key] = r.get_json()["id"]
    loop = app.extensions["gridmap"].incidents
    loop.act(ids["filed"], "file", SYSTEM)
    loop.act(ids["rejected"], "reject", SYSTEM, note="abuse")
    store = app.extensions["gridmap"].store
    create_user(store, "disp", "password123", "dispatcher")
    return c, ids, {"Authorization": f"Bearer {create_token(store, 'disp')}"}


def public_routes(ids: dict[str, str]) -> list[str]:
    out = ["/map.json?status=all", "/map?status=all", f"/grids/{GRIDS[0]}.json", f"/grids/{GRIDS[0]}",
           "/open311/v2/requests.json?status=open,closed",
           "/open311/v2/requests.xml", "/ogcapi/collections/incidents/items?f=json"]
    for iid in ids.values():
        out += [f"/api/v1/incidents/{iid}", f"/status/{iid}", f"/open311/v2/requests/{iid}.json",
                f"/ogcapi/collections/incidents/items/{iid}?f=json"]
    return out


def test_every_public_route_follows_the_one_policy(setup):
    c, ids, _ = setup
    lon, lat = public_point(*POINT)
    assert (lon, lat) == (116.051, 39.054)
    for path in public_routes(ids):
        r = c.get(path)
        assert r.status_code == 200, path
        body = r.get_data(as_text=True)
        assert "pending:" not in body and "rejected:" not in body, path  # not moderated: no text
        assert PHONE not in body, path  # the reporter's phone: never
        assert "116.051234" not in body and "39.054321" not in body, path  # never the exact point
    for path in (f"/api/v1/incidents/{ids['filed']}", f"/status/{ids['filed']}",
                 f"/open311/v2/requests/{ids['filed']}.json"):
        assert "filed: " in c.get(path).get_data(as_text=True), path  # filed: its text is public
    one = c.get(f"/api/v1/incidents/{ids['pending']}").get_json()
    assert (one["lon"], one["lat"]) == (lon, lat) and one["description"] == "" and one["text_withheld"]
    (req,) = json.loads(c.get(f"/open311/v2/requests/{ids['pending']}.json").get_data())
    assert (req["long"], req["lat"]) == (lon, lat) and req["description"] == ""
    assert "受理后公开" in c.get(f"/status/{ids['pending']}").get_data(as_text=True)


def test_staff_see_the_exact_point_and_the_text(setup):
    c, ids, disp = setup
    one = c.get(f"/api/v1/incidents/{ids['pending']}", headers=disp).get_json()
    assert (one["lon"], one["lat"]) == POINT and one["description"].startswith("pending:")
    assert one["reporter_phone"] == PHONE
