"""The bulk fast path (`gridmap assign`: store/gridread.py + assign.index_for_assign) gives the old rule's answers.

The old rule is GridIndex.covering on the index Services builds through the SQL store: every
grid that covers the point (boundary included), the lowest code wins, none outside.
"""

from __future__ import annotations

import csv
import datetime as dt
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gridmap.errors import NotFound, StoreUnavailable
from gridmap.registry.assign import assign_with_settings, index_for_assign
from gridmap.services import Services
from gridmap.settings import Settings
from gridmap.store.gridread import read_grid_source, sqlite_file

from .conftest import GRIDS, ZONE, sample_store

# (lon, lat, expected grid) on the three squares of conftest: G1 [116.0,116.1], G2 [116.1,116.2],
# G3 [116.2,116.3] x [39.0,39.1]
POINTS = [
    (116.05, 39.05, GRIDS[0]),  # inside
    (116.15, 39.05, GRIDS[1]),
    (116.25, 39.05, GRIDS[2]),
    (116.1, 39.05, GRIDS[0]),  # shared edge G1|G2: lowest code
    (116.2, 39.07, GRIDS[1]),  # shared edge G2|G3
    (116.2, 39.1, GRIDS[1]),  # shared vertex (top) of G2 and G3
    (116.1, 39.0, GRIDS[0]),  # shared vertex (bottom) of G1 and G2
    (116.3, 39.05, GRIDS[2]),  # outer edge: covered, not lost
    (116.0, 39.0, GRIDS[0]),  # outer corner
    (116.3, 39.1, GRIDS[2]),  # outer corner of the last grid
    (116.15, 38.999, None),  # just outside
    (117.5, 39.05, None),  # far outside
    (116.3000001, 39.05, None),  # a hair outside the outer edge
]


def _old_rule(index, lon: float, lat: float) -> int:
    hits = index.covering(lon, lat)
    return int(hits[0]) if len(hits) else -1


def test_fast_index_equals_services_index_and_old_rule(services):
    ref = services.index
    fast = index_for_assign(services.settings)
    assert list(fast.codes) == list(ref.codes) and fast.names == ref.names and fast.level == ref.level
    assert fast.chains == ref.chains
    lon = np.array([p[0] for p in POINTS] + [np.nan])
    lat = np.array([p[1] for p in POINTS] + [39.05])
    got = fast.locate_many(lon, lat)
    old = [_old_rule(ref, x, y) for x, y, _ in POINTS] + [-1]
    assert got.tolist() == old == ref.locate_many(lon, lat).tolist()
    codes = [str(fast.codes[i]) if i >= 0 else None for i in got[:-1]]
    assert codes == [p[2] for p in POINTS]


def test_assign_with_settings_writes_the_old_rules_codes(services, tmp_path):
    src = tmp_path / "pts.csv"
    with open(src, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "lon", "lat"])
        for i, (x, y, _) in enumerate(POINTS):
            w.writerow([i, repr(x), repr(y)])
    stats = assign_with_settings(services.settings, src, tmp_path / "out.csv")
    with open(tmp_path / "out.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["grid_code"] or None for r in rows] == [p[2] for p in POINTS]
    assert [r["zone_code"] for r in rows] == [ZONE if p[2] else "" for p in POINTS]
    assert stats["assigned"] == sum(p[2] is not None for p in POINTS)
    assert [r["lon"] for r in rows] == [repr(p[0]) for p in POINTS]  # input text kept


@pytest.fixture
def sqlite_services(tmp_path: Path, sample_dir: Path):
    """The sample hierarchy in a SQLite store: the sqlite3 read applies to SQLite only."""
    s = Services.open(sample_store(Settings(db=str(tmp_path / "fast.db")), sample_dir), create=True)
    yield s
    s.store.close()


def test_gridread_reads_the_plan_in_force(sqlite_services):
    services = sqlite_services
    path = sqlite_file(services.settings.db)
    src = read_grid_source(path, services.today())
    assert src.plan == services.store.current_plan()
    assert src.rows.code == GRIDS and src.rows.wkb == [] and len(src.geoms) == 3
    assert src.parents[GRIDS[0]] == (ZONE, src.level)


def test_gridread_refuses_other_schema_and_missing_store(sqlite_services, tmp_path):
    services = sqlite_services
    path = sqlite_file(services.settings.db)
    services.store.close()
    con = sqlite3.connect(path)
    con.execute("UPDATE alembic_version SET version_num = '0001'")
    con.commit()
    con.close()
    with pytest.raises(StoreUnavailable, match="schema revision 0001"):
        read_grid_source(path, dt.date.today())
    with pytest.raises(NotFound, match="no gridmap store"):
        read_grid_source(tmp_path / "nope.db", dt.date.today())


def test_sqlite_file_names_only_sqlite_stores(tmp_path):
    assert sqlite_file(tmp_path / "a.db") == (tmp_path / "a.db").resolve()
    assert sqlite_file(f"sqlite:///{tmp_path}/a.db") == tmp_path / "a.db"
    assert sqlite_file("postgresql://u@127.0.0.1:5432/g") is None


@pytest.mark.slow
def test_fast_path_loads_neither_sqlalchemy_nor_pyproj_nor_pandas(sqlite_services, tmp_path):
    services = sqlite_services
    path = sqlite_file(services.settings.db)
    src = tmp_path / "p.csv"
    src.write_text("id,lon,lat\n1,116.05,39.05\n", encoding="utf-8")
    code = ("import sys\nfrom gridmap.registry.assign import assign_with_settings\nfrom gridmap.settings import Settings\n"
            f"s = assign_with_settings(Settings.load({{'db': {str(path)!r}}}), {str(src)!r}, {str(tmp_path / 'o.csv')!r})\n"
            "assert s['assigned'] == 1, s\n"
            "print(sorted(m for m in ('sqlalchemy', 'pyproj', 'pandas') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
