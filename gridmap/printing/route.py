"""The patrol route: the shortest closed tour through a grid's checkpoints.

Distances are metres in a local metric CRS, straight-line, or along a road layer when one is
given (networkx shortest paths over the road vertices). The tour is exact (Held-Karp dynamic
programming) for up to `EXACT_MAX` points; beyond that it is nearest-neighbour followed by 2-opt,
which is within a few per cent of the optimum for the dozen-odd stops a grid has.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

EXACT_MAX = 9


def straight_matrix(xy: np.ndarray) -> np.ndarray:
    """Pairwise Euclidean distances of an (n, 2) array of metric coordinates."""
    xy = np.asarray(xy, float).reshape(-1, 2)
    d = xy[:, None, :] - xy[None, :, :]
    return np.hypot(d[..., 0], d[..., 1])


def tour_length(dist: np.ndarray, order: Sequence[int]) -> float:
    """Length of the closed tour visiting `order` and returning to its start."""
    if len(order) < 2:
        return 0.0
    return float(sum(dist[order[i], order[(i + 1) % len(order)]] for i in range(len(order))))


def shortest_tour(dist: np.ndarray) -> list[int]:
    """Visiting order of the shortest closed tour (starting at point 0) for a distance matrix."""
    n = len(dist)
    if n <= 3:
        return list(range(n))
    if n <= EXACT_MAX:
        return _held_karp(dist)
    return _two_opt(dist, _nearest_neighbour(dist))


def _held_karp(dist: np.ndarray) -> list[int]:
    n = len(dist)
    full = 1 << (n - 1)  # subsets of points 1..n-1
    cost = np.full((full, n), math.inf)
    parent = np.full((full, n), -1, dtype=int)
    for k in range(1, n):
        cost[1 << (k - 1), k] = dist[0, k]
    for subset in range(1, full):
        for k in range(1, n):
            bit = 1 << (k - 1)
            if not subset & bit or cost[subset, k] == math.inf:
                continue
            for j in range(1, n):
                jb = 1 << (j - 1)
                if subset & jb:
                    continue
                c = cost[subset, k] + dist[k, j]
                if c < cost[subset | jb, j]:
                    cost[subset | jb, j] = c
                    parent[subset | jb, j] = k
    last = min(range(1, n), key=lambda k: cost[full - 1, k] + dist[k, 0])
    order, subset = [], full - 1
    while last != -1:
        order.append(last)
        prev = parent[subset, last]
        subset &= ~(1 << (last - 1))
        last = prev
    return [0] + order[::-1]


def _nearest_neighbour(dist: np.ndarray) -> list[int]:
    n = len(dist)
    order, seen = [0], {0}
    while len(order) < n:
        row = dist[order[-1]]
        nxt = min((j for j in range(n) if j not in seen), key=lambda j: row[j])
        order.append(nxt)
        seen.add(nxt)
    return order


def _two_opt(dist: np.ndarray, order: list[int]) -> list[int]:
    n = len(order)
    improved = True
    while improved:
        improved = False
        for i in range(1, n - 1):
            for j in range(i + 1, n):
                a, b = order[i - 1], order[i]
                c, d = order[j], order[(j + 1) % n]
                if dist[a, c] + dist[b, d] < dist[a, b] + dist[c, d] - 1e-9:
                    order[i:j + 1] = order[i:j + 1][::-1]
                    improved = True
    return order


class RoadGraph:
    """A road network (metric polylines) as a weighted graph; vertices closer than `snap_m` merge."""

    def __init__(self, lines: Sequence[np.ndarray], snap_m: float = 1.0, spacing_m: float = 20.0):
        import networkx as nx
        import shapely

        self.snap = snap_m
        self.graph = nx.Graph()
        # node the lines where they cross or touch (union), and add a vertex every `spacing_m`,
        # so a checkpoint joins the road within spacing_m / 2 of its nearest point on it
        parts = [shapely.LineString(np.asarray(p, float).reshape(-1, 2)) for p in lines if len(p) >= 2]
        noded = shapely.segmentize(shapely.union_all(parts), spacing_m) if parts else shapely.MultiLineString()
        for part in getattr(noded, "geoms", [noded]):
            if part.is_empty or part.geom_type != "LineString":
                continue
            pts = np.asarray(part.coords, float)[:, :2]
            keys = [self._key(p) for p in pts]
            for (ka, kb), (pa, pb) in zip(zip(keys, keys[1:]), zip(pts, pts[1:])):
                if ka != kb:
                    w = float(np.hypot(*(pb - pa)))
                    if not self.graph.has_edge(ka, kb) or self.graph[ka][kb]["weight"] > w:
                        self.graph.add_edge(ka, kb, weight=w)
        self.nodes = list(self.graph.nodes)
        self.node_xy = np.array([(k[0] * snap_m, k[1] * snap_m) for k in self.nodes], float).reshape(-1, 2)

    def _key(self, p) -> tuple[int, int]:
        return int(round(p[0] / self.snap)), int(round(p[1] / self.snap))

    def matrix(self, xy: np.ndarray) -> tuple[np.ndarray, dict[tuple[int, int], list[tuple[float, float]]]]:
        """Road distances between points (each joined to its nearest road vertex in a straight line).

        Pairs with no road connection fall back to the straight-line distance. Also returns the
        metric polyline of every pair's path.
        """
        import networkx as nx

        xy = np.asarray(xy, float).reshape(-1, 2)
        n = len(xy)
        straight = straight_matrix(xy)
        if not self.nodes:
            return straight, {}
        near = [int(np.argmin(np.hypot(*(self.node_xy - p).T))) for p in xy]
        access = [float(np.hypot(*(self.node_xy[k] - p))) for k, p in zip(near, xy)]
        dist = straight.copy()
        paths: dict[tuple[int, int], list[tuple[float, float]]] = {}
        for i in range(n):
            lengths, routes = nx.single_source_dijkstra(self.graph, self.nodes[near[i]], weight="weight")
            for j in range(n):
                if i == j:
                    continue
                target = self.nodes[near[j]]
                if target in lengths:
                    dist[i, j] = access[i] + lengths[target] + access[j]
                    paths[(i, j)] = ([tuple(xy[i])] + [(k[0] * self.snap, k[1] * self.snap) for k in routes[target]]
                                     + [tuple(xy[j])])
        return dist, paths
