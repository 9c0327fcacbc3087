"""Single-point locate with a warm index, in-process; index build time and peak memory.

1. Open the 50,000-grid store, build the index through Services(...).index; report the
   build time and the process's peak RSS (resource.getrusage ru_maxrss) before and after,
   measured before geopandas is imported so the figure is gridmap's own.
2. 100,000 calls of index.locate(lon, lat) on random points of the box (nearly all inside a
   grid; the few outside take the nearest-grid path), each timed with perf_counter_ns after
   a warm-up; percentiles in microseconds. Also Services.locate (the API/web entry point,
   which adds CRS parsing) on 20,000 points.
3. Baseline in the same run: a one-row geopandas.sjoin(predicate="within") per point against
   the grids GeoDataFrame with its spatial index already built (warm), 200 calls.

Usage: python bench/bench_locate.py [--calls 100000] [--baseline-calls 200]
Needs the data of bench/make_data.py. Writes bench/results/locate.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
RESULTS = HERE / "results"
BOX = (116.0, 36.5, 117.5, 38.0)


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def pct(ns: np.ndarray) -> dict[str, float]:
    us = ns / 1000.0
    return {"n": len(us), "mean": float(us.mean()), "p50": float(np.percentile(us, 50)),
            "p90": float(np.percentile(us, 90)), "p99": float(np.percentile(us, 99)),
            "p99.9": float(np.percentile(us, 99.9)), "max": float(us.max())}


def row(label: str, s: dict[str, float]) -> str:
    return (f"| {label} | {s['n']:,} | {s['p50']:.1f} | {s['p90']:.1f} | {s['p99']:.1f} | {s['p99.9']:.1f} | "
            f"{s['max']:.1f} | {s['mean']:.1f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=100_000)
    ap.add_argument("--baseline-calls", type=int, default=200)
    ap.add_argument("--out", default=str(RESULTS / "locate.md"))
    args = ap.parse_args()
    db = DATA / "bench.db"
    if not db.exists():
        sys.exit(f"missing {db}: run python bench/make_data.py first")

    # -- 1. index build and memory ---------------------------------------------------------
    import shapely

    from gridmap.services import Services
    from gridmap.store import open_store

    gc.collect()
    rss_imports = maxrss_mb()
    t0 = time.perf_counter()
    svc = Services(open_store(db, create=False))
    index = svc.index
    build_s = time.perf_counter() - t0
    gc.collect()
    rss_peak = maxrss_mb()
    rss_now = rss_mb()
    print(f"index of {len(index):,} grids built in {build_s:.2f} s (store open + read + index); "
          f"peak RSS {rss_peak:.0f} MB (after imports {rss_imports:.0f} MB), resident now {rss_now:.0f} MB", flush=True)

    # -- 2. single-point locate ------------------------------------------------------------
    rng = np.random.default_rng(7)
    n = args.calls
    lon = rng.uniform(BOX[0], BOX[2], 2 * n + 2000).tolist()
    lat = rng.uniform(BOX[1], BOX[3], 2 * n + 2000).tolist()
    clock = time.perf_counter_ns
    locate = index.locate

    def timed(lo: int) -> tuple[np.ndarray, np.ndarray, list]:
        times = np.empty(n, dtype=np.int64)
        inside = np.zeros(n, dtype=bool)
        codes: list[str | None] = [None] * n
        for i in range(n):
            x, y = lon[lo + i], lat[lo + i]
            t = clock()
            loc = locate(x, y)
            times[i] = clock() - t
            codes[i] = loc.grid
            inside[i] = loc.grid is not None
        return times, inside, codes

    for i in range(2000):  # warm-up of the interpreter paths
        locate(lon[2 * n + i], lat[2 * n + i])
    # pass 1: GEOS builds each polygon's point-in-area locator lazily, on its first test
    t_cold, in_cold, _ = timed(n)
    s_cold = pct(t_cold)
    print(f"index.locate x{n:,}, first pass (right after build): p50 {s_cold['p50']:.1f} us, "
          f"p99 {s_cold['p99']:.1f} us", flush=True)
    # make every locator exist (one point inside each grid), then measure memory: this is the
    # footprint of the fully warm index
    rep = shapely.get_coordinates(shapely.point_on_surface(index.geoms))
    index.locate_many(rep[:, 0], rep[:, 1])
    gc.collect()
    rss_warm_peak, rss_warm_now = maxrss_mb(), rss_mb()
    print(f"fully warm index: peak RSS {rss_warm_peak:.0f} MB, resident {rss_warm_now:.0f} MB", flush=True)
    # pass 2 (headline): warm index
    times, inside, codes = timed(0)
    s_all, s_in = pct(times), pct(times[inside])
    s_out = pct(times[~inside]) if (~inside).any() else None
    print(f"index.locate x{n:,}, warm: p50 {s_all['p50']:.1f} us, p90 {s_all['p90']:.1f}, p99 {s_all['p99']:.1f}, "
          f"p99.9 {s_all['p99.9']:.1f}, max {s_all['max']:.1f}; inside {inside.sum():,}, outside {(~inside).sum():,}",
          flush=True)
    m = min(20_000, n)
    svc_times = np.empty(m, dtype=np.int64)
    for i in range(m):
        x, y = lon[i], lat[i]
        t = clock()
        loc = svc.locate(x, y)
        svc_times[i] = clock() - t
        assert loc.grid == codes[i]
    s_svc = pct(svc_times)
    print(f"Services.locate x{m:,}: p50 {s_svc['p50']:.1f} us, p99 {s_svc['p99']:.1f} us", flush=True)

    # -- 3. baseline: one-row geopandas.sjoin per point ------------------------------------
    import geopandas as gpd

    grids = gpd.read_file(DATA / "grids.gpkg", layer="grids")[["code", "zone_code", "geometry"]]
    grids.sindex  # build the spatial index once (warm)
    k = args.baseline_calls
    base_times = np.empty(k, dtype=np.int64)
    agree = 0
    for i in range(5):  # warm-up
        gpd.sjoin(gpd.GeoDataFrame(geometry=[shapely.Point(lon[n + i], lat[n + i])], crs="EPSG:4326"), grids,
                  predicate="within", how="left")
    for i in range(k):
        x, y = lon[i], lat[i]
        t = clock()
        pt = gpd.GeoDataFrame(geometry=[shapely.Point(x, y)], crs="EPSG:4326")
        j = gpd.sjoin(pt, grids, predicate="within", how="left")
        code = j["code"].iloc[0]
        base_times[i] = clock() - t
        agree += int((None if not isinstance(code, str) else code) == codes[i])
    s_base = pct(base_times)
    # same points, gridmap's times
    s_same = pct(times[:k])
    ratio = s_base["p50"] / s_same["p50"]
    print(f"baseline sjoin x{k}: p50 {s_base['p50']:.0f} us, p99 {s_base['p99']:.0f} us; "
          f"gridmap on the same points p50 {s_same['p50']:.1f} us -> {ratio:.0f}x; agree {agree}/{k}", flush=True)

    p99_ok = s_all["p99"] < 100.0
    mem_ok = rss_warm_peak < 1024
    lines = [
        "# Single-point locate (warm index, in-process) and index memory",
        "",
        f"- Date: {dt.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"- Machine: {os.cpu_count()} CPUs (nproc), {platform.platform()}, Python {platform.python_version()}, "
        f"shapely {shapely.__version__} (GEOS {shapely.geos_version_string}), geopandas {gpd.__version__}",
        "- Command (cwd = repository root): `python bench/bench_locate.py"
        + (f" --calls {args.calls}" if args.calls != 100_000 else "")
        + (f" --baseline-calls {args.baseline_calls}" if args.baseline_calls != 200 else "") + "`",
        f"- Store: bench/data/bench.db ({len(index):,} grids, from bench/make_data.py)",
        "",
        "## Index build and memory",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| index build: open store + read 50,000 grids + parents + prepare + STRtree (`Services(...).index`) | {build_s:.2f} s |",
        f"| peak RSS after imports (python, numpy, shapely, sqlalchemy, gridmap) | {rss_imports:.0f} MB |",
        f"| peak RSS right after build (50,000 grids loaded, prepared, STRtree, point locators built by the warm-up) | {rss_peak:.0f} MB |",
        f"| resident RSS after build (after gc) | {rss_now:.0f} MB |",
        f"| **peak RSS with every grid's prepared locator built (fully warm index)** | **{rss_warm_peak:.0f} MB** |",
        f"| resident RSS, fully warm index | {rss_warm_now:.0f} MB |",
        "",
        f"Target (fully warm peak) < 1 GiB: {'met' if mem_ok else 'NOT met'}. (Measured with resource.getrusage ru_maxrss, before "
        "geopandas is imported. tracemalloc is not used: GEOS allocates outside Python's allocator, so it would miss "
        "most of the geometry memory. GEOS builds a prepared polygon's point-in-area locator on its first test, so "
        "the index grows after build; 'fully warm' is after one point in every grid has been located.)",
        "",
        "## Latency per call, microseconds",
        "",
        "| call | calls | p50 | p90 | p99 | p99.9 | max | mean |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        row("`index.locate(lon, lat)`, first pass right after build", s_cold),
        row("**`index.locate(lon, lat)`, warm index, all points**", s_all),
        row("`index.locate`, points inside a grid", s_in),
        *( [row("`index.locate`, points outside every grid (nearest-grid search)", s_out)] if s_out else []),
        row("`Services.locate(lon, lat)` (adds CRS parsing)", s_svc),
        row("`index.locate` on the baseline's points", s_same),
        row("baseline: one-row `geopandas.sjoin(predicate=\"within\")`, sindex warm", s_base),
        "",
        f"**index.locate p99 = {s_all['p99']:.1f} us** (target < 100 us: {'met' if p99_ok else 'NOT met'}); "
        f"p50 {s_all['p50']:.1f} us. Baseline/gridmap median ratio on the same {k} points: **{ratio:.0f}x**; "
        f"same grid in {agree}/{k}.",
        "",
        f"Points: uniform random in the box lon {BOX[0]}-{BOX[2]}, lat {BOX[1]}-{BOX[3]} (fixed seed); "
        f"{inside.sum():,} inside a grid, {(~inside).sum():,} outside (near the wiggly outer edge). 2,000 untimed warm-up "
        "calls, then a first timed pass on other points right after the build (which builds every locator), then one point located in every grid, then the "
        "headline pass; each call timed with time.perf_counter_ns; the garbage collector stays on (as in a server).",
        "",
    ]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
