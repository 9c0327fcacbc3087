"""Versioned plans: drafts, each edit keeping coverage exact, locking, undo, diff, impact, publish.

Both backends (the `services` fixture). The sample: three 0.1° squares side by side in one
zone, G1 [116.0,116.1], G2 [116.1,116.2], G3 [116.2,116.3] x [39.0,39.1], 100 households each.
"""

from __future__ import annotations

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

import pytest
import shapely
import sqlalchemy as sa

from gridmap.errors import Conflict, InputError, NotFound
from gridmap.geo.crs import area_perimeter_m
from gridmap.incidents.service import IncidentService
from gridmap.incidents.taxonomy import Taxonomy
from gridmap.incidents.workhours import WorkCalendar
from gridmap.plans import CoverageRefused
from gridmap.registry.model import Level
from gridmap.store import schema

from .conftest import GRIDS, ZONE

TZ = ZoneInfo("Asia/Shanghai")
G1, G2, G3 = GRIDS
NEW1, NEW2 = ZONE + "004", ZONE + "005"


def line(*xy):
    return {"type": "LineString", "coordinates": [list(p) for p in xy]}


def poly(x0, y0, x1, y1):
    return shapely.geometry.mapping(shapely.box(x0, y0, x1, y1))


def area(g) -> float:
    return 0.0 if g.is_empty else area_perimeter_m(g)[0]


@pytest.fixture
def loop(services):
    now = dt.datetime.now(TZ).replace(microsecond=0)
    return IncidentService(services, Taxonomy.load(), WorkCalendar(), clock=lambda: now)


@pytest.fixture
def plans(services, loop):
    services.incidents = loop  # the plan service re-routes through the Services' loop
    return services.plans


@pytest.fixture
def draft(plans):
    return plans.create(note="test", author="tester").version


def grids(services, plan):
    return {u.code: u for u in services.store.units(level=Level.grid, plan=plan)}


def assert_exact_coverage(before, after):
    """The union is unchanged and no two units overlap (geodesic m², float noise only)."""
    ub = shapely.union_all([u.geometry for u in before.values()])
    ua = shapely.union_all([u.geometry for u in after.values()])
    assert area(shapely.symmetric_difference(ub, ua)) < 1e-3
    for a, b in itertools.combinations(after.values(), 2):
        assert area(shapely.intersection(a.geometry, b.geometry)) < 1e-3, (a.code, b.code)


# -- drafts --------------------------------------------------------------------------------------
def test_draft_is_a_copy_and_the_published_plan_is_never_touched(services, plans, draft):
    assert draft == 2
    rec = plans.plan(draft)
    assert (rec.status, rec.base_version, rec.rev, rec.author) == ("draft", 1, 0, "tester")
    before = grids(services, 1)
    copy = grids(services, draft)
    assert sorted(copy) == sorted(before)
    assert all(shapely.equals_exact(copy[c].geometry, before[c].geometry, 0) for c in copy)
    _, with_revs = plans.units(draft, Level.grid)
    assert {rev for _, rev in with_revs} == {1}
    plans.edit(draft, "split", {"code": G1, "parts": 2})
    assert grids(services, 1).keys() == before.keys()  # the published plan is as it was
    assert shapely.equals_exact(grids(services, 1)[G1].geometry, before[G1].geometry, 0)
    assert services.store.current_plan() == 1
    assert [p.version for p in plans.plans()] == [1, 2]
    plans.drop(draft)
    assert [p.version for p in plans.plans()] == [1]
    with pytest.raises(Conflict, match="published"):
        plans.drop(1)
    with pytest.raises(NotFound):
        plans.plan(draft)


# -- edits keep coverage exact ------------------------------------------------------------------
def test_split_by_line(services, plans, draft):
    before = grids(services, draft)
    out = plans.edit(draft, "split", {"code": G1, "line": line((116.04, 38.9), (116.06, 39.2))})
    assert out["created"] == [NEW1] and out["changed"] == [G1] and out["rev"] == 1
    after = grids(services, draft)
    assert_exact_coverage(before, after)
    assert area(shapely.union(after[G1].geometry, after[NEW1].geometry)) == pytest.approx(area(before[G1].geometry))
    assert after[G1].households + after[NEW1].households == 100  # by area share, total kept
    assert out["revs"] == {G1: 2, NEW1: 1}
    if services.store.backend == "postgresql":  # the generated PostGIS column follows new rows
        with services.store.engine.connect() as conn:
            same = conn.execute(sa.text("SELECT ST_Equals(geom, ST_GeomFromWKB(geom_wkb, 4326)) AND "
                                        "ST_SRID(geom) = 4326 FROM units WHERE plan = :p AND code = :c"),
                                {"p": draft, "c": NEW1}).scalar()
        assert same is True


def test_split_line_must_cross_the_grid(plans, draft, services):
    with pytest.raises(InputError, match="does not cross"):
        plans.edit(draft, "split", {"code": G1, "line": line((117.0, 38.0), (117.1, 38.5))})
    with pytest.raises(InputError, match="edge to edge"):  # ends inside the grid
        plans.edit(draft, "split", {"code": G1, "line": line((116.05, 38.9), (116.05, 39.05))})
    assert plans.plan(draft).rev == 0 and plans.repo.edits(draft) == []


def test_split_into_equal_parts(services, plans, draft):
    before = grids(services, draft)
    out = plans.edit(draft, "split", {"code": G3, "parts": 3})
    assert out["created"] == [NEW1, NEW2]
    after = grids(services, draft)
    assert_exact_coverage(before, after)
    areas = [area(after[c].geometry) for c in (G3, NEW1, NEW2)]
    assert max(areas) / min(areas) < 1.001
    assert after[G3].geometry.bounds[0] == pytest.approx(116.2)  # the west strip keeps the code
    assert sum(after[c].households for c in (G3, NEW1, NEW2)) == 100


def test_merge_adjacent_and_refuse_apart(services, plans, draft):
    with pytest.raises(InputError, match="share an edge"):
        plans.edit(draft, "merge", {"codes": [G1, G3]})
    before = grids(services, draft)
    out = plans.edit(draft, "merge", {"codes": [G2, G3]})
    assert out["removed"] == [G3] and out["changed"] == [G2]
    after = grids(services, draft)
    assert sorted(after) == [G1, G2]
    assert_exact_coverage(before, after)
    assert after[G2].households == 200 and after[G2].geometry.geom_type == "Polygon"


def test_reshape_moves_the_shared_boundary_on_both_sides(services, plans, draft):
    before = grids(services, draft)
    # G2 takes 116.08-116.1 from G1 and gives up 116.18-116.2 to G3
    out = plans.edit(draft, "reshape", {"code": G2, "geometry": poly(116.08, 39.0, 116.18, 39.1)})
    assert out["changed"] == [G1, G2, G3]
    after = grids(services, draft)
    assert_exact_coverage(before, after)
    assert shapely.equals(after[G1].geometry.normalize(), shapely.box(116.0, 39.0, 116.08, 39.1).normalize())
    assert area(shapely.symmetric_difference(after[G3].geometry, shapely.box(116.18, 39.0, 116.3, 39.1))) < 1e-3
    # an outline drawn along G1's edge, a hair off in floating point, moves only the G2/G3 edge
    out = plans.edit(draft, "reshape", {"code": G2, "geometry": poly(116.08 - 1e-13, 39.0, 116.19, 39.1),
                                        "neighbour": G3})
    assert set(out["changed"]) >= {G2, G3}
    assert_exact_coverage(before, grids(services, draft))
    # with a named neighbour, taking from another grid is refused
    with pytest.raises(InputError, match="also takes area"):
        plans.edit(draft, "reshape", {"code": G2, "geometry": poly(116.05, 39.0, 116.25, 39.1), "neighbour": G3})


def test_self_intersecting_shape_is_refused_or_repaired(services, plans, draft):
    bowtie = {"type": "Polygon", "coordinates": [[[116.09, 39.0], [116.19, 39.1], [116.19, 39.0],
                                                  [116.09, 39.1], [116.09, 39.0]]]}
    with pytest.raises(InputError, match="self-intersection at lon 116.14"):
        plans.edit(draft, "reshape", {"code": G2, "geometry": bowtie})
    # a ring with a spike (a slip of the mouse): refused, or repaired to the box 116.05-116.15
    spike = {"type": "Polygon", "coordinates": [[[116.05, 39.0], [116.15, 39.0], [116.15, 39.1], [116.05, 39.1],
                                                 [116.05, 39.05], [116.04, 39.05], [116.05, 39.05], [116.05, 39.0]]]}
    with pytest.raises(InputError, match="invalid: self-intersection at lon 116.04"):
        plans.edit(draft, "move", {"from": G2, "to": G1, "area": spike})
    before = grids(services, draft)
    plans.edit(draft, "move", {"from": G2, "to": G1, "area": spike, "repair": True})
    after = grids(services, draft)
    assert_exact_coverage(before, after)
    assert area(after[G2].geometry) == pytest.approx(area(shapely.box(116.15, 39.0, 116.2, 39.1)), rel=1e-9)


def test_move_area_and_points(services, plans, draft):
    before = grids(services, draft)
    out = plans.edit(draft, "move", {"from": G2, "to": G1, "area": poly(116.05, 39.05, 116.12, 39.2)})
    assert out["changed"] == [G1, G2]
    after = grids(services, draft)
    assert_exact_coverage(before, after)
    moved = shapely.box(116.1, 39.05, 116.12, 39.1)
    # planar (deg²): G1's top edge is one straight edge now (the collinear corner at 116.1 is
    # normalised away), and a geodesic area would count that as a change of 0.05 %
    assert after[G1].geometry.area - before[G1].geometry.area == pytest.approx(moved.area, rel=1e-6)
    with pytest.raises(InputError, match="does not touch"):
        plans.edit(draft, "move", {"from": G3, "to": G1, "area": poly(116.25, 39.0, 116.3, 39.1)})
    out = plans.edit(draft, "move", {"from": G3, "to": G2, "points": [[116.21, 39.02], [116.22, 39.03]]})
    last = grids(services, draft)
    assert_exact_coverage(before, last)
    assert all(last[G2].geometry.covers(shapely.Point(p)) for p in [(116.21, 39.02), (116.22, 39.03)])
    assert (last[G3].households, last[G2].households) == (after[G3].households - 2, after[G2].households + 2)
    with pytest.raises(InputError, match="not in"):
        plans.edit(draft, "move", {"from": G3, "to": G2, "points": [[116.01, 39.02]]})


def test_snap_closes_a_digitising_gap(services, plans, draft):
    clean = plans.edit(draft, "snap", {"tolerance_m": 5.0})  # exact neighbours: nothing to snap
    assert clean["changed"] == [] and clean["rev"] == 0 and plans.repo.edits(draft) == []
    # digitised apart: G1 stops ~0.4 m short of G2 (its east edge at 116.099995)
    g1 = grids(services, draft)[G1]
    from dataclasses import replace
    shrunk = replace(g1, geometry=shapely.box(116.0, 39.0, 116.099995, 39.1))
    plans.repo.apply_edit(draft, "import", {}, [shrunk], [], {G1: 1})
    gap = shapely.difference(shapely.box(*[116.0, 39.0, 116.3, 39.1]),
                             shapely.union_all([u.geometry for u in grids(services, draft).values()]))
    assert area(gap) > 1000  # a 0.4 m x 11 km sliver
    assert plans.coverage(draft)[0]["kind"] == "gap"
    out = plans.edit(draft, "snap", {"tolerance_m": 1.0})
    assert out["changed"] and set(out["changed"]) <= {G1, G2}  # G3 was clean: left exactly as it was
    after = grids(services, draft)
    union = shapely.union_all([u.geometry for u in after.values()])
    assert area(shapely.symmetric_difference(union, shapely.box(116.0, 39.0, 116.3, 39.1))) < 1e-3
    for a, b in itertools.combinations(after.values(), 2):
        assert area(shapely.intersection(a.geometry, b.geometry)) < 1e-3
    assert plans.coverage(draft) == []


# -- optimistic locking and undo ----------------------------------------------------------------
def test_stale_revision_is_a_conflict_and_nothing_is_written(services, plans, draft):
    _, loaded = plans.units(draft, Level.grid)
    revs = {u.code: r for u, r in loaded}  # planner B loads the draft
    plans.edit(draft, "split", {"code": G2, "parts": 2}, rev=dict(revs))  # planner A edits G2
    snapshot = grids(services, draft)
    with pytest.raises(Conflict, match=f"unit {G2} was changed"):
        plans.edit(draft, "reshape", {"code": G2, "geometry": poly(116.05, 39.0, 116.15, 39.1)}, rev=revs)
    with pytest.raises(Conflict, match="rev 1, you had 0"):
        plans.edit(draft, "merge", {"codes": [G1, G2]}, rev=0)  # a whole-draft revision
    after = grids(services, draft)
    assert sorted(after) == sorted(snapshot)
    assert all(shapely.equals_exact(after[c].geometry, snapshot[c].geometry, 0) for c in after)
    assert len(plans.repo.edits(draft)) == 1 and plans.plan(draft).rev == 1
    # the store checks again inside its transaction (a planner racing between read and write)
    with pytest.raises(Conflict, match=G1):
        plans.repo.apply_edit(draft, "x", {}, [snapshot[G1]], [], {G1: 99})
    # an edit of a grid B did not touch goes through with B's revisions
    plans.edit(draft, "split", {"code": G3, "parts": 2}, rev={G3: revs[G3]})


def test_undo_restores_the_draft(services, plans, draft):
    before = grids(services, draft)
    plans.edit(draft, "merge", {"codes": [G1, G2]})
    plans.edit(draft, "split", {"code": G1, "parts": 2})
    assert len(grids(services, draft)) == 3 and plans.plan(draft).edits == 2
    out = plans.undo(draft)
    assert out["undone"]["op"] == "split" and out["rev"] == 3
    plans.undo(draft, rev=3)
    after = grids(services, draft)
    assert sorted(after) == sorted(before)
    assert all(shapely.equals_exact(after[c].geometry, before[c].geometry, 0) for c in after)
    assert after[G1].households == 100
    revs = plans.repo.unit_revs(draft)
    assert revs[G2] > 1  # restored units move on, so a planner holding the undone state conflicts
    with pytest.raises(InputError, match="no edits"):
        plans.undo(draft)


# -- diff, impact, publish ----------------------------------------------------------------------
def known_change(plans, draft):
    """Split G1 at 116.05 (G1 keeps the west half, NEW1 the east) and merge G3 into G2."""
    plans.edit(draft, "split", {"code": G1, "line": line((116.05, 38.9), (116.05, 39.2))})
    plans.edit(draft, "merge", {"codes": [G2, G3]})


def test_diff_of_a_known_change(services, plans, draft):
    known_change(plans, draft)
    d = plans.diff(1, draft)
    assert [a["code"] for a in d["added"]] == [NEW1]
    assert d["added"][0]["from"] == [{"code": G1, "area_m2": pytest.approx(area(shapely.box(116.05, 39, 116.1, 39.1)), rel=1e-6)}]
    assert [r["code"] for r in d["removed"]] == [G3] and d["removed"][0]["to"][0]["code"] == G2
    reshaped = {r["code"]: r for r in d["reshaped"]}
    assert sorted(reshaped) == [G1, G2]
    assert reshaped[G1]["area_change_m2"] == pytest.approx(-area(shapely.box(116.05, 39, 116.1, 39.1)), rel=1e-6)
    assert reshaped[G2]["area_change_m2"] == pytest.approx(area(shapely.box(116.2, 39, 116.3, 39.1)), rel=1e-6)
    assert d["unchanged"] == [] and d["renamed"] == []
    assert d["summary"] == {"added": 1, "removed": 1, "reshaped": 2, "renamed": 0, "unchanged": 0}
    plans.edit(draft, "rename", {"code": NEW1, "name": "第4网格"})
    assert plans.diff(1, draft)["renamed"] == []  # a new grid is added, not renamed
    plans.edit(draft, "rename", {"code": G1, "name": "西网格"})
    d = plans.diff(1, draft)
    assert d["renamed"] == [{"code": G1, "name_before": "第1网格", "name_after": "西网格"}]
    assert G1 in {r["code"] for r in d["reshaped"]} and d["added"][0]["name"] == "第4网格"


def test_impact_of_a_known_change(services, plans, draft, loop):
    inc = loop.report({"category": "exposed_rubbish", "lon": 116.25, "lat": 39.05}).incident
    stays = loop.report({"category": "exposed_rubbish", "lon": 116.02, "lat": 39.05}).incident
    known_change(plans, draft)
    imp = plans.impact(draft)
    assert imp["against"] == 1
    assert imp["households"]["households"] == 150  # half of G1's 100 to NEW1, all of G3's 100 to G2
    assert {(f["from"], f["to"]) for f in imp["households"]["flows"]} == {(G1, NEW1), (G3, G2)}
    assert imp["incidents"]["open"] == 2
    assert [(m["id"], m["from"], m["to"]) for m in imp["incidents"]["moving"]] == [(inc.id, G3, G2)]
    assert stays.id not in {m["id"] for m in imp["incidents"]["moving"]}
    # offered to the successor G2, placed nowhere yet (the merged G2 keeps its own leader P4)
    assert imp["staff_on_removed_grids"] == [{"person_id": "P6", "name": "杨磊", "unit_code": G3, "role": "leader",
                                              "successors": [G2], "placed_in": []}]
    assert [(t["code"], t["new_grid"]) for t in imp["teams"]] == [(NEW1, True)]  # inherited P1, P2 but no worker
    assert imp["coverage"] == []
    assert loop.repo.get(inc.id).grid_code == G3  # impact writes nothing


def test_publish_reroutes_open_incidents_and_keeps_codes(services, plans, draft, loop):
    inc = loop.report({"category": "exposed_rubbish", "lon": 116.25, "lat": 39.05}).incident
    known_change(plans, draft)
    out = plans.publish(draft, dt.datetime.now(TZ).date(), author="chief")
    assert out["in_force"] and not out["forced"] and out["replaces"] == 1
    assert [(r["id"], r["from"], r["to"]) for r in out["rerouted"]] == [(inc.id, G3, G2)]
    assert services.store.current_plan() == draft and services.plan == draft
    moved = loop.repo.get(inc.id)
    assert (moved.grid_code, moved.plan) == (G2, draft)
    ev = loop.repo.events(inc.id)[-1]
    assert ev.action == "reroute" and ev.data["from"] == G3 and ev.data["to"] == G2
    assert sorted(grids(services, draft)) == [G1, G2, NEW1]  # G1 and G2 keep their codes
    assert services.locate(116.02, 39.05).grid == G1 and services.locate(116.07, 39.05).grid == NEW1
    assert out["staff_on_removed_grids"][0]["unit_code"] == G3
    rec = plans.plan(draft)
    assert rec.status == "published" and rec.published_at is not None
    with pytest.raises(Conflict, match="published"):
        plans.edit(draft, "split", {"code": G1, "parts": 2})


def test_unchanged_grids_keep_codes_and_shapes_after_publish(services, plans, draft):
    plans.edit(draft, "split", {"code": G1, "parts": 2})
    d = plans.diff(1, draft)
    assert d["unchanged"] == [G2, G3]
    plans.publish(draft, dt.datetime.now(TZ).date())
    old, new = grids(services, 1), grids(services, draft)
    for c in (G2, G3):
        assert shapely.equals_exact(old[c].geometry, new[c].geometry, 0)


def test_publish_refuses_a_draft_edited_after_its_impact_was_reviewed(services, plans, draft):
    plans.edit(draft, "split", {"code": G1, "parts": 2})
    reviewed = plans.impact(draft)["rev"]
    assert reviewed == plans.plan(draft).rev == 1
    plans.edit(draft, "merge", {"codes": [G2, G3]})  # another planner, after the review
    today = dt.datetime.now(TZ).date()
    with pytest.raises(Conflict, match="edited since you reviewed it"):
        plans.publish(draft, today, rev=reviewed)
    assert plans.plan(draft).status == "draft" and services.store.current_plan() == 1
    out = plans.publish(draft, today, rev=plans.impact(draft)["rev"])  # reviewed again: it goes through
    assert out["plan"] == draft and services.store.current_plan() == draft


def test_publish_with_a_gap_is_refused_unless_forced(services, plans, draft):
    g1 = grids(services, draft)[G1]
    from dataclasses import replace
    plans.repo.apply_edit(draft, "test", {}, [replace(g1, geometry=shapely.box(116.0, 39.0, 116.09, 39.1))], [], {G1: 1})
    today = dt.datetime.now(TZ).date()
    with pytest.raises(CoverageRefused) as err:
        plans.publish(draft, today)
    assert err.value.http_status == 409 and [p["kind"] for p in err.value.problems] == ["gap"]
    assert err.value.problems[0]["area_m2"] == pytest.approx(area(shapely.box(116.09, 39, 116.1, 39.1)), rel=1e-3)
    assert "gap" in str(err.value) and plans.plan(draft).status == "draft"
    assert services.store.current_plan() == 1
    out = plans.publish(draft, today, force=True)
    assert out["forced"] and services.store.current_plan() == draft


def test_publish_is_atomic(services, plans, draft, loop, monkeypatch):
    inc = loop.report({"category": "exposed_rubbish", "lon": 116.25, "lat": 39.05}).incident
    known_change(plans, draft)
    import gridmap.store.plans as store_plans

    real = store_plans.event_to_row
    # the audit insert fails on its foreign key after the plan row and the incident were updated
    monkeypatch.setattr(store_plans, "event_to_row", lambda e, i: {**real(e, i), "incident_id": 987654})
    with pytest.raises(Conflict, match="nothing changed"):
        plans.publish(draft, dt.datetime.now(TZ).date())
    assert services.store.current_plan() == 1 and plans.plan(draft).status == "draft"
    kept = loop.repo.get(inc.id)
    assert (kept.grid_code, kept.plan, kept.version) == (G3, 1, inc.version)
    assert [e.action for e in loop.repo.events(inc.id)] == ["report"]
    monkeypatch.undo()
    plans.publish(draft, dt.datetime.now(TZ).date())  # and it goes through once the fault is gone
    assert loop.repo.get(inc.id).grid_code == G2


def backdate_plan_1(services, day: dt.date) -> None:
    with services.store.engine.begin() as conn:
        conn.execute(schema.plans.update().where(schema.plans.c.version == 1).values(effective_from=day))
    services.refresh()


def test_plan_at_past_dates_and_locate_at(services, plans, draft):
    backdate_plan_1(services, dt.date(2025, 1, 1))
    plans.edit(draft, "merge", {"codes": [G2, G3]})
    plans.publish(draft, dt.date(2025, 6, 1))
    assert services.plan_at(dt.date(2024, 12, 31)) is None
    assert services.plan_at(dt.date(2025, 1, 1)) == 1 and services.plan_at(dt.date(2025, 5, 31)) == 1
    assert services.plan_at(dt.date(2025, 6, 1)) == draft and services.store.current_plan() == draft
    assert services.locate(116.25, 39.05, at=dt.date(2025, 3, 1)).grid == G3
    assert services.locate(116.25, 39.05).grid == G2
    with pytest.raises(NotFound, match="no grid plan"):
        services.locate(116.25, 39.05, at=dt.date(2020, 1, 1))
    # a plan published for a later date is not in force yet
    nxt = plans.create().version
    plans.edit(nxt, "split", {"code": G1, "parts": 2})
    later = dt.datetime.now(TZ).date() + dt.timedelta(days=30)
    out = plans.publish(nxt, later)
    assert not out["in_force"] and out["reroute_pending"]
    assert services.store.current_plan() == draft and services.plan_at(later) == nxt
    with pytest.raises(InputError, match="before plan"):
        plans.publish(plans.create().version, dt.date(2025, 7, 1))


def test_incident_reported_in_the_past_is_assigned_under_the_plan_then(services, plans, draft, loop):
    backdate_plan_1(services, dt.date(2025, 1, 1))
    plans.edit(draft, "merge", {"codes": [G2, G3]})
    plans.publish(draft, dt.date(2025, 6, 1))
    old = loop.report({"category": "exposed_rubbish", "lon": 116.25, "lat": 39.05,
                       "reported_at": "2025-03-01T10:00:00+08:00"}).incident
    assert (old.grid_code, old.plan) == (G3, 1)
    new = loop.report({"category": "exposed_rubbish", "lon": 116.25, "lat": 39.06}).incident
    assert (new.grid_code, new.plan) == (G2, draft)


def test_draft_from_an_outdated_base_cannot_be_published(services, plans):
    a, b = plans.create().version, plans.create().version
    plans.edit(a, "split", {"code": G1, "parts": 2})
    plans.publish(a, dt.datetime.now(TZ).date())
    with pytest.raises(Conflict, match="copied from plan 1"):
        plans.publish(b, dt.datetime.now(TZ).date())
    # the store checks again inside the publish transaction (two publishes racing)
    with pytest.raises(Conflict, match=f"plan {a} was published"):
        plans.repo.publish(b, dt.datetime.now(TZ).date(), None, replaces=1)
    assert plans.plan(b).status == "draft"


def test_migration_0003_upgrades_a_store_with_data(db_url):
    """A store made at revision 0002 (plans and units, no revisions) migrates in place, geometry intact."""
    from pathlib import Path

    from alembic import command
    from alembic.config import Config

    import gridmap.store
    from gridmap.store import normalise_url, open_store

    engine = sa.create_engine(normalise_url(db_url))
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(gridmap.store.__file__).parent / "migrations"))
    box = shapely.box(116.0, 39.0, 116.1, 39.1)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002")
        conn.execute(sa.text("INSERT INTO plans (version, status, effective_from, created_at, note) "
                             "VALUES (1, 'published', :d, :t, 'old')"),
                     {"d": dt.date(2025, 1, 1), "t": dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)})
        conn.execute(sa.text("INSERT INTO units (plan, code, name, level, parent_code, geom_wkb, minx, miny, maxx, maxy)"
                             " VALUES (1, :c, 'g', 'grid', NULL, :w, 116.0, 39.0, 116.1, 39.1)"),
                     {"c": G1, "w": shapely.to_wkb(box)})
    engine.dispose()
    store = open_store(db_url)  # migrates to the head revision
    try:
        from gridmap.store.sql import HEAD_REVISION

        assert store.info().schema_revision == HEAD_REVISION
        assert store.current_plan() == 1 and store.plans.unit_revs(1) == {G1: 1}
        rec = store.plans.get(1)
        assert rec.published_at is not None and rec.rev == 0 and rec.effective_from == dt.date(2025, 1, 1)
        draft = store.plans.create_draft(1, "after migration", None)
        assert shapely.equals_exact(store.unit(G1, plan=draft).geometry, box, 0)
        if store.backend == "postgresql":  # the generated geometry column fills for the copied rows
            with store.engine.connect() as conn:
                n = conn.execute(sa.text("SELECT count(*) FROM units WHERE plan = :p AND "
                                         "ST_Covers(geom, ST_SetSRID(ST_MakePoint(116.05, 39.05), 4326))"),
                                 {"p": draft}).scalar()
            assert n == 1
    finally:
        store.close()


def test_another_process_picks_up_a_published_plan(services, plans, draft):
    """A second Services on the same store (another web worker) moves to the new plan within PLAN_CHECK_S."""
    from gridmap.services import Services
    from gridmap.settings import Settings

    other = Services.open(Settings(db=services.settings.db))
    try:
        assert other.locate(116.25, 39.05).grid == G3 and other.plan == 1
        plans.edit(draft, "merge", {"codes": [G2, G3]})
        plans.publish(draft, dt.datetime.now(TZ).date())
        assert other.plan == 1  # until its next look
        other._check_at = 0.0  # PLAN_CHECK_S later
        assert other.locate(116.25, 39.05).grid == G2 and other.plan == draft
    finally:
        other.store.close()
