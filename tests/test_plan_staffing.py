"""Publishing must not strand a case: drafts carry 1+1+N teams, gaps block publishing.

Both backends. The sample: G1 (leader P1, instructor P2, worker P3), G2 (P4, P2, P5), G3
(leader P6 only). Splitting G1 at lon 116.05 makes NEW1 [116.05, 116.1]: it inherits P1 and
P2 but no worker (G1 has one, who stays with G1), like the issue's 371403001003005.
"""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from gridmap.cli import main
from gridmap.errors import InputError, NotFound
from gridmap.plans import StaffingRefused
from gridmap.registry.model import Role
from gridmap.store import schema

from .conftest import GRIDS, ZONE
from .test_plans import loop, plans  # noqa: F401  (fixtures)
from .test_plans_api import api, app  # noqa: F401  (fixtures)

TZ = ZoneInfo("Asia/Shanghai")
G1, G2, G3 = GRIDS
NEW1 = ZONE + "004"
CUT = {"type": "LineString", "coordinates": [[116.05, 38.9], [116.05, 39.2]]}
TODAY = dt.datetime.now(TZ).date()


def team(roles, code):
    return sorted((r.role, r.person_id) for r in roles if r.unit_code == code)


def test_split_successor_inherits_and_an_unstaffed_grid_with_a_case_blocks_publish(services, plans, loop):
    inc = loop.report({"category": "exposed_rubbish", "lon": 116.07, "lat": 39.05}).incident
    assert (inc.grid_code, inc.assignee) == (G1, "P3")
    n = plans.create().version
    assert plans.edit(n, "split", {"code": G1, "line": CUT})["created"] == [NEW1]
    roster = plans.teams.roster(n)
    assert team(roster, G1) == [("instructor", "P2"), ("leader", "P1"), ("worker", "P3")]
    assert team(roster, NEW1) == [("instructor", "P2"), ("leader", "P1")]  # by the rule; no worker left
    imp = plans.impact(n)
    assert [(g["code"], g["open_incidents"], g["counts"]) for g in imp["staffing_gaps"]] == [
        (NEW1, 1, {"leader": 1, "instructor": 1, "worker": 0})]
    assert imp["new_and_changed_teams"][NEW1] == {"leader": ["P1"], "instructor": ["P2"], "worker": []}
    with pytest.raises(StaffingRefused, match=NEW1) as refused:
        plans.publish(n, TODAY)
    assert refused.value.gaps[0]["code"] == NEW1
    assert loop.repo.get(inc.id).grid_code == G1 and services.store.current_plan() == 1  # nothing changed
    out = plans.edit(n, "staff", {"code": NEW1, "workers": ["P5"]})
    assert out["team"] == {"leader": ["P1"], "instructor": ["P2"], "worker": ["P5"]}
    assert plans.impact(n)["staffing_gaps"] == []
    pub = plans.publish(n, TODAY)
    assert [(r["id"], r["to"], r["assignee"]) for r in pub["rerouted"]] == [(inc.id, NEW1, "P5")]
    moved = loop.repo.get(inc.id)
    assert (moved.grid_code, moved.assignee, moved.status) == (NEW1, "P5", inc.status)
    assert team(services.store.roles(), NEW1) == [("instructor", "P2"), ("leader", "P1"), ("worker", "P5")]
    assert team(services.store.roles(), G1) == [("instructor", "P2"), ("leader", "P1"), ("worker", "P3")]


def test_forcing_past_a_gap_needs_a_reason_and_records_it(services, plans, loop):
    inc = loop.report({"category": "exposed_rubbish", "lon": 116.07, "lat": 39.05}).incident
    n = plans.create().version
    plans.edit(n, "split", {"code": G1, "line": CUT})
    with pytest.raises(InputError, match="reason"):
        plans.publish(n, TODAY, force=True)
    pub = plans.publish(n, TODAY, force=True, reason="新网格员下周到岗")
    assert pub["forced"] and pub["reason"] == "新网格员下周到岗" and pub["staffing_gaps"][0]["code"] == NEW1
    assert plans.plan(n).publish_reason == "新网格员下周到岗"
    assert plans.plan(n).as_dict()["publish_reason"] == "新网格员下周到岗"
    # routed like a new report: no worker in NEW1, so its leader
    assert loop.repo.get(inc.id).assignee == "P1"


def test_a_gap_without_open_incidents_is_listed_but_does_not_block(services, plans):
    n = plans.create().version
    plans.edit(n, "split", {"code": G1, "line": CUT})
    imp = plans.impact(n)
    assert {g["code"]: g["blocks_publish"] for g in imp["teams"]} == {NEW1: False, G3: False}
    assert plans.publish(n, TODAY)["forced"] is False


def test_merge_inherits_workers_and_offers_the_other_leader(services, plans, loop):
    inc = loop.report({"category": "exposed_rubbish", "lon": 116.25, "lat": 39.05}).incident  # G3: leader only
    assert inc.assignee == "P6"
    n = plans.create().version
    plans.edit(n, "merge", {"codes": [G2, G3]})
    assert team(plans.teams.roster(n), G2) == [("instructor", "P2"), ("leader", "P4"), ("worker", "P5")]
    imp = plans.impact(n)
    assert [(s["person_id"], s["successors"], s["placed_in"]) for s in imp["staff_on_removed_grids"]] == [
        ("P6", [G2], [])]
    plans.edit(n, "staff", {"code": G2, "workers": ["P5", "P6"]})  # the planner places P6
    imp = plans.impact(n)
    assert imp["staff_on_removed_grids"][0]["placed_in"] == [f"{G2}:worker"]
    assert [(m["id"], m["to"], m["assignee"]) for m in imp["incidents"]["moving"]] == [(inc.id, G2, "P5")]
    plans.publish(n, TODAY)
    roles = services.store.roles()
    assert team(roles, G3) == [] and ("worker", "P6") in team(roles, G2)


def test_undo_gives_back_the_teams(services, plans):
    n = plans.create().version
    plans.edit(n, "split", {"code": G1, "line": CUT})
    plans.edit(n, "staff", {"code": NEW1, "leader": "P4", "workers": ["P3"]})
    assert team(plans.teams.roster(n), NEW1) == [("instructor", "P2"), ("leader", "P4"), ("worker", "P3")]
    assert plans.undo(n)["undone"]["op"] == "staff"
    assert team(plans.teams.roster(n), NEW1) == [("instructor", "P2"), ("leader", "P1")]
    plans.undo(n)
    assert plans.repo.teams(n) == {} and NEW1 not in {r.unit_code for r in plans.teams.roster(n)}


def test_staff_refuses_unknown_people_and_non_grids(services, plans):
    n = plans.create().version
    with pytest.raises(InputError, match="P99"):
        plans.edit(n, "staff", {"code": G1, "leader": "P99"})
    with pytest.raises(InputError, match="zone"):
        plans.edit(n, "staff", {"code": ZONE, "leader": "P1"})
    with pytest.raises(InputError, match="give a leader"):
        plans.edit(n, "staff", {"code": G1})
    with pytest.raises(NotFound):
        plans.edit(n, "staff", {"code": "nope", "leader": "P1"})
    assert plans.repo.teams(n) == {} and plans.plan(n).rev == 0  # nothing written


def test_dropping_a_draft_drops_its_teams(services, plans):
    n = plans.create().version
    plans.edit(n, "staff", {"code": G3, "instructor": "P2", "workers": ["P5"]})
    plans.drop(n)
    with services.store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.plan_teams)).scalar() == 0


def test_api_staff_and_publish_refused_then_published(api, app):
    loop = app.extensions["gridmap"].incidents
    inc = loop.report({"category": "exposed_rubbish", "lon": 116.07, "lat": 39.05}).incident
    n = api("post", "/api/v1/plans", "/api/v1/plans", json={}).json["version"]
    edits = f"/api/v1/plans/{n}/edits"
    out = api("post", "/api/v1/plans/{version}/edits", edits, json={"op": "split", "code": G1, "line": CUT, "rev": 0})
    assert out.json["created"] == [NEW1]
    imp = api("get", "/api/v1/plans/{version}/impact", f"/api/v1/plans/{n}/impact").json
    assert [g["code"] for g in imp["staffing_gaps"]] == [NEW1] and "split" in imp["team_rule"]
    pub = f"/api/v1/plans/{n}/publish"
    r = api("post", "/api/v1/plans/{version}/publish", pub, json={"effective_from": TODAY.isoformat(), "rev": 1})
    assert r.status_code == 409 and r.json["title"] == "StaffingRefused" and r.json["gaps"][0]["code"] == NEW1
    assert "1+1+N" in r.json["detail"]
    r = api("post", "/api/v1/plans/{version}/publish", pub, json={"effective_from": TODAY.isoformat(), "force": True})
    assert r.status_code == 422 and "reason" in r.json["detail"]
    bad = api("post", "/api/v1/plans/{version}/edits", edits,
              json={"op": "staff", "code": NEW1, "workers": ["nobody"], "rev": {NEW1: 1}})
    assert bad.status_code == 422 and "nobody" in bad.json["detail"]
    assert api("post", "/api/v1/plans/{version}/edits", edits,
               json={"op": "staff", "code": NEW1, "workers": ["P5"], "rev": {}}).status_code == 422  # rev of NEW1
    ok = api("post", "/api/v1/plans/{version}/edits", edits,
             json={"op": "staff", "code": NEW1, "workers": ["P5"], "rev": {NEW1: 1}})
    assert ok.status_code == 200 and ok.json["team"]["worker"] == ["P5"] and ok.json["rev"] == 2
    r = api("post", "/api/v1/plans/{version}/publish", pub, json={"effective_from": TODAY.isoformat(), "rev": 2})
    assert r.status_code == 200, r.json
    assert [(m["id"], m["to"], m["assignee"]) for m in r.json["rerouted"]] == [(inc.id, NEW1, "P5")]


def test_cli_staff_and_publish(services, loop, tmp_path):
    loop.report({"category": "exposed_rubbish", "lon": 116.07, "lat": 39.05})
    db = services.settings.db
    run = CliRunner()

    def cli(*args):
        return run.invoke(main, ["--db", db, "plan", *args])

    cut = tmp_path / "cut.geojson"
    cut.write_text(json.dumps(CUT))
    assert cli("new").exit_code == 0
    assert f"created {NEW1}" in cli("split", "2", G1, "--line", str(cut)).output
    out = cli("impact", "2").output
    assert f"team incomplete: {NEW1} (new grid)" in out and "1 open incident(s): blocks publishing" in out
    r = cli("publish", "2", "--effective", TODAY.isoformat())
    assert r.exit_code == 1 and "lack a full team" in r.output and NEW1 in r.output
    r = cli("staff", "2", NEW1, "--worker", "P5", "--worker", "P3", "--rev", "1")
    assert r.exit_code == 0 and "workers P3, P5" in r.output, r.output
    r = cli("publish", "2", "--effective", TODAY.isoformat())
    assert r.exit_code == 0 and f"-> {NEW1}" in r.output, r.output
    assert sorted(x.person_id for x in services.store.roles(NEW1) if x.role == "worker") == ["P3", "P5"]
    assert Role("P3", NEW1, "worker") in services.store.roles(NEW1)


def test_units_below_a_parent(api, app):
    url = "/api/v1/plans/{version}/units"
    out = api("get", url, f"/api/v1/plans/1/units?parent={ZONE}").json
    assert sorted(f["id"] for f in out["features"]) == sorted(GRIDS)
    town = ZONE[:-3]
    out = api("get", url, f"/api/v1/plans/1/units?parent={town}&level=grid").json
    assert sorted(f["id"] for f in out["features"]) == sorted(GRIDS)
    out = api("get", url, f"/api/v1/plans/1/units?parent={G1}").json
    assert out["features"] == []
    assert api("get", url, "/api/v1/plans/1/units?parent=nope").status_code == 404


def test_a_plan_dated_later_brings_its_teams_on_the_day(services, plans, loop, tmp_path):
    loop.report({"category": "exposed_rubbish", "lon": 116.07, "lat": 39.05})
    n = plans.create().version
    plans.edit(n, "split", {"code": G1, "line": CUT})
    plans.edit(n, "staff", {"code": NEW1, "workers": ["P5"]})
    later = TODAY + dt.timedelta(days=3)
    pub = plans.publish(n, later)
    assert pub["roster_pending"] and pub["reroute_pending"]
    assert services.store.roles(NEW1) == []  # not yet
    assert plans.apply_due_teams(TODAY) == []
    assert plans.apply_due_teams(later) == [n]
    assert team(services.store.roles(), NEW1) == [("instructor", "P2"), ("leader", "P1"), ("worker", "P5")]
    assert plans.apply_due_teams(later) == []  # once
