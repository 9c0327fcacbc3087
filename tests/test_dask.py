"""Dask path (gridmap/scale): same grid per point and same metric table as the single-machine path.

One small LocalCluster per module (2 in-process workers, one thread each); small data.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
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
from gridmap.registry.index import GridIndex
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
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    gpd.GeoDataFrame({"id": [1, 2]}, geometry=[shapely.Point(116.05, 39.05), shapely.box(116, 39, 116.1, 39.1)],
                     crs="EPSG:4326").to_parquet(mixed / "p.parquet")
    with pytest.raises(InputError, match="1 geometries are not points .* Polygon"):
        dask_assign.assign_parquet(store, mixed, tmp_path / "o4", client=client)
    assert not any((tmp_path / o).exists() for o in ("o2", "o3", "o4"))
    assert not list(tmp_path.glob("o4.tmp-*"))  # the half-written output was removed


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


# -- metrics ------------------------------------------------------------------------------------
CST = dt.timezone(dt.timedelta(hours=8))


def _history(n: int, seed: int = 5) -> list[Incident]:
    """Varied incidents: every status, missing keys, deadlines met and missed, ratings, merges."""
    rnd = random.Random(seed)
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    out = []
    for i in range(1, n + 1):
        rep = t0 + dt.timedelta(minutes=rnd.randrange(0, 60 * 24 * 200), microseconds=rnd.randrange(10**6))
        status = rnd.choice(STATUSES)
        due = rep + dt.timedelta(hours=rnd.choice([4, 24, 72])) if rnd.random() < 0.85 else None
        closed = rep + dt.timedelta(seconds=rnd.randrange(60, 3600 * 120), microseconds=rnd.randrange(10**6)) \
            if status == "closed" and rnd.random() < 0.95 else None
        out.append(Incident(
            id=str(i), category=rnd.choice(["road", "litter", "noise"]), lon=116.0 + rnd.random() * 0.3,
            lat=39.0 + rnd.random() * 0.1, reported_at=rep, status=status,
            grid_code=rnd.choice([*GRIDS, None]), zone_code=rnd.choice([ZONE, "110101001002", None]),
            town_code=rnd.choice(["110101001", "110101002", None]),
            assignee=rnd.choice(["P1", "P3", None]), due_at=due, closed_at=closed,
            rework_count=rnd.choice([0, 0, 0, 1, 2]), extended=rnd.random() < 0.1,
            rating=rnd.choice([None, None, 1, 2, 3, 4, 5]) if status == "closed" else None,
            merged_into=str(rnd.randrange(1, i + 1)) if status == "filed" and rnd.random() < 0.05 else None))
    return out


@pytest.fixture(scope="module")
def history(tmp_path_factory, client) -> tuple[list[Incident], Path]:
    incidents = _history(4000)
    rnd = random.Random(1)
    shuffled = incidents[:]
    rnd.shuffle(shuffled)  # partitions hold incidents in no particular order
    folder = tmp_path_factory.mktemp("history")
    assert dask_metrics.write_history(dask_metrics.incidents_frame(shuffled), folder, rows_per_partition=700) == 6
    return incidents, folder


WINDOW = (dt.datetime(2026, 2, 1, tzinfo=CST), dt.datetime(2026, 6, 1, tzinfo=CST), dt.datetime(2026, 5, 1, tzinfo=CST))


@pytest.mark.parametrize("by", ["grid", "zone", "town", "worker", "category", "all"])
def test_dask_metrics_equal_the_single_machine_table(history, by):
    incidents, folder = history
    start, end, as_of = WINDOW
    got = dask_metrics.compute_metrics(dask_metrics.read_history(folder), by, start, end, as_of)
    want = single.compute(incidents, by, start, end, as_of)  # incidents in id order
    assert got == want
    assert sum(m.count for m in got) == sum(1 for i in incidents if start <= i.reported_at < end) > 1000
    assert any(m.key is None for m in got) == (by in ("grid", "zone", "town", "worker"))
    assert any(m.p90_hours_to_close for m in got) and any(m.on_time_rate for m in got)
    if by == "zone":
        assert dask_metrics.rank_zones(got) == single.rank_zones(want)


def test_dask_metrics_per_month_and_empty_range(history):
    incidents, folder = history
    start, end, as_of = WINDOW
    got = dask_metrics.compute_metrics(dask_metrics.read_history(folder), "month", start, end, as_of, tz="Asia/Shanghai")
    assert [m.key for m in got] == ["2026-02", "2026-03", "2026-04", "2026-05"]
    for m in got:
        y, mo = map(int, m.key.split("-"))
        lo = dt.datetime(y, mo, 1, tzinfo=CST)
        hi = dt.datetime(y + mo // 12, mo % 12 + 1, 1, tzinfo=CST)
        (one,) = single.compute(incidents, "all", lo, hi, as_of)
        assert m == dataclasses.replace(one, key=m.key)
    empty = dask_metrics.compute_metrics(dask_metrics.read_history(folder), "all",
                                         dt.datetime(2030, 1, 1, tzinfo=CST), dt.datetime(2030, 2, 1, tzinfo=CST))
    assert empty == single.compute(incidents, "all", dt.datetime(2030, 1, 1, tzinfo=CST),
                                   dt.datetime(2030, 2, 1, tzinfo=CST))


def test_dask_metrics_refuse_bad_data(tmp_path, client):
    bad = _history(50, seed=9)
    bad[17].status = "lost"
    folder = tmp_path / "bad"
    dask_metrics.write_history(dask_metrics.incidents_frame(bad), folder, rows_per_partition=20)
    start, end, _ = WINDOW
    with pytest.raises(ValueError, match="incident 18: unknown status 'lost'"):
        dask_metrics.compute_metrics(dask_metrics.read_history(folder), "zone", start, end)
    with pytest.raises(ValueError, match="by must be one of"):
        dask_metrics.compute_metrics(dask_metrics.read_history(folder), "street", start, end)


def test_dask_by_town_on_a_history_exported_without_town_code_says_export_again(history, tmp_path, client):
    """A history written before town_code was kept is still read; only by town is refused, clearly."""
    from gridmap.errors import InputError

    incidents, folder = history
    old = tmp_path / "old"
    old.mkdir()
    for part in sorted(folder.glob("*.parquet")):
        gpd.read_parquet(part).drop(columns=["town_code"]).to_parquet(old / part.name, index=False)
    start, end, as_of = WINDOW
    h = dask_metrics.read_history(old)
    assert dask_metrics.compute_metrics(h, "zone", start, end, as_of) == single.compute(incidents, "zone", start, end,
                                                                                      as_of)
    with pytest.raises(InputError, match="export-history"):
        dask_metrics.compute_metrics(h, "town", start, end, as_of)



def test_store_history_exported_and_measured_on_dask(db_url, sample_dir, tmp_path, client):
    """End to end: incidents in the store (both backends) -> GeoParquet partitions -> Dask metrics."""
    s = Services.open(Settings(db=db_url), create=True)
    try:
        load_sample(s, sample_dir)
        from gridmap.incidents.model import Event

        incidents = _history(600, seed=21)
        s.store.incidents.add_many([(i, Event("", i.reported_at, "test", "import", None, i.status), None)
                                    for i in incidents])
        assert dask_metrics.export_history(s.store, tmp_path / "hist", rows_per_partition=250) == 3
        stored = sorted(s.store.incidents.query(), key=lambda i: int(i.id))
    finally:
        s.store.close()
    start, end, as_of = WINDOW
    history = dask_metrics.read_history(tmp_path / "hist")
    assert history.npartitions == 3
    for by in ("zone", "month"):
        got = dask_metrics.compute_metrics(history, by, start, end, as_of)
        if by == "zone":
            assert got == single.compute(stored, "zone", start, end, as_of)
        else:
            assert sum(m.count for m in got) == sum(1 for i in stored if start <= i.reported_at < end)


@pytest.mark.slow
def test_cli_assign_engine_dask_starts_its_own_local_cluster(store, tmp_path):
    """No --scheduler and no DASK_SCHEDULER_ADDRESS: the command runs a local cluster of its own."""
    import os
    import subprocess
    import sys

    df = _points(800, seed=13)
    src = _write_geoparquet(df, tmp_path / "in", parts=2)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRIDMAP_", "DASK_", "LC_", "LANG"))}
    env["LC_ALL"] = "en_US.UTF-8"  # the CLI follows the locale: this test reads its English summary
    out = subprocess.run([sys.executable, "-m", "gridmap", "--db", store.settings.db, "assign", str(src), "--out",
                          str(tmp_path / "out"), "--engine", "dask", "--workers", "2"],
                         env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "800 rows in 2 partitions" in out.stderr and "local cluster of 2 workers" in out.stderr
    got = gpd.read_parquet(tmp_path / "out")
    assert got.crs.to_epsg() == 4326
    assert _codes(got) == _codes(_single_machine(store, df, tmp_path))


def test_cli_metrics_on_dask_equal_the_store_path(store, client, tmp_path):
    """`incidents export-history` then `incidents metrics --history` (Dask) = `incidents metrics` (store)."""
    from gridmap.incidents.model import Event

    incidents = _history(300, seed=33)
    store.store.incidents.add_many([(i, Event("", i.reported_at, "test", "import", None, i.status), None)
                                    for i in incidents])
    db = ["--db", store.settings.db]
    res = CliRunner().invoke(cli_main, [*db, "incidents", "export-history", str(tmp_path / "hist"),
                                        "--rows-per-partition", "100"])
    assert res.exit_code == 0 and "wrote 3 partitions" in res.output, res.output
    span = ["--from", "2026-02-01", "--to", "2026-06-01", "--json"]
    metric_fields = set(single.Metrics.__dataclass_fields__) - {"mean_hours_to_close"}
    for by in ("zone", "grid", "month"):  # month: the store path computes it in SQL too now
        plain = CliRunner().invoke(cli_main, [*db, "incidents", "metrics", "--by", by, *span])
        on_dask = CliRunner().invoke(cli_main, [*db, "incidents", "metrics", "--by", by, *span, "--history",
                                                str(tmp_path / "hist"), "--scheduler", client.scheduler.address])
        assert plain.exit_code == 0 and on_dask.exit_code == 0, (plain.output, on_dask.output)
        store_rows, dask_rows = json.loads(plain.output), json.loads(on_dask.output)
        assert store_rows and len(store_rows) == len(dask_rows)
        for a, b in zip(store_rows, dask_rows):  # the store adds the hotline's 三率; means are float sums
            assert {k: a[k] for k in metric_fields} == {k: b[k] for k in metric_fields}
            assert a["mean_hours_to_close"] == b["mean_hours_to_close"] or \
                a["mean_hours_to_close"] == pytest.approx(b["mean_hours_to_close"], rel=1e-12)
            assert "response_rate" in a
    plain = CliRunner().invoke(cli_main, [*db, "incidents", "metrics", "--by", "town", *span])
    town = CliRunner().invoke(cli_main, [*db, "incidents", "metrics", "--by", "town", *span, "--history",
                                         str(tmp_path / "hist"), "--scheduler", client.scheduler.address])
    assert town.exit_code == 0, town.output  # --by town was refused with --history before issue #12
    assert [r["key"] for r in json.loads(town.output)] == [r["key"] for r in json.loads(plain.output)]
    assert [r["count"] for r in json.loads(town.output)] == [r["count"] for r in json.loads(plain.output)]
