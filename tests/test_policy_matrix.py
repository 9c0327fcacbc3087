"""Issue #15, least privilege: every role × data class of gridmap/policy.py's table, requested through the
API as that role on both store backends, gives exactly the access the table says ("all", "own" or
"none"); and the README's table is the one generated from it."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from gridmap import create_app
from gridmap.incidents.actors import SYSTEM
from gridmap.policy import ALL, DATA, MATRIX, NONE, OWN, ROLES, markdown_table
from gridmap.settings import Settings
from gridmap.web.auth import create_token, create_user

from .conftest import GRIDS

README = Path(__file__).resolve().parent.parent / "README.md"


@pytest.fixture
def world(services):
    """Two reports with names and phones (one in GRIDS[0], one in GRIDS[2]), shifts in both grids, and a
    token for each role; the staff user is the person the router gave the first report to."""
    app = create_app(Settings(db=services.settings.db))
    store = app.extensions["gridmap"].store
    loop = app.extensions["gridmap"].incidents
    mine = loop.report({"category": "exposed_rubbish", "lon": 116.05, "lat": 39.05, "description": "一",
                        "reporter_name": "王小明", "reporter_phone": "13900000001"}, SYSTEM)
    other = loop.report({"category": "exposed_rubbish", "lon": 116.25, "lat": 39.05, "description": "二",
                         "reporter_name": "李小红", "reporter_phone": "13900000002"}, SYSTEM)
    a, b = mine.incident, other.incident
    assert a.grid_code == GRIDS[0] and b.grid_code == GRIDS[2] and a.assignee and b.assignee
    now = dt.datetime.now(dt.timezone.utc)
    loop.repo.add_shift(GRIDS[0], a.assignee, now, now + dt.timedelta(hours=8))
    loop.repo.add_shift(GRIDS[2], b.assignee, now, now + dt.timedelta(hours=8))
    headers = {"public": {}, "reporter": {}}
    for role in ("staff", "dispatcher", "planner", "leader", "admin"):
        create_user(store, role, "secret-pass", role, person_id=a.assignee if role == "staff" else None)
        headers[role] = {"X-API-Key": create_token(store, role)}
    yield {"app": app, "mine": a, "other": b, "headers": headers, "token": mine.reporter_token}
    store.close()


def _level(saw_mine: bool, saw_other: bool) -> str:
    assert saw_mine or not saw_other, "saw another grid's record but not its own"
    return ALL if saw_other else OWN if saw_mine else NONE


def observe(world, role: str, data: str) -> str:
    """What `role` actually gets of `data`, measured through the API."""
    client, h = world["app"].test_client(), world["headers"][role]
    a, b = world["mine"], world["other"]

    def one(inc):
        r = client.get(f"/api/v1/incidents/{inc.id}", headers=h)
        assert r.status_code == 200, (role, r.status_code)
        return r.json

    if data == "incident_public":
        return _level(*("category" in one(i) and "lon" in one(i) for i in (a, b)))
    if data == "incident_internal":
        level = _level(*("assignee" in one(i) for i in (a, b)))
        logs = [client.get(f"/api/v1/incidents/{i.id}/events", headers=h).status_code for i in (a, b)]
        assert _level(*(s == 200 for s in logs)) == level, (role, logs)  # the audit log follows the same cell
        if role not in ("public", "reporter"):
            rows = client.get("/board.json?queue=all", headers=h).json["incidents"]
            seen = {r["id"]: "assignee" in r for r in rows}
            assert _level(seen.get(a.id, False), seen.get(b.id, False)) in (level, NONE)
        return level
    if data == "reporter_personal":
        level = _level(*(one(i).get("reporter_phone") is not None for i in (a, b)))
        if role not in ("public", "reporter"):  # the board's rows hold the same fields as the API
            rows = client.get("/board.json?queue=all", headers=h).json["incidents"]
            phones = {r["id"]: r.get("reporter_phone") for r in rows}
            assert _level(phones.get(a.id) is not None, phones.get(b.id) is not None) == level, (role, phones)
        listed = client.get("/api/v1/incidents", headers=h)
        if listed.status_code == 200:
            assert all(("reporter_phone" in r) == (level == ALL or r["grid_code"] == a.grid_code and level == OWN)
                       for r in listed.json), role
        return level
    day = dt.date.today()
    span = f"from={day - dt.timedelta(days=1)}&to={day + dt.timedelta(days=2)}"
    if data in ("metrics_units", "metrics_workers"):
        by, mine_key, other_key = ("grid", a.grid_code, b.grid_code) if data == "metrics_units" else \
            ("worker", a.assignee, b.assignee)
        r = client.get(f"/api/v1/metrics?by={by}&{span}", headers=h)
        if r.status_code in (401, 403):
            return NONE
        keys = {row["key"] for row in r.json["rows"]}
        if data == "metrics_units":  # the county-wide groupings follow the cell too: refused where it is "own"
            wide = client.get(f"/api/v1/metrics?by=category&{span}", headers=h).status_code
            assert (wide == 200) == (_level(mine_key in keys, other_key in keys) == ALL), (role, wide)
        return _level(mine_key in keys, other_key in keys)
    if data == "roster":
        r = client.get("/api/v1/roster", headers=h)
        if r.status_code in (401, 403):
            return NONE
        units = {s["unit_code"] for s in r.json}
        return _level(a.grid_code in units, b.grid_code in units)
    if data == "staff_phones":  # P1 leads GRIDS[0], P6 GRIDS[2] (conftest's staff.csv)
        texts = [json.dumps(client.get(f"/grids/{g}.json", headers=h).json, ensure_ascii=False) for g in (GRIDS[0], GRIDS[2])]
        assert "张伟" in texts[0] and "杨磊" in texts[1]  # names are public
        return _level("13800000001" in texts[0], "13800000006" in texts[1])
    raise AssertionError(f"no observation for {data}")


@pytest.mark.parametrize("data", list(DATA))
def test_every_role_sees_what_the_table_says(world, data):
    observed = {role: observe(world, role, data) for role in ROLES}
    assert observed == MATRIX[data]


def test_the_table_covers_every_role_and_class():
    assert set(MATRIX) == set(DATA)
    assert all(set(row) == set(ROLES) for row in MATRIX.values())
    assert MATRIX["reporter_personal"]["planner"] == NONE  # the two findings
    assert MATRIX["metrics_workers"]["staff"] == OWN and MATRIX["roster"]["staff"] == OWN


def test_the_readme_holds_the_table():
    assert markdown_table() in README.read_text(encoding="utf-8"), \
        "README's role x data table is not policy.markdown_table(): paste its output into the README"
