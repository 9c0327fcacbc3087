"""The region algorithms of the automatic proposal (propose.py): cutting household cells into grids.

`bisect` (recursive weighted bisection), `contiguous` (repair of split grids), `refine` (the local
search moving boundary cells to meet the household range, then for compactness), and `spopt_labels`
(PySAL spopt SKATER / max-p). They work on cell arrays in metres; propose.py builds the cells and
turns the labels into grids.
"""

from __future__ import annotations

import warnings
from collections import deque
from typing import TYPE_CHECKING

import numpy as np

from ..errors import InputError
from ..i18n import tr

if TYPE_CHECKING:
    from .propose import Cells


def bisect(xy: np.ndarray, w: np.ndarray, k: int) -> np.ndarray:
    """Recursive weighted bisection across the principal axis: k balanced, compact groups."""
    labels = np.zeros(len(w), dtype=int)
    stack = [(np.arange(len(w)), k, 0)]
    while stack:
        idx, kk, base = stack.pop()
        if kk == 1:
            labels[idx] = base
            continue
        k1 = kk // 2
        p = xy[idx] - np.average(xy[idx], axis=0, weights=w[idx] + 1e-9)
        axis = np.linalg.eigh(np.cov(p.T, aweights=w[idx] + 1e-9) if len(idx) > 2 else np.eye(2))[1][:, -1]
        order = np.argsort(p @ axis, kind="stable")
        cum = np.cumsum(w[idx][order])
        cut = int(np.searchsorted(cum, cum[-1] * k1 / kk))
        cut = min(max(cut + 1, k1), len(idx) - (kk - k1))  # each side keeps enough points
        stack.append((idx[order[:cut]], k1, base))
        stack.append((idx[order[cut:]], kk - k1, base + k1))
    return labels


def components(members: np.ndarray, in_region: np.ndarray, nbrs) -> list[list[int]]:
    seen, comps = set(), []
    for s in members.tolist():
        if s in seen:
            continue
        comp, queue = [], deque([s])
        seen.add(s)
        while queue:
            c = queue.popleft()
            comp.append(c)
            for n in nbrs[c].tolist():
                if in_region[n] and n not in seen:
                    seen.add(n)
                    queue.append(n)
        comps.append(comp)
    return comps


def contiguous(labels: np.ndarray, nbrs, w) -> np.ndarray:
    """Give every detached piece of a grid to the neighbouring grid it touches most."""
    labels = labels.copy()
    for _ in range(20):
        changed = False
        for r in np.unique(labels):
            members = np.flatnonzero(labels == r)
            comps = components(members, labels == r, nbrs)
            if len(comps) < 2:
                continue
            comps.sort(key=lambda c: -w[c].sum() - 1e-9 * len(c))
            for comp in comps[1:]:
                around = [labels[n] for c in comp for n in nbrs[c].tolist() if labels[n] != r]
                if around:
                    labels[comp] = max(set(around), key=around.count)
                    changed = True
        if not changed:
            break
    return labels


def refine(labels, xy, w, nbrs, lo: float, hi: float, edge=None, scale: float = 1.0,
            sweeps: int = 60) -> np.ndarray:
    """Move boundary cells between neighbouring grids: into the range first, then more compact.

    Compactness here is the households' moment of inertia about their grid's centre plus the
    length of boundary between grids (shorter, smoother boundaries raise Polsby-Popper).
    """
    labels = labels.copy()
    k = labels.max() + 1
    per_grid = max(float(w.sum()) / k, 1e-9)
    side = scale / np.sqrt(k)  # an average grid's side, m: inertia / (households x side) is metres
    W = np.bincount(labels, weights=w, minlength=k)
    S = np.column_stack([np.bincount(labels, weights=w * xy[:, d], minlength=k) for d in (0, 1)])

    def pen(h: float) -> float:
        return max(0.0, lo - h) ** 2 + max(0.0, h - hi) ** 2

    for _ in range(sweeps):
        moved = 0
        for c in range(len(w)):
            a, wc = labels[c], w[c]
            others = {int(labels[n]) for n in nbrs[c].tolist()} - {a}
            if not others or W[a] - wc <= 0:
                continue
            ca = S[a] / W[a]
            best, key = None, (0.0, -1e-6)
            if edge is not None:
                near = labels[nbrs[c]]
                to_a = float(edge[c][near == a].sum())
            for b in others:
                dpen = pen(W[a] - wc) + pen(W[b] + wc) - pen(W[a]) - pen(W[b])
                cb = S[b] / W[b]
                dinert = (-wc * W[a] / (W[a] - wc) * float(((xy[c] - ca) ** 2).sum())
                          + wc * W[b] / (W[b] + wc) * float(((xy[c] - cb) ** 2).sum())) / (per_grid * side)
                if edge is not None:  # boundary gained (edges to a) minus lost (edges to b), metres
                    dinert += to_a - float(edge[c][near == b].sum())
                cand = (round(dpen, 9), dinert)
                if cand < key:
                    best, key = b, cand
            if best is None or not stays_connected(c, a, labels, nbrs):
                continue
            labels[c] = best
            W[a] -= wc
            W[best] += wc
            S[a] -= wc * xy[c]
            S[best] += wc * xy[c]
            moved += 1
        if not moved:
            break
    return labels


def stays_connected(c: int, r: int, labels, nbrs) -> bool:
    """Does grid r stay in one piece without cell c? (BFS from one neighbour to the others)."""
    mine = [n for n in nbrs[c].tolist() if labels[n] == r]
    if len(mine) <= 1:
        return True
    targets, seen, queue = set(mine[1:]), {c, mine[0]}, deque([mine[0]])
    while queue and targets:
        x = queue.popleft()
        for n in nbrs[x].tolist():
            if labels[n] == r and n not in seen:
                seen.add(n)
                targets.discard(n)
                queue.append(n)
    return not targets


def spopt_labels(method: str, cells: "Cells", k: int, lo: float) -> np.ndarray:
    """Labels from PySAL spopt (SKATER for k grids, max-p for the minimum households)."""
    from ..extras import require

    require("spopt", f"method {method!r}")
    import geopandas as gpd
    from libpysal.weights import W
    from spopt.region import MaxPHeuristic, Skater

    gdf = gpd.GeoDataFrame({"x": cells.xy[:, 0], "y": cells.xy[:, 1], "hh": cells.w}, geometry=list(cells.geoms))
    w = W({i: nb.tolist() for i, nb in enumerate(cells.nbrs)}, silence_warnings=True)
    with warnings.catch_warnings():  # spopt/libpysal raise pandas deprecation warnings of their own
        warnings.simplefilter("ignore")
        if method == "skater":
            # SKATER's floor counts cells, not households: ask for half the minimum's worth of cells
            floor = max(1, int(0.5 * lo / max(cells.w.mean(), 1e-9))) if lo else -np.inf
            model = Skater(gdf, w, ["x", "y"], n_clusters=k, floor=floor, islands="ignore")
        else:
            model = MaxPHeuristic(gdf, w, ["x", "y"], "hh", lo, top_n=2, max_iterations_construction=3)
        try:
            model.solve()
        except Exception as exc:  # spopt signals an impossible floor with various errors
            raise InputError(tr("spopt %(method)s found no solution: %(exc)s", method=method, exc=exc)) from None
    labels = np.asarray(model.labels_, dtype=int)
    _, labels = np.unique(labels, return_inverse=True)
    return labels.ravel()
