"""A compiled point-in-polygon kernel for bulk locate (numba, optional: gridmap[fast]).

GEOS answers one (point, prepared polygon) test in about a microsecond, most of it the
cost of the call; a million points make 1.5 million such tests. This kernel walks the same
bucket grid as GridIndex.locate_many and tests each candidate with a ray-crossing count
over the polygon's flat coordinates, stopping at the first polygon that covers the point
(cells list polygons in code order, so the first hit is the lowest code: the boundary rule).

Same answers as GEOS, by construction: GEOS (IndexedPointInAreaLocator / RayCrossingCounter)
counts the crossings of a rightward ray with every segment of every ring, with an exact
orientation test. Here each orientation is computed in floating point with Shewchuk's
error bound (orient2d's filter, ccwerrboundA): where the sign is certain it is the exact
sign, so the parity is GEOS's; a point exactly on a vertex or a horizontal edge is covered
(certain, exact comparisons); where an orientation is too close to zero to be sure (a point
on or within ~1e-16 relative of an edge) the kernel gives up on that point (-2) and the
caller asks GEOS. Coordinates are EPSG:4326 lon/lat; boundary points are covered.
"""

from __future__ import annotations

import numpy as np

from .flatindex import SLABS

UNSURE = -2  # the kernel could not decide this point: ask GEOS

try:  # numba is optional; without it GridIndex uses shapely's vectorised tests
    import numba as _nb
except ImportError:  # pragma: no cover - exercised where the extra is not installed
    _nb = None  # type: ignore[assignment]

_CCW_ERR = (3.0 + 16.0 * 2.0 ** -53) * 2.0 ** -53  # Shewchuk's ccwerrboundA


def available() -> bool:
    """True when the compiled kernel can be used (numba installed)."""
    return _nb is not None


def _pip(g, px, py, y0, h, slab_start, edges, xy):  # pragma: no cover - compiled
    """1 covered, 0 not, UNSURE: point (px, py) against polygon g (the edges of its slab)."""
    s = int(np.floor((py - y0[g]) / h[g]))
    s = min(max(s, 0), SLABS - 1)
    inside = False
    for k in range(slab_start[g * SLABS + s], slab_start[g * SLABS + s + 1]):
        j = edges[k]
        ax, ay = xy[j, 0], xy[j, 1]
        bx, by = xy[j + 1, 0], xy[j + 1, 1]
        if (ay > py and by > py) or (ay < py and by < py) or (ax < px and bx < px):
            continue
        if ax == px and ay == py:
            return 1
        if ay == by:  # horizontal, at the point's height
            if min(ax, bx) <= px <= max(ax, bx):
                return 1
            continue
        left = (ax - px) * (by - py)
        right = (ay - py) * (bx - px)
        det = left - right
        if abs(det) <= _CCW_ERR * (abs(left) + abs(right)):
            return UNSURE
        if (ay > py) != (by > py):  # the half-open rule of RayCrossingCounter
            if (det > 0.0) == (by > ay):
                inside = not inside
    return 1 if inside else 0


def _cell_order(x, y, x0, y0, size, nx, ny):  # pragma: no cover - compiled
    """Positions of the points inside the bucket grid, sorted by cell (a stable counting sort).

    Visiting points cell by cell keeps the few polygons of a cell in the CPU cache: on
    random points that is 3x faster than visiting them in file order.
    """
    n = len(x)
    cell = np.empty(n, np.int64)
    counts = np.zeros(nx * ny + 1, np.int64)
    for i in range(n):
        px, py = x[i], y[i]
        c = -1
        if np.isfinite(px) and np.isfinite(py):
            fx = np.floor((px - x0) / size)
            fy = np.floor((py - y0) / size)
            if fx >= 0 and fx < nx and fy >= 0 and fy < ny:
                c = int(fy) * nx + int(fx)
        cell[i] = c
        if c >= 0:
            counts[c + 1] += 1
    for c in range(nx * ny):
        counts[c + 1] += counts[c]
    order = np.empty(counts[nx * ny], np.int64)
    for i in range(n):
        c = cell[i]
        if c >= 0:
            order[counts[c]] = i
            counts[c] += 1
    return order


def _locate(order, x, y, x0, y0, size, nx, start, items, bounds, sy0, sh, slab_start, edges, xy, out):  # pragma: no cover
    """out[i] for i in order: lowest covering polygon, -1 for none, UNSURE to ask GEOS."""
    for t in range(len(order)):
        i = order[t]
        px, py = x[i], y[i]
        cell = int(np.floor((py - y0) / size)) * nx + int(np.floor((px - x0) / size))
        out[i] = -1
        for k in range(start[cell], start[cell + 1]):
            g = items[k]
            if px < bounds[g, 0] or px > bounds[g, 2] or py < bounds[g, 1] or py > bounds[g, 3]:
                continue
            hit = _pip(g, px, py, sy0, sh, slab_start, edges, xy)
            if hit != 0:
                out[i] = g if hit == 1 else UNSURE
                break


def _slab_pass(xy, ring_off, geom_ring, y0, h, counts, pos, edges, fill):  # pragma: no cover - compiled
    """One pass of Slabs.build over every edge: count per (polygon, slab), or fill the edges."""
    for g in range(len(geom_ring) - 1):
        for r in range(geom_ring[g], geom_ring[g + 1]):
            for j in range(ring_off[r], ring_off[r + 1] - 1):
                lo = min(xy[j, 1], xy[j + 1, 1])
                hi = max(xy[j, 1], xy[j + 1, 1])
                s0 = min(max(np.floor((lo - y0[g]) / h[g]), 0.0), SLABS - 1.0)
                s1 = min(max(np.floor((hi - y0[g]) / h[g]), 0.0), SLABS - 1.0)
                for s in range(int(s0), int(s1) + 1):
                    k = g * SLABS + s
                    if fill:
                        edges[pos[k]] = j
                        pos[k] += 1
                    else:
                        counts[k + 1] += 1


def slab_edges(flat, y0: np.ndarray, h: np.ndarray):
    """(start, edges) of flatindex.Slabs in two compiled passes (count, fill): O(n) memory."""
    xy, ring_off, geom_ring = np.asarray(flat.xy), np.asarray(flat.ring_off), flat.geom_ring
    n = len(geom_ring) - 1
    counts = np.zeros(n * SLABS + 1, np.int64)
    none = np.zeros(0, np.int64)
    _slab_pass(xy, ring_off, geom_ring, y0, h, counts, none, none.astype(np.int32), False)
    start = np.cumsum(counts)
    edges = np.empty(int(start[-1]), np.int32 if len(xy) < 2**31 else np.int64)
    _slab_pass(xy, ring_off, geom_ring, y0, h, counts, start[:-1].copy(), edges, True)
    return start, edges


if _nb is not None:
    # cache=True: compiled once per machine into numba's cache (__pycache__ or
    # NUMBA_CACHE_DIR), so a CLI process loads machine code instead of compiling (~1 s).
    _pip = _nb.njit(nogil=True, cache=True, inline="always")(_pip)
    _locate = _nb.njit(nogil=True, cache=True)(_locate)
    _cell_order = _nb.njit(nogil=True, cache=True)(_cell_order)
    _slab_pass = _nb.njit(nogil=True, cache=True)(_slab_pass)


def locate_flat(flat, lon: np.ndarray, lat: np.ndarray, threads: int = 1, progress=None) -> np.ndarray:
    """For points (lon, lat): polygon index, -1 outside, UNSURE undecided (int64).

    `flat`: a FlatIndex (gridmap/registry/flatindex.py): bucket grid, slabs and flat coordinates.
    The points are split over `threads` (the kernel releases the GIL); progress(n) per piece.
    """
    from concurrent.futures import ThreadPoolExecutor

    b, s = flat.buckets, flat.edge_slabs()
    out = np.full(len(lon), -1, dtype=np.int64)
    order = _cell_order(lon, lat, b.x0, b.y0, b.size, b.nx, b.ny)
    step = max(50_000, len(order) // (threads * 4) + 1)
    pieces = [order[i:i + step] for i in range(0, len(order), step)]

    def work(piece: np.ndarray) -> int:
        _locate(piece, lon, lat, b.x0, b.y0, b.size, b.nx, b.start, b.items, b.bounds,
                s.y0, s.h, s.start, s.edges, flat.xy, out)
        return len(piece)

    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        for k in pool.map(work, pieces):
            if progress is not None:
                progress(k)
    return out
