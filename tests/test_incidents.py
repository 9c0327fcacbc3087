"""The incident loop as a service: routing, roster, every transition, supervision, duplicates, re-routing."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import shapely

from gridmap.errors import Conflict, Forbidden, InputError, NotFound
from gridmap.hashing import hash_secret
from gridmap.incidents.actors import PUBLIC, Actor
from gridmap.incidents.model import STATUSES
from gridmap.incidents.service import IncidentService
from gridmap.incidents.taxonomy import Taxonomy
from gridmap.incidents.workflow import ACTIONS, allowed_actions
from gridmap.incidents.workhours import WorkCalendar
from gridmap.registry.model import Level, Unit

from .conftest import GRIDS, TOWN, ZONE

TZ = ZoneInfo("Asia/Shanghai")
DISPATCHER = Actor("disp", "dispatcher")


class Clock:
    """A settable clock: Monday 2026-03-02 09:00 Beijing time."""

    def __init__(self):
        self.now = dt.datetime(2026, 3, 2, 9, 0, tzinfo=TZ)

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def loop(services, clock):
    return IncidentService(services, Taxonomy.load(), WorkCalendar(), clock=clock)


def report(loop, lon=116.15, lat=39.05, category="exposed_rubbish", **kw):
    return loop.report({"category": category, "lon": lon, "lat": lat, "description": "垃圾", **kw})


# -- assignment and routing --------------------------------------------------------------------
def test_inside_grid_routes_to_worker_and_tells_leader(loop):
    f = report(loop, reporter_name="王五", reporter_phone="13900000000")
    inc = f.incident
    assert (inc.grid_code, inc.zone_code, inc.town_code, inc.assignment) == (GRIDS[1], ZONE, TOWN, "inside")
    assert inc.status == "reported" and inc.plan == 1
    assert inc.assignee == "P5" and f.notified == ["P4"]  # worker P5; leader P4 is told
    events = loop.repo.events(inc.id)
    assert [(e.action, e.to_status) for e in events] == [("report", "reported")]
    assert events[0].data["notified"] == ["P4"]
    assert f.reporter_token and loop.repo.reporter_token(inc.id) == hash_secret(f.reporter_token) != f.reporter_token


def test_roster_on_duty_wins(loop, clock):
    # P4 (the leader) is on duty for grid 2 this morning: the incident goes to P4
    loop.repo.add_shift(GRIDS[1], "P4", clock.now - dt.timedelta(hours=1), clock.now + dt.timedelta(hours=3))
    assert report(loop).incident.assignee == "P4"
    # after the shift, back to the worker
    clock.now += dt.timedelta(hours=4)
    assert report(loop, lon=116.16).incident.assignee == "P5"


def test_grid_without_workers_falls_back_to_leader(loop):
    assert report(loop, lon=116.25).incident.assignee == "P6"  # grid 3 has only a leader


def test_outside_nearby_goes_to_nearest_grid_flagged(loop):
    inc = report(loop, lat=38.9995).incident  # ~55 m south of grid 2
    assert inc.grid_code == GRIDS[1] and inc.assignment == "nearest" and 50 < inc.distance_m < 60


def test_outside_far_and_outside_the_county_is_refused(loop):
    # ~1.1 km south: beyond nearest_assign_m (200 m) and, the sample county being the grids' box,
    # beyond jurisdiction_tolerance_m (500 m) of the county: refused. The town queue (a point in the
    # county but far from every grid) is tested in test_jurisdiction.py over a wider county.
    with pytest.raises(InputError, match="不在"):
        report(loop, lat=38.99)
    assert loop.repo.query() == []


def test_outside_far_but_within_the_county_tolerance_goes_to_town_queue(loop):
    inc = report(loop, lat=38.997).incident  # ~330 m south: beyond 200 m, within the county's 500 m
    assert inc.grid_code is None and inc.assignment == "town_queue" and inc.town_code == TOWN
    assert inc.assignee is None


def test_severe_report_escalates_to_zone(loop):
    inc = report(loop, severity=3).incident
    assert inc.handling_level == "zone" and inc.escalated
    assert inc.assignee == "P8"  # zone director


def test_component_goes_to_its_owner_department(loop):
    inc = report(loop, category="manhole_cover").incident
    assert inc.handling_level == "department" and inc.department == "市政公用事业中心"
    assert inc.assignee is None and inc.grid_code == GRIDS[1]


def test_gcj02_report_lands_in_the_right_grid(loop):
    from gridmap.geo.chinacrs import wgs84_to_gcj02

    glon, glat = wgs84_to_gcj02(116.1995, 39.05)  # WGS84 point 40 m inside grid 2
    inc = loop.report({"category": "exposed_rubbish", "lon": float(glon), "lat": float(glat), "crs": "GCJ-02"}).incident
    assert inc.grid_code == GRIDS[1] and abs(inc.lon - 116.1995) < 1e-7


# -- the closed loop ---------------------------------------------------------------------------
def walk(loop, inc_id, *actions, **data):
    inc = None
    for a in actions:
        note = "reason" if ACTIONS[a].needs_note else ""
        inc = loop.act(inc_id, a, DISPATCHER, note=note, data=data.get(a))
    return inc


def test_full_loop_with_rework_and_reopen(loop, clock):
    f = report(loop)
    i = f.incident.id
    walk(loop, i, "file")
    inc = walk(loop, i, "dispatch")
    # exposed rubbish: 4 working hours from Monday 09:00 -> 08:30-12:00 gives 3h, 13:30+1h = 14:30
    assert inc.due_at.astimezone(TZ) == dt.datetime(2026, 3, 2, 14, 30, tzinfo=TZ)
    inc = walk(loop, i, "start", "handle", "rework", "handle", "verify", "close")
    assert inc.status == "closed" and inc.rework_count == 1 and inc.closed_at == clock.now
    inc = loop.act(i, "rate", PUBLIC, data={"rating": 4, "reporter_token": f.reporter_token})
    assert inc.rating == 4
    inc = loop.act(i, "reopen", PUBLIC, note="又堆满了", data={"reporter_token": f.reporter_token})
    assert inc.status == "dispatched" and inc.reopen_count == 1 and inc.closed_at is None
    log = [(e.action, e.from_status, e.to_status, e.actor) for e in loop.repo.events(i)]
    assert log[1:] == [
        ("file", "reported", "filed", "disp"), ("dispatch", "filed", "dispatched", "disp"),
        ("start", "dispatched", "in_progress", "disp"), ("handle", "in_progress", "handled", "disp"),
        ("rework", "handled", "in_progress", "disp"), ("handle", "in_progress", "handled", "disp"),
        ("verify", "handled", "verified", "disp"), ("close", "verified", "closed", "disp"),
        ("rate", "closed", "closed", "public"), ("reopen", "closed", "dispatched", "public"),
    ]
    assert inc.version == len(log)  # one version per change: the audit log matches the state


# how to bring an incident to each status, from "reported"
PATHS = {
    "reported": [], "filed": ["file"], "rejected": ["reject"], "dispatched": ["file", "dispatch"],
    "in_progress": ["file", "dispatch", "start"], "handled": ["file", "dispatch", "start", "handle"],
    "verified": ["file", "dispatch", "start", "handle", "verify"],
    "closed": ["file", "dispatch", "start", "handle", "verify", "close"],
}


@pytest.mark.parametrize("status", list(PATHS))
def test_every_refused_transition_is_409_and_changes_nothing(loop, status):
    i = report(loop).incident.id
    walk(loop, i, *PATHS[status])
    before = loop.repo.get(i)
    n_events = len(loop.repo.events(i))
    refused = [a for a in ACTIONS if a not in allowed_actions(status)]
    assert refused
    for action in refused:
        with pytest.raises(Conflict, match=f"cannot {action} an incident that is {status}"):
            loop.act(i, action, DISPATCHER, note="x", data={"rating": 3, "into": "1", "hours": 1})
    after = loop.repo.get(i)
    assert (after.status, after.version) == (before.status, before.version)
    assert len(loop.repo.events(i)) == n_events


def test_every_status_is_reachable():
    reachable = {"reported"} | {a.target for a in ACTIONS.values() if a.target}
    assert reachable | {"merged"} == set(STATUSES)


def test_stale_version_is_refused(loop):
    i = report(loop).incident.id
    loop.act(i, "file", DISPATCHER, version=1)
    with pytest.raises(Conflict, match="version 2, you sent 1"):
        loop.act(i, "dispatch", DISPATCHER, version=1)


def test_reason_required(loop):
    i = report(loop).incident.id
    with pytest.raises(InputError, match="reason is required"):
        loop.act(i, "reject", DISPATCHER)
    assert loop.repo.get(i).status == "reported"


def test_transfer_records_reason_and_reroutes(loop):
    i = report(loop).incident.id
    walk(loop, i, "file", "dispatch")
    inc = loop.act(i, "transfer", DISPATCHER, note="属于第1网格", data={"grid_code": GRIDS[0]})
    assert inc.grid_code == GRIDS[0] and inc.assignee == "P3" and inc.status == "dispatched"
    ev = loop.repo.events(i)[-1]
    assert ev.action == "transfer" and ev.note == "属于第1网格"
    with pytest.raises(InputError, match="not a grid"):
        loop.act(i, "transfer", DISPATCHER, note="x", data={"grid_code": "nope"})


def test_escalate_to_department_by_dispatcher(loop):
    i = report(loop).incident.id
    walk(loop, i, "file")
    inc = loop.act(i, "escalate", DISPATCHER, data={"level": "department"})
    assert inc.handling_level == "department" and inc.escalated and inc.department == "城管局"


def test_extend_moves_deadline_and_counts_as_extension(loop):
    i = report(loop).incident.id
    inc = walk(loop, i, "file", "dispatch")
    due = inc.due_at
    inc = loop.act(i, "extend", DISPATCHER, note="需要吊车", data={"hours": 2})
    assert inc.extended and inc.due_at.astimezone(TZ) == dt.datetime(2026, 3, 2, 16, 30, tzinfo=TZ) > due


# -- supervision -------------------------------------------------------------------------------
def test_overdue_incident_is_escalated_once(loop, clock):
    i = report(loop).incident.id
    walk(loop, i, "file", "dispatch")  # due 14:30
    clock.now = dt.datetime(2026, 3, 2, 14, 0, tzinfo=TZ)
    assert loop.supervise() == []
    clock.now = dt.datetime(2026, 3, 2, 15, 0, tzinfo=TZ)
    assert [x.id for x in loop.supervise()] == [i]
    assert loop.supervise() == []  # not twice
    inc = loop.repo.get(i)
    assert inc.escalated and loop.repo.events(i)[-1].action == "overdue"


# -- duplicates --------------------------------------------------------------------------------
def test_duplicate_offered_and_merge_keeps_both_reporters(loop, clock):
    first = report(loop).incident
    clock.now += dt.timedelta(hours=1)
    near = report(loop, lon=116.1502)  # ~17 m away, same category, within the 50 m radius
    far = report(loop, lon=116.16)  # ~860 m away
    other = report(loop, lon=116.1502, category="illegal_parking")
    assert [d.id for d in near.duplicates] == [first.id]
    assert far.duplicates == [] and other.duplicates == []
    merged = loop.act(near.incident.id, "merge", DISPATCHER, data={"into": first.id})
    assert merged.status == "merged" and merged.merged_into == first.id
    target = loop.repo.get(first.id)
    assert target.extra["merged_reports"] == [near.incident.id]
    assert loop.repo.events(first.id)[-1].action == "merged_from"


def test_duplicate_window_passes(loop, clock):
    report(loop)
    clock.now += dt.timedelta(days=10)
    assert report(loop).duplicates == []


# -- plan change -------------------------------------------------------------------------------
def test_reroute_open_incidents_after_plan_change_closed_stay(loop, services):
    open_inc = report(loop, lon=116.19).incident  # grid 2 today
    closed = report(loop, lon=116.191).incident
    walk(loop, closed.id, "file", "dispatch", "start", "handle", "verify", "close")
    # planners move the grid 2 / grid 3 boundary west to 116.18
    services.store.add_units([
        Unit(GRIDS[1], "第2网格", Level.grid, shapely.box(116.1, 39.0, 116.18, 39.1), ZONE),
        Unit(GRIDS[2], "第3网格", Level.grid, shapely.box(116.18, 39.0, 116.3, 39.1), ZONE),
    ], replace=True)
    moved = loop.reroute_open()
    assert [(m.id, old) for m, old in moved] == [(open_inc.id, GRIDS[1])]
    assert loop.repo.get(open_inc.id).grid_code == GRIDS[2]
    assert loop.repo.get(open_inc.id).assignee == "P6"
    assert loop.repo.get(closed.id).grid_code == GRIDS[1]  # history stays with its grid
    assert loop.repo.events(open_inc.id)[-1].action == "reroute"


# -- who may do what ---------------------------------------------------------------------------
def test_staff_act_only_on_their_grids(loop):
    p1 = Actor("p1", "staff", "P1", frozenset({GRIDS[0]}))
    mine = report(loop, lon=116.05).incident.id
    theirs = report(loop).incident.id
    for i in (mine, theirs):
        walk(loop, i, "file", "dispatch")
    assert loop.act(mine, "start", p1).status == "in_progress"
    with pytest.raises(Forbidden, match="not in your grids"):
        loop.act(theirs, "start", p1)
    with pytest.raises(Forbidden):
        loop.get(theirs, p1)
    with pytest.raises(Forbidden, match="a staff may not close"):
        loop.act(mine, "close", p1)


def test_public_needs_the_reporter_token(loop):
    f = report(loop)
    walk(loop, f.incident.id, "file", "dispatch", "start", "handle", "verify", "close")
    with pytest.raises(Forbidden, match="reporter token"):
        loop.act(f.incident.id, "rate", PUBLIC, data={"rating": 5, "reporter_token": "wrong"})
    with pytest.raises(InputError, match="rating"):
        loop.act(f.incident.id, "rate", PUBLIC, data={"rating": 6, "reporter_token": f.reporter_token})


# -- bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize("body,match", [
    ({"category": "aliens", "lon": 116.1, "lat": 39.05}, "category: unknown category 'aliens'"),
    ({"category": "exposed_rubbish"}, "location: required"),
    ({"category": "exposed_rubbish", "lon": 39.05, "lat": 116.15}, "look swapped"),
    ({"category": "exposed_rubbish", "lon": 116.1, "lat": 95}, "out of range"),
    ({"category": "exposed_rubbish", "lon": "abc", "lat": 39}, "must be numbers"),
    ({"category": "exposed_rubbish", "location": {"type": "LineString"}}, "GeoJSON Point"),
    ({"category": "exposed_rubbish", "lon": 116.1, "lat": 39.05, "description": "长" * 2001}, "over the limit of 2000"),
    ({"category": "exposed_rubbish", "lon": 116.1, "lat": 39.05, "severity": 9}, "severity: must be 1, 2 or 3"),
    ({"category": "exposed_rubbish", "lon": 116.1, "lat": 39.05, "reporter_phone": "call me"}, "not a phone number"),
    ({"category": "exposed_rubbish", "lon": 116.1, "lat": 39.05, "reported_at": "2099-01-01T00:00:00+08:00"}, "in the future"),
    ({"category": "exposed_rubbish", "lon": 116.1, "lat": 39.05, "crs": "EPSG:0"}, "crs: 未知坐标系 .* / unknown CRS"),  # zh_CN first, English kept
])
def test_bad_reports_store_nothing(loop, body, match):
    with pytest.raises(InputError, match=match):
        loop.report(body)
    assert loop.repo.count() == 0


def test_html_is_stored_as_text(loop):
    inc = report(loop, description="<img src=x onerror=alert(1)> ${alert(1)} </script>").incident
    assert loop.repo.get(inc.id).description == "<img src=x onerror=alert(1)> ${alert(1)} </script>"


def test_unknown_incident(loop):
    with pytest.raises(NotFound):
        loop.act("999", "file", DISPATCHER)
    with pytest.raises(NotFound):
        loop.repo.get("abc")


def test_concurrent_merges_into_one_target_are_all_or_nothing(loop, clock):
    """Four dispatchers merge four duplicates into one target at once: each merge either lands whole
    (duplicate merged, target lists it, a merged_from event) or is a 409 that changed nothing."""
    import threading

    for round_ in range(3):
        target = report(loop).incident
        dups = [report(loop, lon=116.1501 + 0.00001 * k).incident for k in range(4)]
        barrier, results = threading.Barrier(len(dups)), {}

        def merge(dup):
            barrier.wait()
            try:
                loop.act(dup.id, "merge", DISPATCHER, data={"into": target.id})
                results[dup.id] = "merged"
            except Conflict:
                results[dup.id] = "409"

        threads = [threading.Thread(target=merge, args=(d,)) for d in dups]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        listed = set(loop.repo.get(target.id).extra.get("merged_reports", []))
        events = {e.data["from"] for e in loop.repo.events(target.id) if e.action == "merged_from"}
        assert listed == events and results.get(dups[0].id)
        for d in dups:
            status = loop.repo.get(d.id).status
            if results[d.id] == "merged":
                assert status == "merged" and d.id in listed, (round_, d.id)
            else:  # the 409 left the duplicate as it was
                assert status != "merged" and d.id not in listed, (round_, d.id, status)
        assert "merged" in results.values()
        clock.now += dt.timedelta(days=1)
