"""Where the time of `gridmap assign` goes: the CLI's steps re-run one by one, timed.

Mirrors Services.assign_file -> assign._assign_csv (same functions, same order), so the
phases add up to roughly the whole process. Read-only use of gridmap internals.

Usage: python bench/profile_assign.py [--threads N] [--cprofile]
  --cprofile: instead, run the real CLI entry point under cProfile and print the top 30.
"""

from __future__ import annotations

import argparse
import time

T0 = time.perf_counter()
_marks: list[tuple[str, float]] = []


def _rss_mb() -> tuple[float, float]:
    import resource

    now = float("nan")
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                now = int(line.split()[1]) / 1024
    return now, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def mark(label: str) -> None:
    _marks.append((label, time.perf_counter(), *_rss_mb()))


def phases(threads: int | None) -> None:
    from pathlib import Path

    import numpy as np

    mark("start")
    import pyarrow as pa
    from pyarrow import csv as pacsv

    from gridmap.geo.crs import parse_crs
    from gridmap.registry import assign as A
    from gridmap.registry.model import Level
    from gridmap.services import Services
    from gridmap.settings import Settings
    from gridmap.store import open_store
    mark("imports (gridmap, sqlalchemy, shapely, numpy, pyarrow)")

    data = Path(__file__).resolve().parent / "data"
    src, dst = data / "points_1m.csv", data / "out_profile.csv"
    store = open_store(data / "bench.db", create=False)
    svc = Services(store, Settings.load({"db": str(data / "bench.db")}))
    mark("open store")
    levels = svc.store.unit_levels()
    mark("  store.unit_levels()")
    rows = svc.store.unit_rows([Level.grid])
    mark("  store.unit_rows(grid): read 50,000 WKB")
    parents = svc._parents()
    mark("  _parents(): unit_rows(all levels) again")
    import shapely

    from gridmap.registry.index import GridIndex

    geoms = shapely.from_wkb(rows.wkb)
    mark("  index: from_wkb")
    shapely.prepare(geoms)
    mark("  index: prepare 50,000 polygons")
    shapely.STRtree(geoms)
    mark("  index: STRtree")
    del geoms
    index = GridIndex.build(rows, parents, Level.grid)
    mark("  index: GridIndex.build() in full (repeats the 3 steps above + chains)")
    del rows, parents
    mark("  (drop the WKB rows and parents map)")
    del levels
    crs = parse_crs("EPSG:4326")
    header = ["id", "lon", "lat", "kind"]
    table = pacsv.read_csv(src, convert_options=pacsv.ConvertOptions(
        column_types={c: pa.string() for c in header}, strings_can_be_null=False))
    mark("CSV read (pyarrow, all columns as strings)")
    x = A._floats(table["lon"], "lon", src)
    y = A._floats(table["lat"], "lat", src)
    mark("text -> float64 (lon, lat)")
    lon, lat = A.xy_to_storage(x, y, crs)
    mark("xy_to_storage (EPSG:4326: identity)")
    idx = index.locate_many(lon, lat, threads=threads)
    mark(f"locate_many (threads={threads or 'default'})")
    index.locate_many(lon[:100_000], lat[:100_000], threads=threads)
    mark("  (locate_many again on 100k points: prepared locators now all built)")
    codes = np.append(index.codes, "")
    gc = pa.array(codes[idx], type=pa.string())
    zc = pa.array(index.ancestor_codes(idx, Level.zone), type=pa.string())
    table = table.append_column("grid_code", gc).append_column("zone_code", zc)
    mark("build output columns")
    pacsv.write_csv(table, dst, write_options=pacsv.WriteOptions(quoting_style="needed"))
    mark("CSV write (pyarrow)")
    dst.unlink()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--cprofile", action="store_true")
    args = ap.parse_args()
    if args.cprofile:
        import cProfile
        import pstats
        from pathlib import Path

        data = Path(__file__).resolve().parent / "data"
        from gridmap.cli import main as cli

        prof = cProfile.Profile()
        prof.enable()
        try:
            cli(["--db", str(data / "bench.db"), "assign", str(data / "points_1m.csv"),
                 "--out", str(data / "out_profile.csv")], standalone_mode=False)
        finally:
            prof.disable()
        pstats.Stats(prof).sort_stats("cumulative").print_stats(30)
        return
    phases(args.threads)
    prev = T0
    print(f"{'phase':75s} {'s':>6s} {'RSS MB':>7s} {'peak MB':>7s}")
    print(f"{'interpreter start-up to this script (not measured here; see -X importtime)':75s}")
    for label, t, now, peak in _marks:
        print(f"{label:75s} {t - prev:6.2f} {now:7.0f} {peak:7.0f}")
        prev = t
    print(f"{'total in script':75s} {prev - T0:6.2f}")


if __name__ == "__main__":
    main()
