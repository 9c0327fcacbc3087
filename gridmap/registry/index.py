"""GridIndex: which grid covers a point. Built once per plan, queried many times.

Boundary rule (documented, deterministic): a grid covers a point on its boundary
("covers", not strict "contains"), so a point on a shared edge or vertex is covered by 2 or
more grids; it is assigned to the one with the lowest code (codes compare as strings, which
for same-length national codes is numeric order). A point covered by no grid gets none.
All coordinates are EPSG:4326 lon/lat.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import shapely

from ..geo.crs import distance_m
from ..store.base import UnitRows
from .flatindex import Buckets, FlatIndex
from .model import Level, Location


@dataclass(eq=False)
class GridIndex:
    """Grid polygons sorted by code (index order = code order): an STRtree over the prepared
    polygons for single points, a bucket grid and flat coordinates for many.

    Built from store rows (build) or from the arrays of the index cache (from_flat): then
    the shapely polygons and the STRtree are made on first use only (a bulk job with the
    compiled kernel never needs them).
    """

    codes: np.ndarray  # object array of str, sorted
    names: list[str]
    chains: list[dict[str, str]]  # per grid: {level: code} of its ancestors
    level: Level
    buckets: "Buckets | None" = None
    flat: FlatIndex | None = None
    _geoms: np.ndarray | None = None
    _tree: shapely.STRtree | None = None
    origin: str = "store"  # "cache": loaded from the persisted index (indexcache.py)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    @property
    def geoms(self) -> np.ndarray:
        """Prepared shapely polygons, EPSG:4326 (rebuilt from the flat arrays if needed)."""
        if self._geoms is None:
            with self._lock:
                if self._geoms is None:
                    assert self.flat is not None  # built from arrays: geoms() or flat is always there
                    self._geoms = _prepared(self.flat.geoms())
        return self._geoms

    @property
    def tree(self) -> shapely.STRtree:
        """STRtree over the polygons (single-point queries, nearest)."""
        if self._tree is None:
            geoms = self.geoms
            with self._lock:
                if self._tree is None:
                    self._tree = shapely.STRtree(geoms)
        return self._tree

    def _bucket_grid(self) -> "Buckets":
        if self.buckets is None:
            self.buckets = self.flat.buckets if self.flat is not None else Buckets.build(shapely.bounds(self.geoms))
        return self.buckets

    def flat_index(self) -> FlatIndex:
        """The bucket grid and flat coordinates (what the index cache stores)."""
        if self.flat is None:
            self.flat = FlatIndex.from_geoms(self.geoms, self._bucket_grid())
        return self.flat

    @classmethod
    def build(cls, rows: UnitRows, parents: dict[str, tuple[str | None, Level]], level: Level = Level.grid,
              geoms: np.ndarray | None = None, flat_only: bool = False) -> "GridIndex":
        """Build from columnar unit rows and a {code: (parent_code, level)} map of all units.

        `geoms`: the rows' polygons already decoded (then rows.wkb is not read). `flat_only`:
        keep only the flat arrays (a bulk job with the kernel): no prepared polygons, no tree.
        """
        if geoms is None:
            geoms = shapely.from_wkb(rows.wkb) if rows.wkb else np.array([], dtype=object)
        order = np.argsort(np.asarray(rows.code, dtype=object), kind="stable") if rows.code else np.array([], int)
        codes = np.asarray(rows.code, dtype=object)[order] if rows.code else np.array([], dtype=object)
        chains = [_chain(code, parents) for code in codes]
        names = [rows.name[i] for i in order]
        if flat_only:
            flat = FlatIndex.from_geoms(np.asarray(geoms, dtype=object)[order])
            return cls(codes, names, chains, level, buckets=flat.buckets, flat=flat)
        geoms = _prepared(np.asarray(geoms, dtype=object)[order])
        return cls(codes, names, chains, level, _geoms=geoms, _tree=shapely.STRtree(geoms))

    @classmethod
    def from_flat(cls, codes: np.ndarray, names: list[str], chains: list[dict[str, str]], level: Level,
                  flat: FlatIndex) -> "GridIndex":
        """From arrays already in code order (the index cache): no GEOS object is made yet."""
        return cls(np.asarray(codes, dtype=object), names, chains, level, buckets=flat.buckets, flat=flat,
                   origin="cache")

    def __len__(self) -> int:
        return len(self.codes)

    def chain_of(self, code: str) -> dict[str, str] | None:
        """{level: code} of a grid's ancestors, or None if `code` is not a grid of this index."""
        if not hasattr(self, "_position"):
            self._position = {str(c): i for i, c in enumerate(self.codes)}
        i = self._position.get(code)
        return None if i is None else self.chains[i]

    # -- one point --------------------------------------------------------------------------
    def covering(self, lon: float, lat: float) -> np.ndarray:
        """Indices (ascending, i.e. by code) of every grid covering the point."""
        if self._geoms is None and self.flat is not None:
            # loaded from the index cache: test the few candidates without making all polygons
            cand = self.flat.candidates_xy(lon, lat)
            return cand[shapely.intersects_xy(self.flat.subset_geoms(cand), lon, lat)] if len(cand) else cand
        cand = self.tree.query(shapely.Point(lon, lat))
        if len(cand) == 0:
            return cand
        hit = cand[shapely.intersects_xy(self.geoms[cand], lon, lat)]
        hit.sort()
        return hit

    def locate(self, lon: float, lat: float, nearest_max_m: float | None = None) -> Location:
        """The grid covering (lon, lat); if none, the nearest grid and its distance in metres.

        `nearest_max_m` bounds the nearest-grid search (None: no bound).
        """
        if not (np.isfinite(lon) and np.isfinite(lat)):
            raise ValueError("longitude and latitude must be finite numbers")
        hits = self.covering(lon, lat)
        if len(hits):
            i = int(hits[0])
            return Location(lon, lat, str(self.codes[i]), self.chains[i], tuple(str(self.codes[j]) for j in hits))
        near = self.nearest(lon, lat, nearest_max_m)
        if near is None:
            return Location(lon, lat, None)
        i, dist = near
        return Location(lon, lat, None, nearest=str(self.codes[i]), distance_m=dist)

    def nearest(self, lon: float, lat: float, max_m: float | None = None) -> tuple[int, float] | None:
        """(index, metres) of the grid nearest to a point, by true geodesic distance.

        The tree finds the nearest grid in degrees, d0. Because a degree of longitude is
        cos(lat) times shorter than one of latitude, the metrically nearest grid lies within
        d0 / cos(lat) degrees; each of those candidates is measured in metres.
        """
        if len(self) == 0:
            return None
        pt = shapely.Point(lon, lat)
        first = self.tree.query_nearest(pt, return_distance=True, all_matches=False)
        d0 = float(first[1][0])
        radius = d0 / max(np.cos(np.radians(lat)), 0.01) * 1.001 + 1e-12
        cand = self.tree.query(pt, predicate="dwithin", distance=radius)
        dists = [(distance_m(lon, lat, self.geoms[i]), int(i)) for i in sorted(cand)]
        dist, i = min(dists)
        if max_m is not None and dist > max_m:
            return None
        return i, dist

    # -- many points ------------------------------------------------------------------------
    def locate_many(self, lon: np.ndarray, lat: np.ndarray, threads: int | None = None,
                    progress=None, kernel: bool | None = None) -> np.ndarray:
        """Index of the covering grid (lowest code on a boundary) for each point; -1 if none.

        With numba installed (gridmap[fast]) the compiled kernel (pipkernel.py) tests the
        candidates, and GEOS only the few points it cannot decide; else GEOS tests them all.
        Same answers either way. `kernel`: force one path (None: the kernel when available).
        `progress(n)` is called as chunks finish.
        """
        from . import pipkernel

        if kernel is None:
            kernel = pipkernel.available()
        if not kernel:
            return self._locate_many_geos(lon, lat, threads, progress)
        lon = np.ascontiguousarray(lon, dtype="float64")
        lat = np.ascontiguousarray(lat, dtype="float64")
        if len(lon) == 0 or len(self) == 0:
            return np.full(len(lon), -1, dtype=np.int64)
        threads = threads or min(4, os.cpu_count() or 1)
        out = pipkernel.locate_flat(self.flat_index(), lon, lat, threads, progress)
        unsure = np.flatnonzero(out == pipkernel.UNSURE)
        if len(unsure):
            out[unsure] = self._locate_many_geos(lon[unsure], lat[unsure], 1, None)
        return out

    def _locate_many_geos(self, lon: np.ndarray, lat: np.ndarray, threads: int | None = None,
                          progress=None) -> np.ndarray:
        """locate_many with every candidate tested by GEOS (prepared intersects_xy).

        Candidates come from a uniform bucket grid over the polygons' bounding boxes (numpy
        only: no point geometries are built, unlike STRtree.query). Points are visited
        bucket by bucket so consecutive tests hit the same few prepared polygons (cache
        locality), in chunks spread over threads (shapely releases the GIL).
        `progress(n)` is called as chunks finish.
        """
        lon = np.ascontiguousarray(lon, dtype="float64")
        lat = np.ascontiguousarray(lat, dtype="float64")
        n = len(lon)
        out = np.full(n, -1, dtype=np.int64)
        if n == 0 or len(self) == 0:
            return out
        grid = self._bucket_grid()
        cell = grid.cell_of(lon, lat)  # -1 outside the grid's extent or not finite
        order = np.flatnonzero(cell >= 0)
        order = order[np.argsort(cell[order], kind="stable")]
        threads = threads or min(4, os.cpu_count() or 1)
        # 100k points a chunk at most: each chunk's candidate arrays are ~10 int64 per point,
        # so this bounds their memory (a few 100 MB at 250k with 4 threads) at little cost.
        chunk = max(20_000, min(100_000, len(order) // (threads * 4) + 1))
        pieces = [order[i:i + chunk] for i in range(0, len(order), chunk)]
        big = np.iinfo(np.int64).max

        def work(idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            x, y = lon[idx], lat[idx]
            pi, gi = grid.candidates(cell[idx])
            b = grid.bounds[gi]
            px, py = x[pi], y[pi]
            inbox = (px >= b[:, 0]) & (px <= b[:, 2]) & (py >= b[:, 1]) & (py <= b[:, 3])
            pi, gi = pi[inbox], gi[inbox]
            ok = shapely.intersects_xy(self.geoms[gi], x[pi], y[pi])
            best = np.full(len(idx), big, dtype=np.int64)
            np.minimum.at(best, pi[ok], gi[ok])
            best[best == big] = -1
            return idx, best

        with ThreadPoolExecutor(max_workers=threads) as pool:
            for idx, best in pool.map(work, pieces):
                out[idx] = best
                if progress is not None:
                    progress(len(idx))
        return out

    def ancestor_codes(self, idx: np.ndarray, level: Level) -> np.ndarray:
        """For grid indices (-1 for none), the code of their ancestor at `level` ('' if none)."""
        table = np.array([c.get(level.value, "") for c in self.chains] + [""], dtype=object)
        return table[np.where(idx < 0, len(self.chains), idx)]


def _prepared(geoms: np.ndarray) -> np.ndarray:
    """Prepare polygons and build their point locators now, thread-safely."""
    shapely.prepare(geoms)
    if len(geoms):
        # GEOS builds a prepared polygon's indexed point locator lazily, on its second
        # test (the first is answered without an index), and that lazy build is not
        # thread-safe: two threads racing on one polygon crashed with a double free.
        # So test the centre of every bbox twice now, threads on disjoint halves only.
        b = shapely.bounds(geoms)
        cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
        halves = np.array_split(np.arange(len(geoms)), 2 if len(geoms) > 2000 else 1)

        def warm(h: np.ndarray) -> None:
            for _ in range(2):
                shapely.intersects_xy(geoms[h], cx[h], cy[h])

        with ThreadPoolExecutor(max_workers=len(halves)) as pool:
            list(pool.map(warm, halves))
    return geoms


def _chain(code: str, parents: dict[str, tuple[str | None, Level]]) -> dict[str, str]:
    chain: dict[str, str] = {}
    seen = {code}
    parent = parents.get(code, (None, None))[0]
    while parent is not None and parent in parents and parent not in seen:
        seen.add(parent)
        chain[parents[parent][1].value] = parent
        parent = parents[parent][0]
    return chain
