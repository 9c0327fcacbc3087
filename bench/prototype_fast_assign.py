"""PROTOTYPE, not gridmap: a measured sketch of the changes suggested for `gridmap assign`.

Does the same job as `gridmap --db DB assign POINTS.csv --out OUT.csv` (grid_code and
zone_code appended, input text kept, covers + lowest code) on the same SQLite store,
with these differences, each one a suggestion for gridmap/:

1. Store read with sqlite3 directly, one query, WKB only for the grid level (gridmap reads
   every unit's WKB twice through SQLAlchemy: unit_rows(grid) and _parents()).
2. Candidates from a uniform bucket grid over polygon bounding boxes in numpy (CSR arrays)
   instead of shapely.points(1M) + STRtree.query: no point geometries are created.
3. Points visited in bucket order (locality, like the Morton sort) in chunks on threads;
   prepared intersects_xy as in GridIndex.locate_many.
4. lon/lat text -> float with one pc.cast (fallback to the trim/empty path only on error).
5. Output columns with Arrow `take` on a dictionary of codes (no 1M Python str objects).
6. No SQLAlchemy, click, pandas (pyarrow imports pandas lazily on many numpy<->arrow
   conversions; buffers are passed directly here), pyproj at start-up.

Usage: python bench/prototype_fast_assign.py DB POINTS.csv OUT.csv [--threads N]
"""

from __future__ import annotations

import os
import sqlite3
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from pyarrow import csv as pacsv

T0 = time.perf_counter()
TIMES: list[tuple[str, float]] = []


def mark(label: str) -> None:
    TIMES.append((label, time.perf_counter()))


def load(db: str):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    plan = con.execute("SELECT max(version) FROM plans WHERE status = 'published'").fetchone()[0]
    rows = con.execute(
        "SELECT code, parent_code, level, CASE WHEN level = 'grid' THEN geom_wkb END FROM units "
        "WHERE plan = ? AND level != 'micro' ORDER BY code", (plan,)).fetchall()
    con.close()
    parents = {c: (p, lv) for c, p, lv, _ in rows}
    grids = [(c, w) for c, _, lv, w in rows if lv == "grid"]
    codes = [c for c, _ in grids]
    geoms = shapely.from_wkb([w for _, w in grids])
    zone = []
    for c in codes:  # walk up to the zone ancestor
        p, seen = parents[c][0], {c}
        while p is not None and p in parents and p not in seen and parents[p][1] != "zone":
            seen.add(p)
            p = parents[p][0]
        zone.append(p if p is not None and p in parents and parents[p][1] == "zone" else "")
    return codes, zone, geoms


class Buckets:
    """Uniform grid over the polygons' bounding boxes: cell -> polygon indices (CSR)."""

    def __init__(self, geoms: np.ndarray, div: int = 4):
        b = shapely.bounds(geoms)
        self.b = b
        self.x0, self.y0 = b[:, 0].min(), b[:, 1].min()
        size = float(np.median(np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]))) / div
        self.s = size
        self.nx = int(np.ceil((b[:, 2].max() - self.x0) / size)) + 1
        self.ny = int(np.ceil((b[:, 3].max() - self.y0) / size)) + 1
        c0, c1 = self._col(b[:, 0]), self._col(b[:, 2])
        r0, r1 = self._row(b[:, 1]), self._row(b[:, 3])
        w, h = c1 - c0 + 1, r1 - r0 + 1
        k = w * h
        poly = np.repeat(np.arange(len(geoms)), k)
        j = np.arange(k.sum()) - np.repeat(np.cumsum(k) - k, k)
        wk = np.repeat(w, k)
        cell = (np.repeat(r0, k) + j // wk) * self.nx + np.repeat(c0, k) + j % wk
        o = np.lexsort((poly, cell))
        self.poly = poly[o]
        self.start = np.searchsorted(cell[o], np.arange(self.nx * self.ny + 1))

    def _col(self, x):
        return np.floor((x - self.x0) / self.s).astype(np.int64)

    def _row(self, y):
        return np.floor((y - self.y0) / self.s).astype(np.int64)

    def cells(self, x, y):
        cx, cy = self._col(x), self._row(y)
        ok = (cx >= 0) & (cx < self.nx) & (cy >= 0) & (cy < self.ny)
        return np.where(ok, cy * self.nx + cx, -1)

    def candidates(self, cell, x, y):
        valid = cell >= 0
        c = np.where(valid, cell, 0)
        st = self.start[c]
        n = np.where(valid, self.start[c + 1] - st, 0)
        pi = np.repeat(np.arange(len(x)), n)
        gi = self.poly[np.repeat(st, n) + np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)]
        b, px, py = self.b, x[pi], y[pi]
        keep = (b[gi, 0] <= px) & (px <= b[gi, 2]) & (b[gi, 1] <= py) & (py <= b[gi, 3])
        return pi[keep], gi[keep]


def locate_many(geoms, buckets: Buckets, lon, lat, threads: int) -> np.ndarray:
    out = np.full(len(lon), -1, dtype=np.int64)
    cell = buckets.cells(np.nan_to_num(lon, nan=-1e300), np.nan_to_num(lat, nan=-1e300))
    order = np.argsort(cell, kind="stable")
    order = order[cell[order] >= 0]
    chunk = max(10_000, len(order) // (threads * 4) + 1)

    def work(idx):
        x, y = lon[idx], lat[idx]
        pi, gi = buckets.candidates(cell[idx], x, y)
        ok = shapely.intersects_xy(geoms[gi], x[pi], y[pi])
        best = np.full(len(idx), np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(best, pi[ok], gi[ok])
        best[best == np.iinfo(np.int64).max] = -1
        return idx, best

    with ThreadPoolExecutor(threads) as pool:
        for idx, best in pool.map(work, [order[i:i + chunk] for i in range(0, len(order), chunk)]):
            out[idx] = best
    return out


def floats(col: pa.ChunkedArray) -> np.ndarray:
    try:
        arr = pc.cast(col, pa.float64()).combine_chunks()
    except pa.ArrowInvalid:  # blanks / padding: the slower, lenient path
        text = pc.utf8_trim_whitespace(col)
        arr = pc.cast(pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text), pa.float64()).combine_chunks()
    vals = np.frombuffer(arr.buffers()[1], dtype=np.float64, count=len(arr) + arr.offset)[arr.offset:].copy()
    if arr.null_count:
        valid = np.unpackbits(np.frombuffer(arr.buffers()[0], dtype=np.uint8), bitorder="little")
        vals[~valid[arr.offset:arr.offset + len(arr)].astype(bool)] = np.nan
    return vals


def string_array(values: list[str]) -> pa.Array:
    """A pyarrow string array from Python str, built from buffers (no pandas import)."""
    data = [v.encode() for v in values]
    offsets = np.zeros(len(data) + 1, dtype=np.int32)
    np.cumsum([len(d) for d in data], out=offsets[1:])
    return pa.StringArray.from_buffers(len(data), pa.py_buffer(offsets), pa.py_buffer(b"".join(data)))


def take(dictionary: pa.Array, idx: np.ndarray) -> pa.Array:
    idx = np.ascontiguousarray(idx, dtype=np.int32)
    return dictionary.take(pa.Array.from_buffers(pa.int32(), len(idx), [None, pa.py_buffer(idx)]))


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    threads = int(sys.argv[sys.argv.index("--threads") + 1]) if "--threads" in sys.argv else min(4, os.cpu_count() or 1)
    if "--threads" in sys.argv:
        args.remove(str(threads))
    db, src, dst = args
    mark("imports")
    codes, zones, geoms = load(db)
    mark("store read (sqlite3, one query) + from_wkb")
    shapely.prepare(geoms)
    buckets = Buckets(geoms)
    mark("prepare + bucket grid")
    header = open(src, encoding="utf-8-sig").readline().rstrip("\r\n").split(",")
    table = pacsv.read_csv(src, convert_options=pacsv.ConvertOptions(
        column_types={c: pa.string() for c in header}, strings_can_be_null=False))
    mark("CSV read")
    lon, lat = floats(table["lon"]), floats(table["lat"])
    mark("lon/lat to float")
    idx = locate_many(geoms, buckets, lon, lat, threads)
    mark(f"locate_many ({threads} threads)")
    n = len(codes)
    table = table.append_column("grid_code", take(string_array(codes + [""]), np.where(idx < 0, n, idx)))
    table = table.append_column("zone_code", take(string_array(zones + [""]), np.where(idx < 0, n, idx)))
    mark("output columns (take)")
    pacsv.write_csv(table, dst, write_options=pacsv.WriteOptions(quoting_style="needed"))
    mark("CSV write")
    prev = T0
    for label, t in TIMES:
        print(f"  {label:45s} {t - prev:6.2f} s", file=sys.stderr)
        prev = t
    print(f"  {'total after interpreter start':45s} {prev - T0:6.2f} s; assigned {(idx >= 0).sum():,}; "
          f"pandas imported: {'pandas' in sys.modules}", file=sys.stderr)


if __name__ == "__main__":
    main()
