"""The index's arrays: a bucket grid over the polygons' boxes and their flat coordinates.

Plain numpy arrays (no GEOS objects), so they can be written beside the store and
memory-mapped back (gridmap/registry/indexcache.py), and walked by the compiled kernel
(gridmap/registry/pipkernel.py). Coordinates are EPSG:4326 lon/lat, exactly the stored doubles.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

import numpy as np
import shapely

_POLYGON, _MULTI = int(shapely.GeometryType.POLYGON), int(shapely.GeometryType.MULTIPOLYGON)


@dataclass
class FlatIndex:
    """Shapely's ragged layout of (Multi)Polygons in index order, plus the bucket grid.

    Polygon i has parts geom_part[i]:geom_part[i+1], part p has rings part_ring[p]:part_ring[p+1],
    ring r has coordinates ring_off[r]:ring_off[r+1] of xy (closed). multi[i]: it was a MultiPolygon.
    """

    buckets: "Buckets"
    geom_part: np.ndarray  # int64, n + 1
    part_ring: np.ndarray  # int64, parts + 1
    ring_off: np.ndarray  # int64, rings + 1
    xy: np.ndarray  # float64 (coordinates, 2)
    multi: np.ndarray  # bool, n

    slabs: "Slabs | None" = None

    def edge_slabs(self) -> "Slabs":
        """Each polygon's edges by horizontal slab (built on first use; cached with the rest)."""
        if self.slabs is None:
            self.slabs = Slabs.build(self)
        return self.slabs

    @property
    def geom_ring(self) -> np.ndarray:
        """First ring of each polygon (n + 1): the kernel counts crossings over all its rings."""
        if not hasattr(self, "_geom_ring"):
            self._geom_ring = np.ascontiguousarray(self.part_ring[self.geom_part], np.int64)
        return self._geom_ring

    @classmethod
    def from_geoms(cls, geoms: np.ndarray, buckets: "Buckets | None" = None) -> "FlatIndex":
        """From (Multi)Polygons in index order; `buckets` reused when already built."""
        if buckets is None:
            buckets = Buckets.build(shapely.bounds(geoms))
        n = len(geoms)
        if n == 0:
            z = np.zeros(1, np.int64)
            return cls(buckets, z, z, z, np.zeros((0, 2)), np.zeros(0, bool))
        types = shapely.get_type_id(geoms)
        if not np.isin(types, (_POLYGON, _MULTI)).all():
            raise ValueError("grid geometries must be polygons")
        kind, xy, offsets = shapely.to_ragged_array(geoms)
        if int(kind) == _POLYGON:
            ring_off, part_ring = offsets
            geom_part = np.arange(n + 1)
        else:
            ring_off, part_ring, geom_part = offsets
        as64 = lambda a: np.ascontiguousarray(a, np.int64)  # noqa: E731
        return cls(buckets, as64(geom_part), as64(part_ring), as64(ring_off), np.ascontiguousarray(xy, np.float64),
                   types == _MULTI)

    def candidates_xy(self, x: float, y: float) -> np.ndarray:
        """Indices (ascending) of the polygons whose bbox holds the point (x, y)."""
        cell = int(self.buckets.cell_of(np.array([x], float), np.array([y], float))[0])
        if cell < 0:
            return np.array([], dtype=np.int64)
        items = np.asarray(self.buckets.items[self.buckets.start[cell]:self.buckets.start[cell + 1]])
        b = self.buckets.bounds[items]
        return items[(b[:, 0] <= x) & (x <= b[:, 2]) & (b[:, 1] <= y) & (y <= b[:, 3])]

    def subset_geoms(self, which: np.ndarray) -> np.ndarray:
        """The polygons of the indices `which` only, rebuilt from the flat arrays."""
        out = np.empty(len(which), dtype=object)
        for k, i in enumerate(which):
            parts = []
            for p in range(self.geom_part[i], self.geom_part[i + 1]):
                rings = [np.asarray(self.xy[self.ring_off[r]:self.ring_off[r + 1]])
                         for r in range(self.part_ring[p], self.part_ring[p + 1])]
                parts.append(shapely.Polygon(rings[0], rings[1:]))
            out[k] = shapely.MultiPolygon(parts) if self.multi[i] else parts[0]
        return out

    def geoms(self) -> np.ndarray:
        """The shapely polygons rebuilt from the flat arrays (same coordinates, same types)."""
        n = len(self.geom_part) - 1
        if n == 0:
            return np.array([], dtype=object)
        out = shapely.from_ragged_array(shapely.GeometryType.MULTIPOLYGON, np.asarray(self.xy),
                                        (np.asarray(self.ring_off), np.asarray(self.part_ring),
                                         np.asarray(self.geom_part)))
        single = ~np.asarray(self.multi)
        out[single] = shapely.get_geometry(out[single], 0)
        return out


SLABS = 16  # horizontal slabs per polygon: a point is tested against ~1/16 of the edges


@dataclass
class Slabs:
    """Per polygon, its bbox height cut into SLABS bands; each band lists the edges meeting it.

    Edge j joins xy[j] and xy[j+1]. Band of y in polygon g: clip(floor((y - y0[g]) / h[g])), so
    an edge whose closed y-range holds y is always listed in y's band (floor is monotonic).
    """

    y0: np.ndarray  # float64, n
    h: np.ndarray  # float64, n
    start: np.ndarray  # int64, n * SLABS + 1
    edges: np.ndarray  # int32 (or int64 past 2**31 coordinates)

    @classmethod
    def build(cls, flat: "FlatIndex") -> "Slabs":
        b = flat.buckets.bounds
        y0 = np.ascontiguousarray(b[:, 1], np.float64)
        h = (b[:, 3] - b[:, 1]) / SLABS
        h[~(h > 0)] = 1.0
        if importlib.util.find_spec("numba") is not None:
            from .pipkernel import slab_edges

            start, edges = slab_edges(flat, y0, h)  # compiled: O(n) memory (the numpy way holds ~8 arrays per edge)
            return cls(y0, h, start, edges)
        n = len(flat.geom_part) - 1
        xy = np.asarray(flat.xy)
        ring_off = np.asarray(flat.ring_off)
        ring_geom = np.repeat(np.arange(n), np.diff(flat.geom_ring))
        # every coordinate but the closing one of each ring starts an edge
        is_start = np.ones(len(xy), bool)
        is_start[ring_off[1:] - 1] = False
        j = np.flatnonzero(is_start)
        g = np.repeat(ring_geom, np.diff(ring_off) - 1)
        ya, yb = xy[j, 1], xy[j + 1, 1]
        lo, hi = np.minimum(ya, yb), np.maximum(ya, yb)
        s0 = np.clip(np.floor((lo - y0[g]) / h[g]), 0, SLABS - 1).astype(np.int64)
        s1 = np.clip(np.floor((hi - y0[g]) / h[g]), 0, SLABS - 1).astype(np.int64)
        per = s1 - s0 + 1
        key = np.repeat(g * SLABS + s0, per) + (np.arange(per.sum()) - np.repeat(np.cumsum(per) - per, per))
        order = np.argsort(key, kind="stable")
        counts = np.bincount(key, minlength=n * SLABS)
        start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        edges = np.repeat(j, per)[order].astype(np.int32 if len(xy) < 2**31 else np.int64)
        return cls(y0, h, start, edges)


@dataclass
class Buckets:
    """A uniform grid over the polygons' extent; each cell lists the polygons whose bbox meets it.

    Stored as CSR arrays (start[cell] .. start[cell+1] into items), built with numpy only.
    The cell size is a quarter of the median polygon bbox, so a cell lists a handful of
    polygons and a polygon sits in about 25 cells.
    """

    x0: float
    y0: float
    size: float
    nx: int
    ny: int
    start: np.ndarray
    items: np.ndarray
    bounds: np.ndarray

    @classmethod
    def build(cls, bounds: np.ndarray) -> "Buckets":
        x0, y0 = bounds[:, 0].min(), bounds[:, 1].min()
        x1, y1 = bounds[:, 2].max(), bounds[:, 3].max()
        extent = max(x1 - x0, y1 - y0, 1e-9)
        size = float(np.median(np.maximum(bounds[:, 2] - bounds[:, 0], bounds[:, 3] - bounds[:, 1]))) / 4
        size = max(size, extent / 4096)  # at most 4096 x 4096 cells
        nx = int((x1 - x0) / size) + 1
        ny = int((y1 - y0) / size) + 1
        ix0 = ((bounds[:, 0] - x0) / size).astype(np.int64)
        iy0 = ((bounds[:, 1] - y0) / size).astype(np.int64)
        ix1 = np.minimum(((bounds[:, 2] - x0) / size).astype(np.int64), nx - 1)
        iy1 = np.minimum(((bounds[:, 3] - y0) / size).astype(np.int64), ny - 1)
        w, h = ix1 - ix0 + 1, iy1 - iy0 + 1
        per = w * h
        poly = np.repeat(np.arange(len(bounds)), per)
        k = np.arange(per.sum()) - np.repeat(np.cumsum(per) - per, per)  # 0..per-1 within each polygon
        wr = np.repeat(w, per)
        cells = (np.repeat(iy0, per) + k // wr) * nx + np.repeat(ix0, per) + k % wr
        order = np.lexsort((poly, cells))  # by cell, then polygon index (= code order)
        counts = np.bincount(cells, minlength=nx * ny)
        start = np.concatenate([[0], np.cumsum(counts)])
        return cls(float(x0), float(y0), size, nx, ny, start, poly[order], bounds)

    def cell_of(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Cell number of each point; -1 for points outside the extent (or NaN)."""
        with np.errstate(invalid="ignore"):
            fx = np.floor((x - self.x0) / self.size)
            fy = np.floor((y - self.y0) / self.size)
            ok = (fx >= 0) & (fx < self.nx) & (fy >= 0) & (fy < self.ny)
        cell = np.full(len(x), -1, dtype=np.int64)
        cell[ok] = fy[ok].astype(np.int64) * self.nx + fx[ok].astype(np.int64)
        return cell

    def candidates(self, cell: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(point position, polygon index) pairs for points in the given cells."""
        lo, hi = self.start[cell], self.start[cell + 1]
        counts = hi - lo
        pi = np.repeat(np.arange(len(cell)), counts)
        offs = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        return pi, self.items[np.repeat(lo, counts) + offs]
