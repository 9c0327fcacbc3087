"""多网合一: how existing grid networks overlap, and one merged network that follows their shared lines.

Layers (police beats, urban-management unit grids, social-service grids...) are lists of
lon/lat polygons with codes. The overlap report says, for each grid of each layer, which
grids of every other layer cover how much of it (m² and %). The merge overlays every
layer (the faces of all their boundaries together), dissolves pieces that are small or
thinner than the snap tolerance (two digitisations of one street) into the neighbour
sharing the longest edge, then joins neighbouring pieces unless at least `min_layers`
layers put a boundary between them. Areas and lengths in metres (local equal-area frame).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import shapely

from ..errors import InputError
from ..geo.frame import MetricFrame
from ..geo.shapes import DENSIFY_DEG, frame_area_m2, polygonal
from ..i18n import tr
from ..registry.codes import generate_codes, reading_order
from ..registry.model import Level, Unit


@dataclass
class Layer:
    """One network: a name, grid codes and their lon/lat polygons."""

    name: str
    codes: list[str]
    geoms: np.ndarray
    repair: bool = False  # make invalid polygons valid (asked for: make_valid can be slow on a tangle)

    def __post_init__(self) -> None:
        self.geoms = np.asarray(self.geoms, dtype=object)
        if len(self.codes) != len(self.geoms):
            raise InputError(tr("layer %(name)s: %(codes)s codes for %(geoms)s shapes", name=self.name, codes=len(self.codes), geoms=len(self.geoms)))
        if len(self.codes) == 0:
            raise InputError(tr("layer %(name)s has no grids", name=self.name))
        dup = sorted(c for c, n in Counter(self.codes).items() if n > 1)  # linear: one count per code
        if dup:
            raise InputError(tr("layer %(name)s: duplicate codes %(v)s", name=self.name, v=", ".join(dup[:5])))
        bad = [c for c, g in zip(self.codes, self.geoms)
               if g is None or g.is_empty or g.geom_type not in ("Polygon", "MultiPolygon")]
        if bad:
            raise InputError(tr("layer %(name)s: grids without a polygon: %(v)s", name=self.name, v=", ".join(map(str, bad[:5]))))
        invalid = np.flatnonzero(~shapely.is_valid(self.geoms))
        if len(invalid) and not self.repair:
            raise InputError(tr("layer %(name)s: %(n)s invalid polygons (fix them, or ask for repair: --repair / repair=1)", name=self.name, n=len(invalid)),
                             [f"{self.codes[i]}: {shapely.is_valid_reason(self.geoms[i])}" for i in invalid])
        if len(invalid):
            self.geoms[invalid] = [polygonal(shapely.make_valid(g)) for g in self.geoms[invalid]]


def _check_layers(layers: Sequence[Layer]) -> MetricFrame:
    if len(layers) < 2:
        raise InputError(tr("give at least two layers to compare or merge"))
    names = [lay.name for lay in layers]
    if len(set(names)) < len(names):
        raise InputError(tr("layer names must differ: %(names)s", names=', '.join(names)))
    return MetricFrame.around(np.concatenate([lay.geoms for lay in layers]))


def overlap_report(layers: Sequence[Layer], min_pct: float = 0.01) -> dict:
    """For each grid of each layer: which grids of each other layer cover it, in m² and % of it."""
    frame = _check_layers(layers)
    areas = [frame_area_m2(frame, lay.geoms) for lay in layers]
    grids, pairs = [], []
    rows: dict[tuple[int, int], dict] = {}
    for a, A in enumerate(layers):
        for k, code in enumerate(A.codes):
            rows[(a, k)] = {"layer": A.name, "code": code, "area_m2": round(float(areas[a][k]), 1), "covered_by": {}}
    for a, A in enumerate(layers):
        for b, B in enumerate(layers):
            if a == b:
                continue
            i, j = shapely.STRtree(B.geoms).query(A.geoms, predicate="intersects")
            inter = shapely.intersection(A.geoms[i], B.geoms[j])
            ar = frame_area_m2(frame, inter)
            pct = 100 * ar / np.maximum(areas[a][i], 1e-9)
            best = np.zeros(len(A.codes))
            np.maximum.at(best, i, pct)
            for k in range(len(A.codes)):
                rows[(a, k)]["covered_by"][B.name] = []
            for k, m, x, p in sorted(zip(i.tolist(), j.tolist(), ar, pct), key=lambda t: (t[0], -t[3])):
                if p >= min_pct:
                    rows[(a, k)]["covered_by"][B.name].append(
                        {"code": B.codes[m], "area_m2": round(float(x), 1), "pct": round(float(p), 2)})
            pairs.append({"layer": A.name, "other": B.name, "grids": len(A.codes),
                          "within_one_95": int((best >= 95).sum()),
                          "mean_best_pct": round(float(best.mean()), 2),
                          "uncovered_m2": round(max(0.0, float(areas[a].sum() - _covered(frame, A, B))), 1)})
    for key in sorted(rows):
        grids.append(rows[key])
    return {"layers": [{"name": lay.name, "grids": len(lay.codes), "area_m2": round(float(ar.sum()), 1)}
                       for lay, ar in zip(layers, areas)], "pairs": pairs, "grids": grids}


def _covered(frame: MetricFrame, A: Layer, B: Layer) -> float:
    return float(frame_area_m2(frame, shapely.intersection(shapely.union_all(A.geoms), shapely.union_all(B.geoms))))


@dataclass
class Merged:
    """The proposed merged network and how it was made."""

    units: list[Unit]
    stats: dict

    def geojson(self) -> dict:
        from ..io.writers import feature

        return {"type": "FeatureCollection", "features": [feature(u) for u in self.units], "merge": self.stats}


def merge_layers(layers: Sequence[Layer], min_layers: int = 2, snap_m: float = 5.0, min_area_m2: float = 2000.0,
                 prefix: str = "M", level: Level = Level.grid, parent_code: str | None = None) -> Merged:
    """One network whose boundaries are those at least `min_layers` layers draw (see the module doc)."""
    frame = _check_layers(layers)
    if not 1 <= min_layers <= len(layers):
        raise InputError(tr("min_layers must be between 1 and %(layers)s, got %(min_layers)s", layers=len(layers), min_layers=min_layers))
    lines = shapely.union_all(np.concatenate([shapely.boundary(lay.geoms) for lay in layers]))
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(lines)))
    if len(faces) == 0:
        raise InputError(tr("the layers' boundaries enclose nothing"))
    pts = shapely.point_on_surface(faces)
    labels = np.full((len(faces), len(layers)), -1, dtype=int)
    for n, lay in enumerate(layers):
        fi, gi = shapely.STRtree(lay.geoms).query(pts, predicate="within")
        labels[fi, n] = gi
    inside = (labels >= 0).any(axis=1)
    faces, labels = faces[inside], labels[inside]
    fa = frame_area_m2(frame, faces)
    fm = frame.to_m(shapely.segmentize(faces, DENSIFY_DEG))
    thin = shapely.is_empty(shapely.buffer(fm, -snap_m / 2)) if snap_m > 0 else np.zeros(len(faces), bool)
    small = (fa < min_area_m2) | thin
    nb = _shared_edges(fm)
    owner = _absorb(small, fa, nb)  # each small or thin piece takes the identity of a big neighbour
    eff = labels[owner]
    parent = np.arange(len(faces))
    for f, others in enumerate(nb):
        for g in others:
            # one boundary line: kept when at least min_layers layers draw it (their grids differ across it)
            if owner[f] == owner[g] or int((eff[f] != eff[g]).sum()) < min_layers:
                _union(parent, f, g)
    group = np.array([_root(parent, f) for f in range(len(faces))])
    return _merged(layers, frame, faces, fa, labels, group, small, prefix, level, parent_code, min_layers, snap_m)


def _absorb(small: np.ndarray, fa: np.ndarray, nb: list[dict[int, float]]) -> np.ndarray:
    """For each face, the big face it belongs to: a small one joins the neighbour sharing its longest edge."""
    owner = np.arange(len(small))
    pending = [f for f in np.argsort(fa).tolist() if small[f] and nb[f]]
    for _ in range(len(pending) + 1):
        waiting = []
        for f in pending:
            settled = [(length, g) for g, length in nb[f].items() if not small[g] or owner[g] != g]
            if settled:
                owner[f] = owner[max(settled)[1]]
            else:
                waiting.append(f)
        if len(waiting) == len(pending):
            break
        pending = waiting
    return owner


def _root(parent: np.ndarray, f: int) -> int:
    while parent[f] != f:
        parent[f] = parent[parent[f]]
        f = parent[f]
    return int(f)


def _union(parent: np.ndarray, a: int, b: int) -> None:
    ra, rb = _root(parent, a), _root(parent, b)
    if ra != rb:
        parent[max(ra, rb)] = min(ra, rb)


def _shared_edges(fm: np.ndarray) -> list[dict[int, float]]:
    """Neighbouring faces and the length (m) of the edge they share."""
    tree = shapely.STRtree(fm)
    i, j = tree.query(fm, predicate="intersects")
    keep = i < j
    i, j = i[keep], j[keep]
    length = shapely.length(shapely.intersection(shapely.boundary(fm[i]), shapely.boundary(fm[j])))
    nb: list[dict[int, float]] = [{} for _ in range(len(fm))]
    for a, b, ln in zip(i.tolist(), j.tolist(), length.tolist()):
        if ln > 1e-6:
            nb[a][b] = nb[b][a] = ln
    return nb


def _group_labels(group: np.ndarray, labels: np.ndarray, fa: np.ndarray) -> dict[int, np.ndarray]:
    """Each group's grid in every layer: the one covering most of the group's area (-1 for none)."""
    out = {}
    for g in np.unique(group):
        members = np.flatnonzero(group == g)
        lab = []
        for n in range(labels.shape[1]):
            vals, inv = np.unique(labels[members, n], return_inverse=True)
            lab.append(vals[np.argmax(np.bincount(inv.ravel(), weights=fa[members]))])
        out[int(g)] = np.array(lab)
    return out


def _codes(geoms: np.ndarray, parent_code: str | None, prefix: str) -> list[str]:
    """National-style serials under the parent (at most 999), else PREFIX + serial as wide as needed."""
    if parent_code or len(geoms) <= 999:
        try:
            return generate_codes(parent_code or prefix, geoms)
        except ValueError as exc:
            raise InputError(tr("%(exc)s: merge into fewer grids (raise --min-layers, --min-area-m2) or number them without --parent", exc=exc)) from None
    width = len(str(len(geoms)))
    codes = [""] * len(geoms)
    for serial, i in enumerate(reading_order(geoms), start=1):
        codes[i] = f"{prefix}{serial:0{width}d}"
    return codes


def _merged(layers, frame, faces, fa, labels, group, small, prefix, level, parent_code, min_layers, snap_m) -> Merged:
    ids = np.unique(group)
    geoms = [shapely.union_all(faces[group == g]) for g in ids]
    glabels = _group_labels(group, labels, fa)
    codes = _codes(np.array(geoms, dtype=object), parent_code, prefix)
    units = []
    for code, g, geom in zip(codes, ids, geoms):
        members = np.flatnonzero(group == g)
        sources = {}
        for n, lay in enumerate(layers):
            cov = {}
            for f in members:
                if labels[f, n] >= 0:
                    cov[lay.codes[labels[f, n]]] = cov.get(lay.codes[labels[f, n]], 0.0) + fa[f]
            sources[lay.name] = {c: round(a, 1) for c, a in sorted(cov.items(), key=lambda t: -t[1])}
        main = {lay.name: lay.codes[glabels[int(g)][n]] if glabels[int(g)][n] >= 0 else None
                for n, lay in enumerate(layers)}
        units.append(Unit(code=code, name=f"合一网格{code[len(parent_code or prefix):]}", level=level, geometry=shapely.normalize(geom),
                          parent_code=parent_code, area_m2=float(fa[members].sum()),
                          properties={"sources_m2": sources, "main": main}))
    units.sort(key=lambda u: u.code)
    counts = [len(lay.codes) for lay in layers]
    stats = {"layers": [lay.name for lay in layers], "grids_in": counts, "faces": int(len(faces)),
             "small_or_thin_dissolved": int(small.sum()), "grids_out": len(units), "min_layers": min_layers,
             "snap_m": snap_m, "area_m2": round(float(fa.sum()), 1)}
    return Merged(units, stats)
