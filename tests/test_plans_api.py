"""Plans over the JSON API (/api/v1/plans, responses checked against the OpenAPI document) and the CLI."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest
import shapely
from click.testing import CliRunner
from openapi_schema_validator import OAS30Validator

from gridmap.cli import main
from gridmap.web.auth import create_token, create_user

from .conftest import GRIDS, ZONE

G1, G2, G3 = GRIDS
NEW1 = ZONE + "004"
TODAY = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()


@pytest.fixture
def app(services_app):
    return services_app


@pytest.fixture
def api(app):
    """call(method, template, url, who=..., json=...) -> response, validated against the OpenAPI document."""
    client = app.test_client()
    store = app.extensions["gridmap"].store
    tokens = {}
    for name, role in (("plan", "planner"), ("disp", "dispatcher")):
        create_user(store, name, "secret-pass", role)
        tokens[name] = create_token(store, name)
    doc = client.get("/api/v1/openapi.json").json

    def call(method: str, template: str, url: str, who: str | None = "plan", **kw):
        headers = {"Authorization": f"Bearer {tokens[who]}"} if who else {}
        r = client.open(url, method=method.upper(), headers=headers, **kw)
        responses = doc["paths"][template][method]["responses"]
        assert str(r.status_code) in responses, (r.status_code, r.get_data(as_text=True)[:300])
        content = responses[str(r.status_code)].get("content")
        if content:
            schema = content[r.mimetype]["schema"]
            OAS30Validator({"allOf": [schema], "components": doc["components"]}).validate(r.get_json(force=True))
        return r

    return call


def test_api_round_trip(api, app):
    assert api("get", "/api/v1/plans", "/api/v1/plans", who=None).status_code == 401
    assert [p["version"] for p in api("get", "/api/v1/plans", "/api/v1/plans").json] == [1]
    assert api("post", "/api/v1/plans", "/api/v1/plans", who="disp", json={}).status_code == 403
    r = api("post", "/api/v1/plans", "/api/v1/plans", json={"note": "划小网格"})
    assert r.status_code == 201 and r.json["status"] == "draft" and r.json["author"] == "plan"
    n = r.json["version"]
    units = api("get", "/api/v1/plans/{version}/units", f"/api/v1/plans/{n}/units?level=grid").json
    revs = {f["id"]: f["properties"]["rev"] for f in units["features"]}
    assert revs == {G1: 1, G2: 1, G3: 1} and units["rev"] == 0
    edits = f"/api/v1/plans/{n}/edits"
    line = {"type": "LineString", "coordinates": [[116.05, 38.9], [116.05, 39.2]]}
    assert api("post", "/api/v1/plans/{version}/edits", edits, json={"op": "split", "code": G1, "line": line}
               ).status_code == 422  # no rev
    out = api("post", "/api/v1/plans/{version}/edits", edits,
              json={"op": "split", "code": G1, "line": line, "rev": {G1: revs[G1]}}).json
    assert out["created"] == [NEW1] and out["revs"] == {G1: 2, NEW1: 1} and out["rev"] == 1
    stale = api("post", "/api/v1/plans/{version}/edits", edits,
                json={"op": "merge", "codes": [G1, G2], "rev": revs})
    assert stale.status_code == 409 and G1 in stale.json["detail"]
    bad = api("post", "/api/v1/plans/{version}/edits", edits,
              json={"op": "merge", "codes": [G1, G3], "rev": out["rev"]})
    assert bad.status_code == 422 and "share an edge" in bad.json["detail"]
    merged = api("post", "/api/v1/plans/{version}/edits", edits,
                 json={"op": "merge", "codes": [G2, G3], "rev": out["rev"]}).json
    assert merged["removed"] == [G3]
    undone = api("post", "/api/v1/plans/{version}/undo", f"/api/v1/plans/{n}/undo", json={"rev": merged["rev"]}).json
    assert undone["undone"]["op"] == "merge"
    api("post", "/api/v1/plans/{version}/edits", edits, json={"op": "merge", "codes": [G2, G3], "rev": undone["rev"]})
    plan = api("get", "/api/v1/plans/{version}", f"/api/v1/plans/{n}").json
    assert [e["op"] for e in plan["edit_log"]] == ["split", "merge"]
    d = api("get", "/api/v1/plans/{version}/diff", f"/api/v1/plans/{n}/diff").json
    assert d["from"] == 1 and d["summary"] == {"added": 1, "removed": 1, "reshaped": 2, "renamed": 0, "unchanged": 0}
    assert api("get", "/api/v1/plans/{version}/diff", f"/api/v1/plans/{n}/diff?against=x").status_code == 422
    zones = api("get", "/api/v1/plans/{version}/diff", f"/api/v1/plans/{n}/diff?against=1&level=zone").json
    assert zones["level"] == "zone" and zones["unchanged"] == [ZONE]
    loop = app.extensions["gridmap"].incidents
    inc = loop.report({"category": "exposed_rubbish", "lon": 116.25, "lat": 39.05}).incident
    imp = api("get", "/api/v1/plans/{version}/impact", f"/api/v1/plans/{n}/impact").json
    assert [(m["id"], m["to"]) for m in imp["incidents"]["moving"]] == [(inc.id, G2)]
    pub = f"/api/v1/plans/{n}/publish"
    assert api("post", "/api/v1/plans/{version}/publish", pub, json={}).status_code == 422
    assert api("post", "/api/v1/plans/{version}/publish", pub, who="disp", json={"effective_from": TODAY}).status_code == 403
    done = api("post", "/api/v1/plans/{version}/publish", pub, json={"effective_from": TODAY}).json
    assert done["in_force"] and [r["id"] for r in done["rerouted"]] == [inc.id]
    assert loop.repo.get(inc.id).grid_code == G2
    assert app.test_client().get("/api/v1/locate?lon=116.25&lat=39.05").json["grid"] == G2  # the app's index moved on
    assert api("post", "/api/v1/plans/{version}/edits", edits, json={"op": "snap", "tolerance_m": 1, "rev": 0}
               ).status_code == 409  # published
    assert api("delete", "/api/v1/plans/{version}", f"/api/v1/plans/{n}").status_code == 409
    assert api("get", "/api/v1/plans/{version}", "/api/v1/plans/99").status_code == 404


def test_api_publish_refused_with_reasons(api, app):
    n = api("post", "/api/v1/plans", "/api/v1/plans", json={}).json["version"]
    store = app.extensions["gridmap"].store
    g1 = store.unit(G1, plan=n)
    from dataclasses import replace
    store.plans.apply_edit(n, "test", {}, [replace(g1, geometry=shapely.box(116.0, 39.0, 116.09, 39.1))], [], {G1: 1})
    r = api("post", "/api/v1/plans/{version}/publish", f"/api/v1/plans/{n}/publish", json={"effective_from": TODAY})
    assert r.status_code == 409 and [p["kind"] for p in r.json["problems"]] == ["gap"]
    assert r.json["problems"][0]["area_m2"] > 8e6
    r = api("post", "/api/v1/plans/{version}/publish", f"/api/v1/plans/{n}/publish",
            json={"effective_from": TODAY, "force": True})
    assert r.status_code == 200 and r.json["forced"]
    assert api("delete", "/api/v1/plans/{version}", "/api/v1/plans/99").status_code == 404


def test_cli_plan_commands(services, tmp_path):
    db = services.settings.db
    run = CliRunner()

    def cli(*args):
        return run.invoke(main, ["--db", db, "plan", *args])

    assert "draft 2 created from plan 1" in cli("new", "--note", "split G1").output
    away = tmp_path / "away.geojson"
    away.write_text(json.dumps({"type": "LineString", "coordinates": [[117, 38], [117.1, 38.5]]}))
    r = cli("split", "2", G1, "--line", str(away))
    assert r.exit_code == 1 and "does not cross" in r.output
    r = cli("split", "2", G1, "--parts", "2")
    assert r.exit_code == 0 and f"created {NEW1}" in r.output, r.output
    area = tmp_path / "area.geojson"
    area.write_text(json.dumps({"type": "Feature", "properties": {},
                                "geometry": shapely.geometry.mapping(shapely.box(116.15, 39.0, 116.25, 39.05))}))
    assert cli("move", "2", "--from", G3, "--to", G2, "--area", str(area), "--rev", "0").exit_code == 1  # stale
    r = cli("move", "2", "--from", G3, "--to", G2, "--area", str(area), "--rev", "1")
    assert r.exit_code == 0 and f"changed {G2}, {G3}" in r.output, r.output
    d = json.loads(cli("diff", "1", "2", "--json").output)
    assert [a["code"] for a in d["added"]] == [NEW1] and d["unchanged"] == []
    assert f"reshaped  {G1}" in cli("diff", "1", "2").output
    imp = json.loads(cli("impact", "2", "--json").output)
    assert imp["households"]["households"] == 75  # 50 from G1, a quarter of G3's 100
    assert "undid edit 2 (move)" in cli("undo", "2").output
    r = cli("publish", "2", "--effective", TODAY)
    assert r.exit_code == 0 and "in force from" in r.output
    listing = cli("list").output.splitlines()
    assert listing[1].startswith("*") and " 2  published" in listing[1]
    assert cli("show", "2", "--json").exit_code == 0
    r = cli("publish", "2", "--effective", "tomorrow")
    assert r.exit_code == 1 and "error:" in r.output


def test_locate_at_a_past_date_uses_the_plan_then_in_force(api, app):
    from .test_plans import backdate_plan_1

    services = app.extensions["gridmap"]
    backdate_plan_1(services, dt.date(2025, 1, 1))
    draft = api("post", "/api/v1/plans", "/api/v1/plans", json={"note": "merge"}).json["version"]
    merged = api("post", "/api/v1/plans/{version}/edits", f"/api/v1/plans/{draft}/edits",
                 json={"op": "merge", "codes": [G2, G3], "rev": 0})
    assert merged.status_code == 200 and merged.json["removed"] == [G3], merged.json
    r = api("post", "/api/v1/plans/{version}/publish", f"/api/v1/plans/{draft}/publish",
            json={"effective_from": "2025-06-01"})
    assert r.status_code == 200, r.json

    def where(query: str):
        return api("get", "/api/v1/locate", f"/api/v1/locate?lon=116.25&lat=39.05{query}", who=None)

    assert where("").json["grid"] == G2  # the merged grid kept the lowest code
    assert where("&at=2025-03-01").json["grid"] == G3
    assert where("&at=2020-01-01").status_code == 404
    bad = where("&at=March")
    assert bad.status_code == 422 and "'at'" in bad.json["detail"]
