"""The `gridmap` command end to end, in a subprocess, as a user runs it."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import GRIDS, ZONE, fc, feat, square, write_json
from .slowguard import assert_slow


def gm(*args, cwd: Path, db: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    assert_slow("a gridmap subprocess")
    # these tests read the English texts (LC_ALL/LC_MESSAGES/LANG choose the CLI's language; the default
    # zh_CN, Chinese first with the English kept, is tested in tests/test_i18n.py)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRIDMAP_", "LC_ALL", "LC_MESSAGES"))}
    env["LANG"] = "en_US.UTF-8"
    if db:
        env["GRIDMAP_DB"] = db
    proc = subprocess.run([sys.executable, "-m", "gridmap", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"gridmap {' '.join(map(str, args))} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def build_through_the_cli(sample_dir: Path, db_url: str, cwd: Path) -> None:
    gm("init", cwd=cwd, db=db_url)
    gm("import", sample_dir / "county.geojson", "--level", "county", cwd=cwd, db=db_url)
    gm("import", sample_dir / "towns.geojson", "--level", "town", "--parent-field", "parent_code", cwd=cwd, db=db_url)
    gm("import", sample_dir / "zones.geojson", "--level", "zone", "--parent-field", "parent_code", cwd=cwd, db=db_url)
    out = gm("import", sample_dir / "grids.geojson", "--level", "grid", "--code-field", "code", "--name-field", "name",
             "--parent-field", "parent_code", "--crs", "EPSG:4326", cwd=cwd, db=db_url)
    assert "imported 3 grid units" in out.stdout
    gm("import-staff", sample_dir / "staff.csv", cwd=cwd, db=db_url)


@pytest.fixture
def loaded(request, sample_dir, db_url, tmp_path_factory):
    """A store built through the CLI itself: built once per test process and backend (six subprocesses),
    and copied for each test (tests/store_templates.py)."""
    from .store_templates import copy_built

    pg = request.getfixturevalue("pg_server") if "://" in db_url else None
    cwd = tmp_path_factory.mktemp("cli-loaded")
    copy_built(db_url, "cli-loaded", lambda db: build_through_the_cli(sample_dir, db, cwd), pg)
    return db_url


@pytest.mark.slow
def test_locate_check_export_assign(loaded, tmp_path):
    db = loaded
    out = gm("locate", "116.15", "39.05", cwd=tmp_path, db=db)
    assert out.stdout.startswith(GRIDS[1]) and "第2网格" in out.stdout and f"zone {ZONE}" in out.stdout
    out = gm("locate", "116.1", "39.05", "--json", cwd=tmp_path, db=db)
    assert json.loads(out.stdout)["grid"] == GRIDS[0] and json.loads(out.stdout)["candidates"] == GRIDS[:2]
    out = gm("locate", "116.15", "38.999", cwd=tmp_path, db=db)
    assert f"nearest is {GRIDS[1]} at 111 m" in out.stdout

    chk = gm("check", cwd=tmp_path, db=db, check=False)
    assert chk.returncode == 1 and GRIDS[2] in chk.stdout and "1 units break" in chk.stdout

    gm("export", tmp_path / "all.gpkg", cwd=tmp_path, db=db)
    gm("export", tmp_path / "g.geojson", "--level", "grid", cwd=tmp_path, db=db)
    assert len(json.loads((tmp_path / "g.geojson").read_text())["features"]) == 3
    gm("export", tmp_path / "staff.csv", "--staff", cwd=tmp_path, db=db)
    assert "刘洋" in (tmp_path / "staff.csv").read_text(encoding="utf-8")

    pts = tmp_path / "pts.csv"
    pts.write_text("id,lon,lat,note\n1,116.05,39.05,甲\n2,116.25,39.05,\"b, c\"\n3,117.5,39.05,out\n4,,,none\n",
                   encoding="utf-8")
    res = gm("assign", pts, "--out", tmp_path / "res.csv", cwd=tmp_path, db=db)
    assert "2 in a grid, 1 outside every grid, 1 without coordinates" in res.stderr
    with open(tmp_path / "res.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["grid_code"] for r in rows] == [GRIDS[0], GRIDS[2], "", ""]
    assert [r["zone_code"] for r in rows] == [ZONE, ZONE, "", ""]
    assert rows[1]["note"] == "b, c" and rows[0]["note"] == "甲" and rows[0]["lon"] == "116.05"

    geo = write_json(tmp_path / "pts.geojson", fc([feat({"type": "Point", "coordinates": [116.15, 39.05]}, id=1)]))
    gm("assign", geo, "--out", tmp_path / "res.geojson", cwd=tmp_path, db=db)
    props = json.loads((tmp_path / "res.geojson").read_text())["features"][0]["properties"]
    assert props == {"id": 1, "grid_code": GRIDS[1], "zone_code": ZONE}


@pytest.mark.slow
def test_assign_with_gcj02_points_and_bad_columns(loaded, tmp_path):
    from gridmap.geo.chinacrs import wgs84_to_gcj02

    glon, glat = wgs84_to_gcj02(116.1995, 39.05)  # 40 m west of the grid 2 / grid 3 edge
    pts = tmp_path / "p.csv"
    pts.write_text(f"x,y\n{float(glon)!r},{float(glat)!r}\n")
    gm("assign", pts, "--out", tmp_path / "r.csv", "--crs", "GCJ-02", "--lon-field", "x", "--lat-field", "y",
       cwd=tmp_path, db=loaded)
    assert GRIDS[1] in (tmp_path / "r.csv").read_text()
    bad = gm("assign", pts, "--out", tmp_path / "r2.csv", cwd=tmp_path, db=loaded, check=False)
    assert bad.returncode == 1 and "has no column 'lon'" in bad.stderr and not (tmp_path / "r2.csv").exists()
    pts.write_text("lon,lat\n116.1,39.05\nabc,39.0\n")
    bad = gm("assign", pts, "--out", tmp_path / "r3.csv", cwd=tmp_path, db=loaded, check=False)
    assert "row 3: lon 'abc' is not a number" in bad.stderr and not (tmp_path / "r3.csv").exists()
    pts.write_text("lon,lat\n39.05,116.15\n39.06,116.16\n")
    bad = gm("assign", pts, "--out", tmp_path / "r4.csv", cwd=tmp_path, db=loaded, check=False)
    assert "swapped" in bad.stderr


@pytest.mark.slow
def test_bad_import_exits_nonzero_and_writes_nothing(loaded, tmp_path):
    p = write_json(tmp_path / "bad.geojson", fc([
        feat(square(116.02, 39.02, 116.04, 39.04), code="N1", name="好", parent_code=ZONE),
        feat(square(116.02, 39.02, 116.04, 39.04), code="N1", name="重复", parent_code=ZONE),
    ]))
    res = gm("import", p, "--level", "grid", "--parent-field", "parent_code", cwd=tmp_path, db=loaded, check=False)
    assert res.returncode == 1
    assert "duplicate code N1" in res.stderr and "nothing was written" in res.stderr
    assert "Traceback" not in res.stderr
    info = gm("info", cwd=tmp_path, db=loaded).stdout
    assert "grid            3" in info


@pytest.mark.slow
def test_dry_run_and_missing_store(sample_dir, tmp_path):
    db = str(tmp_path / "fresh.db")
    res = gm("locate", "116", "39", cwd=tmp_path, db=db, check=False)
    assert res.returncode != 0 and "gridmap init" in res.stderr and not Path(db).exists()
    gm("import", sample_dir / "county.geojson", "--level", "county", "--valid-from", "2026-01-01", cwd=tmp_path, db=db)
    from gridmap.store import open_store

    assert str(open_store(db).unit("110101").valid_from) == "2026-01-01"
    res = gm("import", sample_dir / "towns.geojson", "--level", "town", "--parent-field", "parent_code",
             "--dry-run", cwd=tmp_path, db=db)
    assert "would import 1 town units" in res.stdout
    assert "town" not in gm("info", cwd=tmp_path, db=db).stdout


@pytest.mark.slow
def test_demo_runs_and_reruns(tmp_path):
    res = gm("demo", cwd=tmp_path)
    assert "imported  100 grid" in res.stdout
    assert "2 units break their team rule" in res.stdout
    assert "371403107001001" in res.stdout and "371403202002003" in res.stdout
    assert (tmp_path / "gridmap.db").exists() and (tmp_path / "demo-output" / "lingcheng.gpkg").exists()
    with open(tmp_path / "demo-output" / "incidents_assigned.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 3000 and sum(1 for r in rows if r["grid_code"]) == 2970
    res = gm("demo", cwd=tmp_path)  # the demo store is rebuilt, not duplicated
    assert "imported  100 grid" in res.stdout
    assert "grid          100" in gm("info", cwd=tmp_path).stdout
    gm("init", "--help", cwd=tmp_path)


@pytest.mark.slow
def test_demo_refuses_a_foreign_store(sample_dir, tmp_path):
    gm("import", sample_dir / "county.geojson", "--level", "county", cwd=tmp_path)
    res = gm("demo", cwd=tmp_path, check=False)
    assert res.returncode != 0 and "already holds other data" in res.stderr
    assert "county          1" in gm("info", cwd=tmp_path).stdout


@pytest.mark.slow
def test_incident_commands(loaded, tmp_path):
    db = loaded
    calls = tmp_path / "calls.csv"
    calls.write_text(
        "id,reported_at,category,lon,lat,source,severity,description,status,dispatched_at,due_at,closed_at,rating\n"
        "H1,2026-03-02T09:00:00+08:00,exposed_rubbish,116.05,39.05,热线,1,垃圾,closed,2026-03-02T09:10:00+08:00,"
        "2026-03-02T14:00:00+08:00,2026-03-02T11:00:00+08:00,5\n"
        "H2,2026-03-03T09:00:00+08:00,aliens,116.15,39.05,热线,1,?,reported,,,,\n"
        "H3,2026-03-04T09:00:00+08:00,illegal_parking,39.05,116.15,热线,1,车,reported,,,,\n"
        "H4,2026-03-05T09:00:00+08:00,illegal_parking,116.25,39.05,热线,1,车,reported,,,,\n", encoding="utf-8")
    bad = gm("incidents", "import", calls, cwd=tmp_path, db=db, check=False)
    assert bad.returncode == 1 and "2 of 4 rows are bad; nothing was written" in bad.stderr
    assert "row 3 (H2): category: unknown category 'aliens'" in bad.stderr and "row 4 (H3)" in bad.stderr
    ok = gm("incidents", "import", calls, "--skip-bad", "--errors", tmp_path / "bad.txt", cwd=tmp_path, db=db)
    assert "imported 2 incidents" in ok.stdout and "aliens" in (tmp_path / "bad.txt").read_text(encoding="utf-8")
    listed = gm("incidents", "list", cwd=tmp_path, db=db).stdout
    assert GRIDS[2] in listed and "illegal_parking" in listed and "exposed_rubbish" not in listed  # closed one hidden
    m = gm("incidents", "metrics", "--by", "grid", "--from", "2026-03-01", "--to", "2026-04-01", cwd=tmp_path, db=db).stdout
    row = next(line for line in m.splitlines() if line.startswith(GRIDS[0]))
    assert row.split()[1:4] == ["1", "1", "100%"]  # count 1, due 1, 结案率 100%
    gm("users", "add", "disp", "--role", "dispatcher", "--password", "long-enough-pw", cwd=tmp_path, db=db)
    short = gm("users", "add", "d2", "--role", "dispatcher", "--password", "short", cwd=tmp_path, db=db, check=False)
    assert "at least 8 characters" in short.stderr
    token = gm("users", "token", "disp", cwd=tmp_path, db=db).stdout.strip()
    assert len(token) > 30


def test_locate_refuses_a_bad_coordinate_before_opening_the_store(tmp_path):
    from click.testing import CliRunner

    from gridmap.cli import main as cli_main

    missing = tmp_path / "no" / "such" / "dir" / "g.db"  # opening this store would fail
    r = CliRunner().invoke(cli_main, ["--db", str(missing), "locate", "37.33", "116.58"])
    assert r.exit_code == 1 and "is not a valid lon/lat (lat/lon swapped?)" in r.output
    assert not missing.parent.exists()
