"""Block-assignment files (unit_code,grid_code of the micro-grids): export, import into a draft, round trip,
validation naming rows; over the API (both backends) and the CLI.

The sample's three grids G1 [116.0,116.1], G2, G3 (x [39.0,39.1], 100 households each) get 2 x 2
micro-grids each (25 households): G+001 south-west, 002 south-east, 003 north-west, 004 north-east.
"""

from __future__ import annotations

import csv
import io

import pytest
import shapely
from click.testing import CliRunner

from gridmap.cli import main
from gridmap.plans import PlanService
from gridmap.registry.model import Level, Unit
from gridmap.web.auth import create_token, create_user

from .conftest import GRIDS, ZONE

G1, G2, G3 = GRIDS


def micros() -> list[Unit]:
    out = []
    for i, g in enumerate(GRIDS):
        x0 = 116.0 + 0.1 * i
        for k, (dx, dy) in enumerate(((0, 0), (0.05, 0), (0, 0.05), (0.05, 0.05)), start=1):
            geom = shapely.box(x0 + dx, 39.0 + dy, x0 + dx + 0.05, 39.0 + dy + 0.05)
            out.append(Unit(code=f"{g}{k:03d}", name=f"微网格{i + 1}-{k}", level=Level.micro, geometry=geom,
                            parent_code=g, households=25, population=60))
    return out


@pytest.fixture
def app(services):
    from gridmap.app import create_app
    from gridmap.settings import Settings

    services.store.add_units(micros())
    app = create_app(Settings(db=services.settings.db))
    yield app
    app.extensions["gridmap"].store.close()


@pytest.fixture
def client(app):
    store = app.extensions["gridmap"].store
    create_user(store, "plan", "secret-pass", "planner")
    create_user(store, "disp", "secret-pass", "dispatcher")
    c = app.test_client()
    c.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {create_token(store, 'plan')}"
    c.disp = {"Authorization": f"Bearer {create_token(store, 'disp')}"}
    return c


def ps_of(app) -> PlanService:
    return app.extensions["gridmap"].plans


def same(a, b) -> bool:
    return a.symmetric_difference(b).area < 1e-12


def rows_of(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def as_csv(rows) -> bytes:
    buf = io.StringIO()
    csv.writer(buf).writerows([["unit_code", "grid_code"], *rows])
    return buf.getvalue().encode("utf-8")


def post(client, body: bytes, query: str = ""):
    return client.post("/api/v1/plans/blocks" + query, data=body, content_type="text/csv")


def test_export_import_round_trip(client, app):
    r = client.get("/api/v1/plans/1/blocks.csv")
    assert r.status_code == 200 and r.mimetype == "text/csv" and "plan-1-blocks.csv" in r.headers["Content-Disposition"]
    rows = rows_of(r.get_data(as_text=True))
    assert rows[0] == ["unit_code", "grid_code"] and len(rows) == 13
    assert rows[1:] == [[m.code, m.parent_code] for m in micros()]

    # the file as it is: a new draft with the same grids
    r = post(client, r.data)
    assert r.status_code == 201, r.json
    n = r.json["plan"]
    assert r.json["created_draft"] and r.json["based_on"] == 1 and r.json["changed"] == r.json["created"] == []
    assert ps_of(app).diff(1, n)["summary"]["unchanged"] == 3

    # G1's east half (micro 002, 004) goes to G2: G1 halves, G2 grows by half
    moved = [[m.code, G2 if m.code in (G1 + "002", G1 + "004") else m.parent_code] for m in micros()]
    r = post(client, as_csv(moved), "?note=东半划给G2")
    assert r.status_code == 201, r.json
    n2 = r.json["plan"]
    assert (r.json["changed"], r.json["removed"], r.json["moved_units"]) == ([G1, G2], [], 2)
    ps = ps_of(app)
    assert ps.plan(n2).note == "东半划给G2" and [e.op for e in ps.repo.edits(n2)] == ["blocks"]
    grids = {u.code: u for u in ps.store.units(level=Level.grid, plan=n2)}
    assert same(grids[G1].geometry, shapely.box(116.0, 39.0, 116.05, 39.1))
    assert same(grids[G2].geometry, shapely.box(116.05, 39.0, 116.2, 39.1))
    assert (grids[G1].households, grids[G2].households, grids[G1].population) == (50, 150, 120)
    assert grids[G1].area_m2 == pytest.approx(grids[G3].area_m2 / 2, rel=1e-3)
    # exported again: the very file imported
    again = rows_of(client.get(f"/api/v1/plans/{n2}/blocks.csv").get_data(as_text=True))
    assert again[1:] == moved
    # the published plan is untouched; undo puts the draft back
    assert {u.code: u.households for u in ps.store.units(level=Level.grid, plan=1)} == {G1: 100, G2: 100, G3: 100}
    ps.undo(n2)
    assert ps.diff(1, n2)["summary"]["unchanged"] == 3


def test_import_into_a_draft_with_a_new_grid_and_a_removed_one(client, app):
    n = client.post("/api/v1/plans", json={}).json["version"]
    new = ZONE + "009"
    rows = [[m.code, new if m.parent_code == G3 else (G2 if m.parent_code == G1 else m.parent_code)] for m in micros()]
    r = post(client, as_csv(rows), f"?into={n}")
    assert r.status_code == 200, r.json
    assert (r.json["plan"], r.json["created_draft"], r.json["created"], r.json["changed"], r.json["removed"]) == \
        (n, False, [new], [G2], [G1, G3])
    ps = ps_of(app)
    grids = {u.code: u for u in ps.store.units(level=Level.grid, plan=n)}
    assert set(grids) == {G2, new} and grids[new].parent_code == ZONE and grids[new].households == 100
    assert same(grids[G2].geometry, shapely.box(116.0, 39.0, 116.2, 39.1))
    assert {u.parent_code for u in ps.store.units(level=Level.micro, plan=n) if u.code.startswith(G3)} == {new}
    assert ps.coverage(n) == []  # exact coverage: the zone is still tiled
    r = post(client, as_csv(rows), "?into=1")
    assert r.status_code == 409  # a published plan is not rebuilt


@pytest.mark.parametrize("rows, expected", [
    ([["NOPE", G1]], ["row 14: 未知的单元编码 NOPE（方案中没有这个微网格） / row 14: unknown unit code NOPE (no such micro-grid "
                      "in the plan)"]),
    ([[G1 + "001", G2]], [f"row 14: {G1}001 重复（第 2 行也有） / row 14: {G1}001 is listed twice (also row 2)"]),
    ([[G1, G2]], [f"row 14: 未知的单元编码 {G1}（是 grid 级单元，不是微网格） / row 14: unknown unit code {G1} (a grid, not a "
                  "micro-grid)"]),
])
def test_bad_rows_are_named_and_nothing_is_written(client, app, rows, expected):
    before = len(ps_of(app).plans())
    base = [[m.code, m.parent_code] for m in micros()]
    r = post(client, as_csv(base + rows))
    assert r.status_code == 422 and r.json["problems"] == expected, r.json
    assert "nothing was written" in r.json["detail"] and len(ps_of(app).plans()) == before


def test_missing_units_empty_codes_zones_and_pieces(client, app):
    base = [[m.code, m.parent_code] for m in micros()]
    r = post(client, as_csv(base[1:]))
    assert r.status_code == 422 and f"{G1}001" in r.json["problems"][0] and "not in the file" in r.json["problems"][0]
    r = post(client, as_csv([base[0], [base[1][0], ""], *base[2:]]))
    assert r.status_code == 422 and r.json["problems"] == [f"row 3: grid_code 为空（单元 {G1}002） / row 3: grid_code is empty (unit {G1}002)"]
    r = post(client, as_csv([[base[0][0], ZONE], *base[1:]]))
    assert r.status_code == 422 and r.json["problems"] == [f"row 2: grid_code {ZONE} 是 zone 级单元，不是网格 / row 2: grid_code {ZONE} is a zone, not a grid"]
    # G1's south-west and G3's north-east micro-grids in one grid: two pieces
    split = [[c, G2 if c in (G1 + "001", G3 + "004") else g] for c, g in base]
    r = post(client, as_csv(split))
    assert r.status_code == 422 and "not one piece" in r.json["problems"][0] and G2 in r.json["problems"][0]
    assert post(client, b"code,grid\nx,y\n").json["detail"].startswith("row 1:")
    assert post(client, b"").status_code == 422
    assert post(client, b"\xff\xfe").json["detail"].startswith("file:")
    assert client.post("/api/v1/plans/blocks", data=as_csv(base), content_type="text/csv",
                       headers=client.disp).status_code == 403
    assert len(ps_of(app).plans()) == 1


def test_a_plan_without_micro_grids_says_so(services):
    from gridmap.plans import blocks_io

    with pytest.raises(Exception, match="no micro-grids"):
        blocks_io.export(services.plans, 1)


def test_cli_round_trip(app, tmp_path):
    db = app.extensions["gridmap"].settings.db
    out = tmp_path / "blocks.csv"
    r = CliRunner().invoke(main, ["--db", db, "plan", "blocks-export", "1", "-o", str(out)])
    assert r.exit_code == 0, r.output
    rows = rows_of(out.read_text(encoding="utf-8"))
    assert len(rows) == 13
    rows = [rows[0]] + [[c, G1 if c.startswith(G2) and c.endswith(("001", "003")) else g] for c, g in rows[1:]]
    (tmp_path / "moved.csv").write_bytes(as_csv(rows[1:]))
    r = CliRunner().invoke(main, ["--db", db, "plan", "blocks-import", str(tmp_path / "moved.csv"), "--json"])
    assert r.exit_code == 0, r.output
    assert '"changed": [' in r.output and G1 in r.output
    (tmp_path / "bad.csv").write_bytes(as_csv([["NOPE", G1]]))
    r = CliRunner().invoke(main, ["--db", db, "plan", "blocks-import", str(tmp_path / "bad.csv")])
    assert r.exit_code != 0 and "row 2" in r.output and "NOPE" in r.output
