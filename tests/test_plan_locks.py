"""Locked grids (op "lock"), edits that answer with the grids they changed (?features=1), units by codes,
and the comparison of two plans (JSON); over the API on both backends."""

from __future__ import annotations

import shapely
import shapely.geometry

from gridmap.web.auth import create_token, create_user

from .conftest import GRIDS, ZONE

G1, G2, G3 = GRIDS


def client_of(app):
    store = app.extensions["gridmap"].store
    create_user(store, "plan", "secret-pass", "planner")
    c = app.test_client()
    c.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {create_token(store, 'plan')}"
    return c


def revs(c, n, *codes):
    fc = c.get(f"/api/v1/plans/{n}/units?level=grid&codes={','.join(codes)}").get_json()
    return {f["properties"]["code"]: f["properties"]["rev"] for f in fc["features"]}


def test_locked_grids_are_not_redrawn(services_app):
    c = client_of(services_app)
    n = c.post("/api/v1/plans", json={}).get_json()["version"]
    r = c.post(f"/api/v1/plans/{n}/edits?features=1", json={"op": "lock", "codes": [G1], "rev": revs(c, n, G1)})
    assert r.status_code == 200, r.get_json()
    out = r.get_json()
    assert out["changed"] == [G1] and [f["properties"]["locked"] for f in out["features"]] == [True]
    assert out["features"][0]["properties"]["rev"] == out["revs"][G1] == 2
    # merge, move and a reshape that would take from G1: refused naming it; nothing written
    for body in ({"op": "merge", "codes": [G2, G1]},
                 {"op": "move", "from": G1, "to": G2,
                  "area": shapely.geometry.mapping(shapely.box(116.09, 39.0, 116.1, 39.1))},
                 {"op": "reshape", "code": G2,
                  "geometry": shapely.geometry.mapping(shapely.box(116.05, 39.0, 116.2, 39.1))},
                 {"op": "split", "code": G1, "parts": 2}):
        r = c.post(f"/api/v1/plans/{n}/edits", json=body | {"rev": revs(c, n, G1, G2)})
        assert r.status_code == 422 and f"{G1} is locked" in r.get_json()["detail"], (body["op"], r.get_json())
    ps = services_app.extensions["gridmap"].plans
    assert [e.op for e in ps.repo.edits(n)] == ["lock"]
    # rename is not a redraw
    assert c.post(f"/api/v1/plans/{n}/edits",
                  json={"op": "rename", "code": G1, "name": "新名", "rev": revs(c, n, G1)}).status_code == 200
    # unlock (and lock all / unlock all: several codes at once); G2 split then is fine
    r = c.post(f"/api/v1/plans/{n}/edits", json={"op": "lock", "codes": [G1, G2, G3], "locked": True,
                                                 "rev": revs(c, n, G1, G2, G3)})
    assert r.get_json()["changed"] == [G2, G3] and "already so" in r.get_json()["notes"][0]
    r = c.post(f"/api/v1/plans/{n}/edits", json={"op": "lock", "codes": GRIDS, "locked": False,
                                                 "rev": revs(c, n, *GRIDS)})
    assert r.get_json()["changed"] == GRIDS
    r = c.post(f"/api/v1/plans/{n}/edits?features=1", json={"op": "merge", "codes": [G1, G2], "rev": revs(c, n, G1, G2)})
    assert r.status_code == 200 and r.get_json()["removed"] == [G2]
    assert [f["properties"]["code"] for f in r.get_json()["features"]] == [G1]
    stored = c.get(f"/api/v1/plans/{n}/units?codes={G1}").get_json()["features"]
    assert r.get_json()["features"] == stored  # the answer is what a read gives: geometry, revs, households
    # undo the merge: the codes it touched come back by units?codes=
    undone = c.post(f"/api/v1/plans/{n}/undo", json={}).get_json()["undone"]
    fc = c.get(f"/api/v1/plans/{n}/units?level=grid&codes={','.join(undone['before_codes'])}").get_json()
    assert sorted(f["properties"]["code"] for f in fc["features"]) == [G1, G2]
    # bad lock input
    for body, text in (({"op": "lock", "codes": []}, "codes must list"),
                       ({"op": "lock", "codes": ["NOPE"]}, "no such grid"),
                       ({"op": "lock", "codes": [G1], "locked": "yes"}, "true (lock) or false")):
        r = c.post(f"/api/v1/plans/{n}/edits", json=body | {"rev": ps.plan(n).rev})
        assert r.status_code == 422 and text in r.get_json()["detail"], r.get_json()
    assert c.get(f"/api/v1/plans/{n}/units?codes=,").status_code == 422  # no code named
    assert c.get(f"/api/v1/plans/{n}/units?codes=" + ",".join(["x"] * 2001)).status_code == 422


def test_snap_leaves_locked_grids_out(services_app):
    c = client_of(services_app)
    n = c.post("/api/v1/plans", json={}).get_json()["version"]
    ps = services_app.extensions["gridmap"].plans
    u = ps.store.unit(G2, plan=n)
    from dataclasses import replace

    nudged = replace(u, geometry=shapely.box(116.1 + 1e-6, 39.0, 116.2, 39.1))  # a 9 cm gap to G1
    ps.repo.apply_edit(n, "test-gap", {}, [nudged], [], {G2: ps.repo.unit_revs(n)[G2]})
    c.post(f"/api/v1/plans/{n}/edits", json={"op": "lock", "codes": [G2], "rev": revs(c, n, G2)})
    out = c.post(f"/api/v1/plans/{n}/edits", json={"op": "snap", "tolerance_m": 1, "rev": ps.plan(n).rev}).get_json()
    assert G2 not in out["changed"]
    assert ps.store.unit(G2, plan=n).geometry.equals(nudged.geometry)


def test_compare_two_plans(services_app):
    c = client_of(services_app)
    n = c.post("/api/v1/plans", json={}).get_json()["version"]
    c.post(f"/api/v1/plans/{n}/edits", json={"op": "merge", "codes": [G1, G2], "rev": revs(c, n, G1, G2)})
    out = c.get(f"/api/v1/plans/compare?a=1&b={n}&households=80-150").get_json()
    assert out["diff"]["summary"] == {"added": 0, "removed": 1, "reshaped": 1, "renamed": 0, "unchanged": 1}
    assert out["status"] == {"a": {G1: "reshaped", G2: "removed", G3: "unchanged"},
                             "b": {G1: "reshaped", G3: "unchanged"}}
    assert out["a"]["balance"]["counts"] == {"under": 0, "within": 3, "over": 0, "unknown": 0}
    assert out["b"]["balance"]["counts"] == {"under": 0, "within": 1, "over": 1, "unknown": 0}
    assert [(g["code"], g["households"], g["balance"], g["change"]) for g in out["b"]["balance"]["grids"]] == \
        [(G1, 200, "over", "reshaped"), (G3, 100, "within", "unchanged")]
    assert out["targets"]["households"] == [80, 150]
    assert c.get(f"/api/v1/plans/compare?a=1&b={n}").get_json()["targets"]["default"] is True
    assert c.get("/api/v1/plans/compare?a=1").status_code == 422
    assert c.get("/api/v1/plans/compare?a=1&b=99").status_code == 404
    assert c.get(f"/api/v1/plans/compare?a=1&b={n}&households=9-1").status_code == 422
    assert ZONE  # the sample's one zone holds all three grids
