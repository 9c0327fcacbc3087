"""`gridmap export` as GIS tools read it: GDAL's ogrinfo (3.6, Debian's) and validate_gpkg.py on the
GeoPackage, the same fields and types in GeoPackage and GeoJSON, NULLs, one level per GeoJSON
file, and every date the jurisdiction's local date.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from gridmap.registry.model import Level
from gridmap.registry.validate import ImportSpec
from gridmap.services import Services
from gridmap.settings import Settings

from .conftest import COUNTY, GRIDS, fc, feat, load_sample, square, write_json
from .test_cli import gm

VALIDATE_GPKG = Path("/usr/lib/python3/dist-packages/osgeo_utils/samples/validate_gpkg.py")
needs_ogrinfo = pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="gdal-bin is not installed (.ci/run installs it)")


def _ogrinfo(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ogrinfo", *args], capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin"})


def _fields(path: Path, layer: str) -> dict[str, str]:
    """Field name -> GDAL type, as ogrinfo reports them."""
    p = _ogrinfo("-so", "-nomd", str(path), layer)
    assert p.returncode == 0, p.stderr
    return dict(re.findall(r"^(\w+): (\w+) \(", p.stdout, re.M))


def _count(path: Path, sql: str) -> int:
    p = _ogrinfo("-q", str(path), "-sql", sql)
    assert p.returncode == 0, p.stderr
    return int(re.search(r"= (\d+)", p.stdout).group(1))


def _with_micro(services: Services, tmp_path: Path) -> None:
    """Two micro-grids in GRIDS[0] with properties of their own (text, integer, missing)."""
    path = write_json(tmp_path / "micro.geojson", fc([
        feat(square(116.0, 39.0, 116.05, 39.1), code=GRIDS[0] + "01", name="一号楼", parent_code=GRIDS[0],
             楼栋="1栋", floors=6),
        feat(square(116.05, 39.0, 116.1, 39.1), code=GRIDS[0] + "02", name="二号楼", parent_code=GRIDS[0],
             楼栋=None, floors=12),
    ]))
    services.import_units(path, ImportSpec(Level.micro, parent_field="parent_code"))


@pytest.mark.slow  # runs GDAL's ogrinfo
@needs_ogrinfo
def test_geopackage_is_valid_and_opens_in_gdal_3_6_without_warnings(services, tmp_path):
    out = tmp_path / "all.gpkg"
    assert services.export(out) == 6
    p = _ogrinfo(str(out))
    assert p.returncode == 0 and p.stderr == "" and "Warning" not in p.stdout, (p.stdout, p.stderr)
    assert _ogrinfo("--version").stdout.startswith("GDAL 3.6")
    p = _ogrinfo("-q", str(out), "-sql", "PRAGMA user_version")
    assert "10200" in p.stdout  # GeoPackage 1.2
    if VALIDATE_GPKG.exists():  # GDAL's own checker (python3-gdal, installed with gdal-bin)
        v = subprocess.run(["/usr/bin/python3", str(VALIDATE_GPKG), str(out)], capture_output=True, text=True,
                           timeout=60)
        assert v.returncode == 0 and v.stderr == "", (v.stdout, v.stderr)


@pytest.mark.slow  # runs GDAL's ogrinfo
@needs_ogrinfo
def test_missing_values_are_null_and_types_match_geojson(services, tmp_path):
    _with_micro(services, tmp_path)
    gpkg, gj = tmp_path / "all.gpkg", tmp_path / "grids.geojson"
    services.export(gpkg)
    services.export(gj)
    n_grids = len(GRIDS)
    for path, layer in ((gpkg, "grid"), (gj, "grids")):
        assert _count(path, f"SELECT COUNT(*) AS n FROM {layer} WHERE valid_to IS NULL") == n_grids, path
        assert _count(path, f"SELECT COUNT(*) AS n FROM {layer} WHERE valid_from IS NULL") == 0, path
    assert _count(gpkg, "SELECT COUNT(*) AS n FROM county WHERE parent_code IS NULL") == 1
    assert _count(gpkg, "SELECT COUNT(*) AS n FROM county WHERE parent_code = ''") == 0
    assert _count(gpkg, "SELECT COUNT(*) AS n FROM micro WHERE \"楼栋\" IS NULL") == 1

    in_gpkg, in_geojson = _fields(gpkg, "grid"), _fields(gj, "grids")
    assert "properties" not in in_gpkg
    assert in_gpkg["valid_from"] == "Date" and in_gpkg["valid_to"] == "Date"
    assert in_gpkg["households"] == "Integer" and in_gpkg["area_m2"] == "Real"
    # GeoJSON has no declared types: GDAL guesses from the values (valid_to has none to guess from),
    # and shows the feature's string id (the code) as a field `id`
    assert {k: v for k, v in in_gpkg.items() if k != "valid_to"} == {k: v for k, v in in_geojson.items()
                                                                    if k not in ("valid_to", "id")}
    # a level's own properties are columns, typed, in both formats
    services.export(tmp_path / "micro.geojson", level=Level.micro)
    micro_gpkg, micro_gj = _fields(gpkg, "micro"), _fields(tmp_path / "micro.geojson", "micro")
    assert micro_gpkg["floors"] == micro_gj["floors"] == "Integer" and micro_gpkg["楼栋"] == "String"
    valued = {k for f in json.loads((tmp_path / "micro.geojson").read_text())["features"]
              for k, v in f["properties"].items() if v is not None}  # what GDAL can guess a type from
    assert {k: v for k, v in micro_gpkg.items() if k in valued} == {k: v for k, v in micro_gj.items() if k in valued}
    assert set(micro_gpkg) == set(micro_gj) - {"id"}


@pytest.mark.slow  # the CLI in a subprocess
def test_geojson_holds_one_level_unless_told(services, tmp_path):
    db = services.settings.db
    out = tmp_path / "grids.geojson"
    r = gm("export", out, cwd=tmp_path, db=db)
    assert "level grid" in r.stdout
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert {f["properties"]["level"] for f in doc["features"]} == {"grid"} and len(doc["features"]) == 3
    assert "level zone" in gm("export", tmp_path / "zones.geojson", "--level", "zone", cwd=tmp_path, db=db).stdout
    r = gm("export", tmp_path / "everything.geojson", "--level", "all", cwd=tmp_path, db=db)
    assert "every level" in r.stdout
    levels = [f["properties"]["level"] for f in json.loads((tmp_path / "everything.geojson").read_text())["features"]]
    assert sorted(set(levels)) == ["county", "grid", "town", "zone"] and len(levels) == 6
    r = gm("export", tmp_path / "micro.geojson", "--level", "micro", cwd=tmp_path, db=db, check=False)
    assert r.returncode != 0 and "micro" in r.stdout + r.stderr and not (tmp_path / "micro.geojson").exists()


def _zone_whose_date_differs_from_utc() -> str:
    """A time zone whose date today is not the UTC date (one of UTC+14 and UTC-12 always is)."""
    now = dt.datetime.now(dt.timezone.utc)
    for name in ("Etc/GMT-14", "Etc/GMT+12"):
        if now.astimezone(ZoneInfo(name)).date() != now.date():
            return name
    raise AssertionError("unreachable")


def test_every_date_is_the_jurisdictions_local_date(db_url, sample_dir, tmp_path):
    tz = _zone_whose_date_differs_from_utc()
    s = Services.open(Settings(db=db_url, timezone=tz), create=True)
    try:
        load_sample(s, sample_dir)
        local = dt.datetime.now(ZoneInfo(tz)).date()
        assert s.today() == local != dt.datetime.now(dt.timezone.utc).date()
        assert s.store.plans.get(s.store.current_plan()).effective_from == local  # the plan's date ...
        assert {u.valid_from for u in s.store.units()} == {local}  # ... is its units' date
        s.export(tmp_path / "grids.geojson")
        doc = json.loads((tmp_path / "grids.geojson").read_text())
        assert {f["properties"]["valid_from"] for f in doc["features"]} == {local.isoformat()}
        s.export(tmp_path / "all.gpkg")
        import pyogrio

        df = pyogrio.read_dataframe(tmp_path / "all.gpkg", layer="county")
        assert df["code"].tolist() == [COUNTY]
        assert [d.date() if hasattr(d, "date") else d for d in df["valid_from"]] == [local]
    finally:
        s.store.close()
