"""Dask path (gridmap/scale): same grid per point and same metric table as the single-machine path.

One small LocalCluster per module (2 in-process workers, one thread each); small data.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

from gridmap.cli import main as cli_main
from gridmap.incidents import metrics as single
from gridmap.incidents.model import STATUSES, Incident
from gridmap.index import GridIndex
from gridmap.scale import dask_assign, dask_metrics
from gridmap.services import Services
from gridmap.settings import Settings

from .conftest import GRIDS, ZONE, load_sample

gpd = pytest.importorskip("geopandas")
distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    from gridmap.scale.cluster import dask_client

    with dask_client(workers=2, processes=False) as c:
        yield c


@pytest.fixture
def store(tmp_path: Path, sample_dir: Path) -> Services:
    s = Services.open(Settings(db=str(tmp_path / "g.db")), create=True)
    yield load_sample(s, sample_dir)
    s.store.close()


def _points(n: int, seed: int = 7) -> pd.DataFrame:
    """Random points over and around the three squares, plus points on shared edges and vertices."""
    rng = np.random.default_rng(seed)
    lon = rng.uniform(115.95, 116.35, n)
    lat = rng.uniform(38.95, 39.15, n)
    # exactly on the shared edges x=116.1 / 116.2, on shared vertices, on the outer boundary
    special = [(116.1, 39.05), (116.2, 39.02), (116.1, 39.0), (116.2, 39.1), (116.0, 39.05), (116.3, 39.1)]
    lon[:len(special)], lat[:len(special)] = zip(*special)
    lon[10], lat[11] = np.nan, np.nan  # no coordinates
    return pd.DataFrame({"id": np.arange(n), "lon": lon, "lat": lat, "kind": rng.choice(["巡查", "热线"], n)})


def _write_geoparquet(df: pd.DataFrame, folder: Path, parts: int, crs: str = "EPSG:4326") -> Path:
    folder.mkdir()
    geom = shapely.points(df.lon, df.lat)
    geom[~(np.isfinite(df.lon) & np.isfinite(df.lat))] = None
    g = gpd.GeoDataFrame(df.drop(columns=["lon", "lat"]), geometry=geom, crs="EPSG:4326").to_crs(crs)
    for i, chunk in enumerate(np.array_split(np.arange(len(g)), parts)):
        g.iloc[chunk].to_parquet(folder / f"part.{i}.parquet")
    return folder


def _single_machine(services: Services, df: pd.DataFrame, tmp_path: Path, crs: str = "EPSG:4326") -> pd.DataFrame:
    src, dst = tmp_path / "pts.csv", tmp_path / "out.csv"
    df.to_csv(src, index=False, float_format="%.17g")
    services.assign_file(src, dst, crs=crs)
    return pd.read_csv(dst, dtype={"grid_code": str, "zone_code": str}, keep_default_na=False)


def _codes(frame: pd.DataFrame) -> list[tuple[int, str, str]]:
    clean = lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA else str(v)
    return sorted((int(i), clean(g), clean(z)) for i, g, z in zip(frame["id"], frame["grid_code"], frame["zone_code"]))


def test_dask_assign_matches_single_machine(store, client, tmp_path, monkeypatch):
    df = _points(3000)
    src = _write_geoparquet(df, tmp_path / "pts", parts=6)
    builds = []
    real_build = GridIndex.build.__func__
    monkeypatch.setattr(GridIndex, "build", classmethod(lambda cls, *a, **k: builds.append(1) or real_build(cls, *a, **k)))

    stats = dask_assign.assign_parquet(store, src, tmp_path / "out", client=client, partitions=8)
    # the index reached the (in-process) workers once, not once per partition
    assert len(builds) == 1
    got = gpd.read_parquet(tmp_path / "out")
    want = _single_machine(store, df, tmp_path)

    assert stats["rows"] == 3000 and stats["partitions"] == 8 and len(got) == 3000
    assert _codes(got) == _codes(want)
    by_id = {i: (g, z) for i, g, z in _codes(got)}
    assert by_id[0] == (GRIDS[0], ZONE) and by_id[1] == (GRIDS[1], ZONE)  # shared edges: lowest code
    assert by_id[3] == (GRIDS[1], ZONE) and by_id[5] == (GRIDS[2], ZONE)  # shared vertex; outer corner
    assert by_id[10] == ("", "") and by_id[11] == ("", "")
    outside = sum(1 for g, _ in by_id.values() if not g)
    assert 100 < outside < 2000 and stats["outside"] == outside
    assert got.crs.to_epsg() == 4326 and set(got["kind"]) == {"巡查", "热线"}


def test_dask_assign_reprojects_and_refuses_bad_input(store, client, tmp_path):
    df = _points(500, seed=3).dropna()
    src = _write_geoparquet(df, tmp_path / "merc", parts=2, crs="EPSG:3857")
    dask_assign.assign_parquet(store, src, tmp_path / "out", client=client)
    merc = gpd.read_parquet(src)  # the same Web Mercator input, through `gridmap assign --crs EPSG:3857`
    want = _single_machine(store, pd.DataFrame({"id": merc["id"], "lon": merc.geometry.x, "lat": merc.geometry.y}),
                           tmp_path, crs="EPSG:3857")
    assert _codes(gpd.read_parquet(tmp_path / "out")) == _codes(want)

    from gridmap.errors import InputError

    with pytest.raises(InputError, match="contradicts"):
        dask_assign.assign_parquet(store, src, tmp_path / "o2", client=client, crs="EPSG:4490")
    plain = tmp_path / "plain"
    plain.mkdir()
    df.rename(columns={"lon": "x"}).to_parquet(plain / "p.parquet")
    with pytest.raises(InputError, match="no column 'lon'"):
        dask_assign.assign_parquet(store, plain, tmp_path / "o3", client=client, crs="EPSG:4326")
    assert not (tmp_path / "o2").exists() and not (tmp_path / "o3").exists()


def test_cli_assign_engine_dask_on_a_scheduler(store, client, tmp_path):
    """The production path: `gridmap assign --engine dask --scheduler ADDRESS` with plain lon/lat Parquet."""
    df = _points(1200, seed=11)
    (tmp_path / "in").mkdir()
    for i, rows in enumerate(np.array_split(np.arange(len(df)), 3)):
        df.iloc[rows].to_parquet(tmp_path / "in" / f"p{i}.parquet", index=False)
    res = CliRunner().invoke(cli_main, ["--db", store.settings.db, "assign", str(tmp_path / "in"), "--out",
                                        str(tmp_path / "out"), "--engine", "dask", "--scheduler",
                                        client.scheduler.address, "--partitions", "4"])
    assert res.exit_code == 0, res.output
    assert "1,200 rows in 4 partitions" in res.output
    got = pd.read_parquet(tmp_path / "out")
    assert _codes(got) == _codes(_single_machine(store, df, tmp_path))
    assert got["lon"].isna().sum() == 1 and list(got.columns[:4]) == ["id", "lon", "lat", "kind"]
