"""Coverage check of a synthetic county of 5,000 grids with planted gaps, overlaps and stray pieces.

The grids are a wiggly Voronoi tiling made by bench/make_data.py's `wiggly_tiling` (shared,
densified, noise-displaced edges; ~50-240 vertices per grid) over a 0.5° x 0.5° county
(lon 116-116.5, lat 37-37.5, about 2,460 km²). Planted: 3 gaps (a corner bitten out of a grid),
3 grids grown by 20 m into their neighbours (overlaps), 1 border grid grown out of the county,
1 sliver split off a grid, 1 self-intersecting grid. Timed (median of --reps runs, after one
warm-up): (1) the pure check, county against its 5,000 grids (`check_coverage`); (2) the
service over a SQLite store holding county -> 10 towns -> 100 zones -> 5,000 grids, every parent
(`PlanningService.coverage()`: store read + 111 checks); (3) the whole `gridmap check --coverage
--json` process. Every planted problem must be found. -> bench/results/coverage.md

Usage: python bench/bench_coverage.py [--grids 5000] [--reps 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import shapely

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import make_data  # noqa: E402  (the project's synthetic tiling)

from gridmap.analysis.coverage import check_coverage  # noqa: E402
from gridmap.geo.crs import area_perimeter_m  # noqa: E402
from gridmap.registry.model import Level, Unit  # noqa: E402

COUNTY_BOX = (116.0, 37.0, 116.5, 37.5)
COUNTY = "371499"
SEED = 20261123


def tiling(n: int) -> np.ndarray:
    make_data.BOX = COUNTY_BOX  # the tiling and its noise field read the module's box
    polys = make_data.wiggly_tiling(n, np.random.default_rng(SEED))
    bad = ~shapely.is_valid(polys)
    polys[bad] = [shapely.union_all([g for g in shapely.get_parts(shapely.make_valid(x))
                                     if g.geom_type in ("Polygon", "MultiPolygon")]) for x in polys[bad]]
    return polys


def plant(polys: np.ndarray, county) -> tuple[np.ndarray, list[dict], list]:
    """Plant problems; returns the damaged grids, what was planted, and extra (sliver) children."""
    rng = np.random.default_rng(SEED + 1)
    polys = polys.copy()
    planted = []
    c = shapely.centroid(polys)
    interior = np.flatnonzero(shapely.distance(c, county.boundary) > 0.02)
    border = np.flatnonzero(shapely.distance(polys, county.boundary) == 0)
    picks = rng.choice(interior, 8, replace=False)
    for k in picks[:3]:  # gaps: bite a 60 m x 60 m corner out at a vertex
        x, y = shapely.get_coordinates(polys[k])[0]
        bite = shapely.intersection(polys[k], shapely.box(x - 0.0004, y - 0.0004, x + 0.0004, y + 0.0004))
        polys[k] = shapely.difference(polys[k], bite)
        planted.append({"kind": "gap", "grid": int(k), "area_m2": area_perimeter_m(bite)[0]})
    for k in picks[3:6]:  # overlaps: grow 20 m into the neighbours
        polys[k] = shapely.buffer(polys[k], 0.0002, join_style="mitre")
        planted.append({"kind": "overlap", "grid": int(k)})
    k = int(rng.choice(border))  # outside: a border grid grown 30 m out of the county
    polys[k] = shapely.buffer(polys[k], 0.0003, join_style="mitre")
    planted.append({"kind": "outside", "grid": k})
    k = int(picks[6])  # sliver: a 4 m x 4 m piece split off as a child of its own (same zone)
    x, y = shapely.get_coordinates(shapely.point_on_surface(polys[k]))[0]
    sliver = shapely.box(x, y, x + 0.00004, y + 0.00004)
    polys[k] = shapely.difference(polys[k], sliver)
    planted.append({"kind": "sliver", "grid": len(polys), "area_m2": area_perimeter_m(sliver)[0]})
    k = int(picks[7])  # invalid: a bow-tie (two vertices swapped)
    xy = shapely.get_coordinates(polys[k].exterior)
    xy[[1, 2]] = xy[[2, 1]]
    polys[k] = shapely.Polygon(xy)
    planted.append({"kind": "invalid", "grid": k})
    return polys, planted, [(k, sliver)]


def zone_codes(clean: np.ndarray) -> list[str]:
    """100 contiguous zones of ~50 grids (make_data's Lloyd-relaxed groups), 10 per town; zone code per grid."""
    make_data.N_ZONES = 100
    zone_no = make_data.zones_for(clean, np.random.default_rng(SEED + 2))
    return [f"{COUNTY}{z // 10 + 1:03d}{z % 10 + 1:03d}" for z in zone_no]


def units_for(polys, extra, zones: list[str]):
    """Grid units: zone code + a serial; an extra piece (k, geometry) joins the zone of grid k."""
    geoms = list(polys) + [g for _, g in extra]
    parents = list(zones) + [zones[k] for k, _ in extra]
    serial: dict[str, int] = {}
    units = []
    for g, z in zip(geoms, parents):
        serial[z] = serial.get(z, 0) + 1
        units.append(Unit(f"{z}{serial[z]:03d}", f"网格{serial[z]:03d}", Level.grid, g, parent_code=z))
    return units, [u.code for u in units]


def store_with(units, clean, county, path: Path):
    """county -> towns -> zones -> grids (zones and towns from the undamaged tiling), through the store API."""
    from gridmap.store import open_store

    zones = {}
    for u, g in zip(units, clean):
        zones.setdefault(u.parent_code, []).append(g)
    zone_units = [Unit(z, f"管区{z[-3:]}", Level.zone, shapely.coverage_union_all(kids), parent_code=z[:9])
                  for z, kids in zones.items()]
    towns = {}
    for z in zone_units:
        towns.setdefault(z.parent_code, []).append(z)
    town_units = [Unit(t, f"镇{t[-3:]}", Level.town, shapely.coverage_union_all([z.geometry for z in kids]),
                       parent_code=COUNTY)
                  for t, kids in towns.items()]
    store = open_store(str(path), create=True)
    store.add_units([Unit(COUNTY, "合成县", Level.county, county)] + town_units + zone_units + units)
    store.close()


def timed(fn, reps):
    fn()  # warm-up
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), min(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--grids", type=int, default=5000)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    t = time.perf_counter()
    clean = tiling(args.grids)
    county = shapely.coverage_union_all(clean)
    polys, planted, extra = plant(clean, county)
    zones = zone_codes(clean)
    units, codes = units_for(polys, extra, zones)
    print(f"{len(units):,} grids, {int(shapely.get_num_coordinates(polys).sum()):,} vertices, made in "
          f"{time.perf_counter() - t:.1f} s", flush=True)
    parent = Unit(COUNTY, "合成县", Level.county, county)
    pure_med, pure_min, problems = timed(lambda: check_coverage(parent, units), args.reps)
    print(f"pure check: median {pure_med:.2f} s, {len(problems)} problems", flush=True)
    clean_units, _ = units_for(clean, [], zones)
    clean_med, _, clean_problems = timed(lambda: check_coverage(parent, clean_units), args.reps)
    found = _match(planted, problems, codes)

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "county.db"
        store_with(units, clean, county, db)
        from gridmap.services import Services
        from gridmap.settings import Settings

        services = Services.open(Settings(db=str(db)))
        svc_med, _, all_problems = timed(lambda: services.analysis.coverage(), args.reps)
        services.store.close()
        env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDMAP_")}
        cli = []
        for _ in range(args.reps):
            t = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "gridmap", "--db", str(db), "check", "--coverage", "--json"],
                                  capture_output=True, text=True, env=env)
            cli.append(time.perf_counter() - t)
        cli_rows = json.loads(proc.stdout)
        assert proc.returncode == 1, proc.stderr
    _write(args, units, polys, pure_med, pure_min, clean_med, clean_problems, problems, found, svc_med, all_problems,
           statistics.median(cli), len(cli_rows))


def _match(planted, problems, codes):
    rows = []
    for p in planted:
        code = codes[p["grid"]]
        hits = [q for q in problems if q.kind == p["kind"] and code in q.codes]
        area = sum(q.area_m2 for q in hits)
        rows.append((p["kind"], code, len(hits), area, p.get("area_m2")))
        assert hits, f"planted {p['kind']} at {code} not found"
    return rows


def _write(args, units, polys, pure_med, pure_min, clean_med, clean_problems, problems, found, svc_med,
           all_problems, cli_med, cli_n):
    kinds = {}
    for p in problems:
        kinds[p.kind] = kinds.get(p.kind, 0) + 1
    lines = [
        "# Coverage check: a county of 5,000 grids", "",
        f"{time.strftime('%Y-%m-%d %H:%M')}, {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, shapely {shapely.__version__} (GEOS {shapely.geos_version_string}).",
        f"Command: `python bench/bench_coverage.py --grids {args.grids} --reps {args.reps}` (median of {args.reps} "
        "runs after a warm-up; the machine is shared, so expect noise).", "",
        f"Data: {len(units):,} grids ({int(shapely.get_num_coordinates(polys).sum()):,} vertices) from "
        "bench/make_data.py's wiggly tiling over a 0.5° x 0.5° county, with planted problems.", "",
        "| job | time | goal |", "| --- | --- | --- |",
        f"| county vs 5,000 grids, planted problems (`check_coverage`) | {pure_med:.2f} s (best {pure_min:.2f} s) | < 5 s |",
        f"| county vs 5,000 grids, exact tiling (fast coverage union) | {clean_med:.2f} s, {len(clean_problems)} problems | |",
        f"| every parent from a SQLite store: county, 10 towns, 100 zones (`PlanningService.coverage()`) | {svc_med:.2f} s, "
        f"{len(all_problems)} problems | |",
        f"| whole process `gridmap check --coverage --json` (start-up, store read, every parent) | {cli_med:.2f} s, "
        f"{cli_n} problems | |", "",
        "Problems found in the county check: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())), "",
        "| planted | grid | problems naming it | area found (m²) | area planted (m²) |", "| --- | --- | --- | --- | --- |",
    ]
    lines += [f"| {k} | {c} | {n} | {a:,.1f} | {'' if p is None else f'{p:,.1f}'} |" for k, c, n, a, p in found]
    lines += ["", "The overlaps of a grown grid are one problem per neighbour; the gap area is the bitten corner "
              "(geodesic area of the bite, computed separately with pyproj.Geod)."]
    out = HERE / "results" / "coverage.md"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
