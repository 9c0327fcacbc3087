"""DoS bound of drawn shapes (issue #15): vertices capped, repair only of a few crossings.

The issue's inputs: a self-crossing spiky polygon of 400 vertices (10 KB) with repair took
9.5 s; one of 40,000 vertices (889 KB) grew the server to 23.7 GB. Both are now refused
with a 422 naming the limit, in well under a second, on both backends.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from gridmap.settings import Settings
from gridmap.web.auth import create_token, create_user

from .conftest import GRIDS

G1 = GRIDS[0]


def spiky(n: int, cx=116.05, cy=39.05, r=0.04) -> dict:
    """A self-crossing star: vertices at random angles, alternately far and near."""
    rng = np.random.default_rng(1)
    ang = rng.uniform(0, 2 * np.pi, n)
    rad = np.where(np.arange(n) % 2 == 0, r, r * 0.1)
    pts = np.c_[cx + rad * np.cos(ang), cy + rad * np.sin(ang)].round(6).tolist()
    return {"type": "Polygon", "coordinates": [pts + [pts[0]]]}


@pytest.fixture
def post(services_app):
    client = services_app.test_client()
    store = services_app.extensions["gridmap"].store
    create_user(store, "plan", "secret-pass", "planner")
    headers = {"Authorization": f"Bearer {create_token(store, 'plan')}"}
    n = client.post("/api/v1/plans", json={}, headers=headers).json["version"]

    def call(body: dict):
        # CPU seconds of this process (the test client runs the request here): the cost of the request,
        # not how busy the machine is (wall time read 9 s for 2 s of work with two test workers at load 15)
        t0 = time.process_time()
        r = client.post(f"/api/v1/plans/{n}/edits", data=json.dumps(body), content_type="application/json",
                        headers=headers)
        return r, time.process_time() - t0

    return call


def test_400_vertex_spiky_repair_is_refused_fast_naming_the_limit(post):
    body = {"op": "reshape", "code": G1, "repair": True, "geometry": spiky(400), "rev": 0}
    assert 8_000 < len(json.dumps(body)) < 14_000  # the 10 KB
    r, took = post(body)
    assert r.status_code == 422 and "max_repair_crossings" in r.json["detail"], r.json
    assert "100" in r.json["detail"] and took < 2.0  # was 9.5 s


def test_40000_vertices_are_refused_before_any_geometry_work(post):
    body = {"op": "reshape", "code": G1, "repair": True, "geometry": spiky(40_000), "rev": 0}
    assert len(json.dumps(body)) > 800_000  # the 889 KB (under the 1 MB body limit)
    r, took = post(body)
    assert r.status_code == 422 and "max_drawn_vertices" in r.json["detail"] and "5000" in r.json["detail"], r.json
    assert took < 3.0  # was an OOM kill at 23.7 GB


def test_a_cut_line_with_too_many_vertices_is_refused(post):
    xs = np.linspace(116.05, 116.06, 6000)
    line = {"type": "LineString", "coordinates": [[x, 38.9 + 0.3 * i / 6000] for i, x in enumerate(xs)]}
    r, _ = post({"op": "split", "code": G1, "line": line, "rev": 0})
    assert r.status_code == 422 and "max_drawn_vertices" in r.json["detail"]


def test_the_limits_are_settings():
    s = Settings.load({"max_drawn_vertices": 10, "max_repair_crossings": 0}, environ={})
    assert s.max_drawn_vertices == 10 and s.max_repair_crossings == 0
    assert Settings().max_drawn_vertices == 5000 and Settings().max_repair_crossings == 100
