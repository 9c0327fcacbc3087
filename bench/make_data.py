"""Generate the benchmark data set (fixed seed, cached in bench/data/).

* 50,000 grids tiling a 1.5° x 1.5° box in Shandong (lon 116-117.5, lat 36.5-38): a Voronoi
  tessellation of random seeds whose every edge is densified and displaced by a smooth
  deterministic noise field, so each grid has ~50-200 vertices ("wiggly", like digitised
  boundaries) while neighbours share *identical* edges (each edge is densified once, in a
  canonical direction, and the noise is a pure function of the coordinates).
* 500 zones (contiguous groups of ~100 grids, geometry = union of their grids).
* Codes in the national style: county 371403 + town (3) + zone (3) = 12-digit zone code,
  + grid serial (3) = 15-digit grid code; grid serials in reading order within the zone.
* bench/data/grids.gpkg (layer "grids": code, name, zone_code, geometry; layer "zones"),
  bench/data/points_1m.csv (id,lon,lat,kind: 1,000,000 uniform random points in the box),
  bench/data/bench.db (gridmap SQLite store, written through the Python API
  `open_store(...).add_units(...)`, not `gridmap import`: no geodesic area/perimeter, no
  validation pass; the assign/locate paths do not read those columns).

Usage: python bench/make_data.py [--force] [--grids N] [--points N]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import shapely

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
SEED = 20250611
BOX = (116.0, 36.5, 117.5, 38.0)
COUNTY = "371403"
N_ZONES = 500
ZONES_PER_TOWN = 10

# Noise octaves: (wavelength in degrees, amplitude in degrees). Amplitude/wavelength stays
# small (max slope of each wave 2*pi*A/L ~ 0.1-0.2) so the displacement is a smooth,
# near-identity map of the plane: the tiling stays a tiling and rings stay simple.
OCTAVES = [(0.012, 0.00035), (0.004, 0.00010), (0.0012, 0.000025), (0.0004, 0.000006)]
WAVES_PER_OCTAVE = 3


def log(msg: str) -> None:
    print(f"[make_data {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def noise_field(seed: int):
    """A smooth vector field (dx, dy) = f(x, y): sums of plane waves, fixed by `seed`."""
    rng = np.random.default_rng(seed)
    waves = []
    for wavelength, amp in OCTAVES:
        for _ in range(WAVES_PER_OCTAVE):
            for comp in (0, 1):
                theta = rng.uniform(0, 2 * np.pi)
                k = 2 * np.pi / wavelength
                waves.append((comp, k * np.cos(theta), k * np.sin(theta), rng.uniform(0, 2 * np.pi),
                              amp / np.sqrt(WAVES_PER_OCTAVE)))

    def f(xy: np.ndarray) -> np.ndarray:
        x = xy[:, 0] - BOX[0]
        y = xy[:, 1] - BOX[1]
        d = np.zeros_like(xy)
        for comp, kx, ky, phase, amp in waves:
            d[:, comp] += amp * np.sin(kx * x + ky * y + phase)
        return xy + d

    return f


def wiggly_tiling(n: int, rng: np.random.Generator, target_min: float = 50, target_max: float = 160) -> np.ndarray:
    """n polygons tiling BOX with densified, perturbed, exactly shared edges."""
    box = shapely.box(*BOX)
    seeds = rng.uniform((BOX[0], BOX[1]), (BOX[2], BOX[3]), size=(n, 2))
    log(f"voronoi of {n:,} seeds")
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=box, ordered=True))
    cells = shapely.intersection(cells, box)
    # Snap to 1e-9 degrees so a vertex shared by several cells is bit-identical in all of them.
    cells = shapely.transform(cells, lambda c: np.round(c, 9))
    cells = shapely.normalize(cells)  # exterior rings clockwise, deterministic start vertex
    keep = shapely.get_type_id(cells) == 3
    cells = cells[keep]
    log(f"{len(cells):,} cells; densifying edges")

    coords, ring_of = shapely.get_coordinates(shapely.get_exterior_ring(cells), return_index=True)
    # consecutive pairs inside each ring (rings are closed: last == first)
    same = ring_of[1:] == ring_of[:-1]
    p = coords[:-1][same]
    q = coords[1:][same]
    cell_of_edge = ring_of[:-1][same]
    nonzero = np.any(p != q, axis=1)
    p, q, cell_of_edge = p[nonzero], q[nonzero], cell_of_edge[nonzero]
    # canonical direction: lexicographically smaller endpoint first
    swap = (p[:, 0] > q[:, 0]) | ((p[:, 0] == q[:, 0]) & (p[:, 1] > q[:, 1]))
    a = np.where(swap[:, None], q, p)
    b = np.where(swap[:, None], p, q)
    keys = np.hstack([a, b])
    uniq, edge_id, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    edge_id = edge_id.ravel()
    log(f"{len(uniq):,} distinct edges ({(counts == 2).sum():,} shared, {(counts == 1).sum():,} on the box, "
        f"{(counts > 2).sum()} seen >2 times)")

    # per-cell perimeter, to pick segment lengths
    ua, ub = uniq[:, :2], uniq[:, 2:]
    length = np.hypot(*(ub - ua).T)
    per_cell_perimeter = np.bincount(cell_of_edge, weights=length[edge_id], minlength=len(cells))
    # segment length per distinct edge: from the smaller perimeter of the (one or two) cells
    # sharing it, so small cells get as many vertices as big ones (a function of the edge
    # only, so both neighbours densify it identically)
    small = np.full(len(uniq), np.inf)
    np.minimum.at(small, edge_id, per_cell_perimeter[cell_of_edge])
    # vertex density varies smoothly over the map (detailed urban boundaries vs plainer
    # rural ones): target vertices per ring from ~50 to ~200, evaluated at the edge midpoint
    mid = (ua + ub) / 2
    u = 0.5 + 0.25 * (np.sin(2 * np.pi * (mid[:, 0] - BOX[0]) / 0.37 + 1.0)
                      + np.sin(2 * np.pi * (mid[:, 1] - BOX[1]) / 0.29 + 2.0))
    target = target_min + (target_max - target_min) * u
    nseg = np.maximum(1, np.ceil(length / (small / target)).astype(np.int64))
    # interior points of each distinct edge, computed once in the canonical direction
    n_int = nseg - 1
    int_start = np.concatenate([[0], np.cumsum(n_int)[:-1]])
    e_rep = np.repeat(np.arange(len(uniq)), n_int)
    i_rep = np.arange(n_int.sum()) - np.repeat(int_start, n_int) + 1
    t = (i_rep / nseg[e_rep])[:, None]
    interior = ua[e_rep] + (ub[e_rep] - ua[e_rep]) * t

    # perturb: vertices (by their exact coordinates) and interior points, with one field
    f = noise_field(SEED + 1)
    interior = f(interior)
    start_pts = f(p)  # the start vertex of each cell edge, in the cell's own direction

    # assemble each ring: for every cell edge, its start vertex then its interior points
    # (forward if the cell runs the edge canonically, reversed otherwise)
    m = n_int[edge_id]
    block = 1 + m
    out_start = np.concatenate([[0], np.cumsum(block)[:-1]])
    total = int(block.sum())
    xy = np.empty((total, 2))
    xy[out_start] = start_pts
    occ = np.repeat(np.arange(len(edge_id)), m)
    j = np.arange(m.sum()) - np.repeat(np.concatenate([[0], np.cumsum(m)[:-1]]), m)  # 0..m-1
    fwd = ~swap[occ]
    src = int_start[edge_id[occ]] + np.where(fwd, j, m[occ] - 1 - j)
    xy[out_start[occ] + 1 + j] = interior[src]
    ring_index = np.repeat(cell_of_edge, block)
    rings = shapely.linearrings(xy, indices=ring_index)
    polys = shapely.polygons(rings)
    return polys


def zones_for(polys: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Zone number (0..N_ZONES-1) of each grid: Lloyd-relaxed nearest-seed groups (contiguous)."""
    c = shapely.get_coordinates(shapely.centroid(polys))
    centres = c[rng.choice(len(c), N_ZONES, replace=False)]
    tree_label = None
    for _ in range(6):
        tree = shapely.STRtree(shapely.points(centres))
        tree_label = tree.query_nearest(shapely.points(c), all_matches=False)[1]
        for z in range(N_ZONES):
            sel = tree_label == z
            if sel.any():
                centres[z] = c[sel].mean(axis=0)
    return tree_label


def build(n_grids: int, n_points: int, force: bool) -> None:
    DATA.mkdir(exist_ok=True)
    meta_path = DATA / "meta.json"
    want = json.loads(json.dumps({"seed": SEED, "grids": n_grids, "points": n_points, "octaves": OCTAVES, "version": 1}))
    if not force and meta_path.exists() and json.loads(meta_path.read_text()).get("params") == want \
            and all((DATA / f).exists() for f in ("grids.gpkg", "points_1m.csv", "bench.db")):
        log(f"cached data in {DATA} is up to date (use --force to rebuild)")
        return
    t0 = time.perf_counter()
    rng = np.random.default_rng(SEED)
    polys = wiggly_tiling(n_grids, rng)
    valid = shapely.is_valid(polys)
    n_invalid = int((~valid).sum())
    if n_invalid:
        log(f"{n_invalid} invalid polygons: repairing with make_valid (polygonal parts kept)")
        fixed = shapely.make_valid(polys[~valid])
        fixed = np.array([shapely.union_all([g for g in shapely.get_parts(x) if g.geom_type in ("Polygon", "MultiPolygon")])
                          for x in fixed], dtype=object)
        polys[~valid] = fixed
    nverts = shapely.get_num_coordinates(polys)
    area_sum = float(shapely.area(polys).sum())
    box_area = (BOX[2] - BOX[0]) * (BOX[3] - BOX[1])
    log(f"{len(polys):,} grids; vertices min {nverts.min()} / p5 {np.percentile(nverts, 5):.0f} / median "
        f"{np.median(nverts):.0f} / p95 {np.percentile(nverts, 95):.0f} / max {nverts.max()}; "
        f"area sum / box area = {area_sum / box_area:.6f}")
    t = time.perf_counter()
    cov_ok = bool(shapely.coverage_is_valid(polys))
    log(f"coverage_is_valid (no overlaps, edges match exactly): {cov_ok} ({time.perf_counter() - t:.1f} s)")

    # zones and codes
    zone_no = zones_for(polys, rng)
    from gridmap.registry.codes import reading_order  # read-only use of the project's code rules

    zone_codes = [f"{COUNTY}{z // ZONES_PER_TOWN + 1:03d}{z % ZONES_PER_TOWN + 1:03d}" for z in range(N_ZONES)]
    grid_code = np.empty(len(polys), dtype=object)
    grid_zone = np.empty(len(polys), dtype=object)
    zone_geoms = []
    sizes = np.bincount(zone_no, minlength=N_ZONES)
    assert sizes.max() <= 999, sizes.max()
    for z in range(N_ZONES):
        members = np.flatnonzero(zone_no == z)
        order = reading_order(polys[members])
        for serial, i in enumerate(order, start=1):
            grid_code[members[i]] = f"{zone_codes[z]}{serial:03d}"
        grid_zone[members] = zone_codes[z]
        zone_geoms.append(shapely.coverage_union_all(polys[members]))
    log(f"{N_ZONES} zones of {sizes.min()}-{sizes.max()} grids (median {np.median(sizes):.0f})")

    import geopandas as gpd
    import pandas as pd

    gpkg = DATA / "grids.gpkg"
    gpkg.unlink(missing_ok=True)
    grids = gpd.GeoDataFrame({"code": grid_code, "name": [f"网格{c[-3:]}" for c in grid_code],
                              "zone_code": grid_zone}, geometry=polys, crs="EPSG:4326")
    grids = grids.sort_values("code", ignore_index=True)
    grids.to_file(gpkg, layer="grids", driver="GPKG")
    zones = gpd.GeoDataFrame({"code": zone_codes, "name": [f"管区{c[-6:]}" for c in zone_codes]},
                             geometry=zone_geoms, crs="EPSG:4326")
    zones.to_file(gpkg, layer="zones", driver="GPKG")
    log(f"wrote {gpkg} ({gpkg.stat().st_size / 1e6:.0f} MB)")

    # points
    prng = np.random.default_rng(SEED + 2)
    lon = prng.uniform(BOX[0], BOX[2], n_points)
    lat = prng.uniform(BOX[1], BOX[3], n_points)
    kinds = np.array(["巡查", "走访", "热线", "随手拍"], dtype=object)
    pts = pd.DataFrame({"id": np.arange(1, n_points + 1), "lon": lon, "lat": lat,
                        "kind": kinds[prng.integers(0, len(kinds), n_points)]})
    csv = DATA / "points_1m.csv"
    pts.to_csv(csv, index=False, float_format="%.7f")
    log(f"wrote {csv} ({csv.stat().st_size / 1e6:.0f} MB, {n_points:,} rows)")

    # gridmap store through the Python API
    from gridmap.registry.model import Level, Unit
    from gridmap.store import open_store

    db = DATA / "bench.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    t = time.perf_counter()
    store = open_store(db, create=True)
    units = [Unit(code=c, name=nm, level=Level.zone, geometry=g) for c, nm, g in zip(zones.code, zones.name, zone_geoms)]
    units += [Unit(code=c, name=nm, level=Level.grid, geometry=g, parent_code=z)
              for c, nm, z, g in zip(grids.code, grids.name, grids.zone_code, grids.geometry.values)]
    store.add_units(units)
    store.close()
    log(f"wrote {db} ({db.stat().st_size / 1e6:.0f} MB) via open_store().add_units() in {time.perf_counter() - t:.1f} s")

    stats = {"grids": len(polys), "invalid_repaired": n_invalid, "coverage_is_valid": cov_ok,
             "vertices": {"min": int(nverts.min()), "p5": float(np.percentile(nverts, 5)),
                          "median": float(np.median(nverts)), "p95": float(np.percentile(nverts, 95)),
                          "max": int(nverts.max()), "mean": float(nverts.mean())},
             "zones": N_ZONES, "points": n_points, "area_ratio": area_sum / box_area}
    meta_path.write_text(json.dumps({"params": want, "stats": stats}, indent=2))
    log(f"done in {time.perf_counter() - t0:.0f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--force", action="store_true", help="rebuild even if the cache is current")
    ap.add_argument("--grids", type=int, default=50_000)
    ap.add_argument("--points", type=int, default=1_000_000)
    args = ap.parse_args()
    build(args.grids, args.points, args.force)


if __name__ == "__main__":
    sys.exit(main())
