"""Diff of two plans' units: added, removed, reshaped (with area change in m²), renamed, unchanged.

Pure: units in, a JSON-ready dict out. Units are matched by code. A unit is reshaped when
the area of the symmetric difference of its old and new shapes exceeds `tolerance_m2`
(m² on a local plane) exceeds `tolerance_m2`; both shapes are compared in the canonical form
edits write (shapes.normalise), so re-ordered vertices, cut points left on a straight edge
or float noise do not count as a change.
"""

from __future__ import annotations

from typing import Sequence

import shapely

from ..registry.model import Unit
from .shapes import area_m2, is_sliver, local_area_m2, normalise, polygonal

NOISE_M2 = 0.01  # m² on a local plane: below this an overlap is floating-point noise of shared edges


def diff_units(old: Sequence[Unit], new: Sequence[Unit], tolerance_m2: float = 0.01) -> dict:
    """What changed from `old` to `new` (same level).

    Returns {"added": [...], "removed": [...], "reshaped": [...], "renamed": [...],
    "unchanged": [codes], "summary": {kind: count}}. Added units list the old units they
    took area from (`from`: [{code, area_m2}]); removed ones where their area went (`to`).
    Reshaped: {code, name, area_before_m2, area_after_m2, area_change_m2, changed_area_m2}.
    """
    a = {u.code: u for u in old}
    b = {u.code: u for u in new}
    added = sorted(set(b) - set(a))
    removed = sorted(set(a) - set(b))
    reshaped, renamed, unchanged = [], [], []
    for code in sorted(set(a) & set(b)):
        u, v = a[code], b[code]
        if u.name != v.name:
            renamed.append({"code": code, "name_before": u.name, "name_after": v.name})
        changed = _changed_m2(u.geometry, v.geometry)
        if changed > tolerance_m2:
            before, after = area_m2(u.geometry), area_m2(v.geometry)
            reshaped.append({"code": code, "name": v.name, "area_before_m2": round(before, 1),
                             "area_after_m2": round(after, 1), "area_change_m2": round(after - before, 1),
                             "changed_area_m2": round(changed, 1)})
        elif u.name == v.name:
            unchanged.append(code)
    took = _overlaps([b[c] for c in added], old, tolerance_m2)  # one spatial index per side, not per unit
    gave = _overlaps([a[c] for c in removed], new, tolerance_m2)
    return {
        "added": [{"code": c, "name": b[c].name, "area_m2": round(area_m2(b[c].geometry), 1),
                   "from": took[c]} for c in added],
        "removed": [{"code": c, "name": a[c].name, "area_m2": round(area_m2(a[c].geometry), 1),
                     "to": gave[c]} for c in removed],
        "reshaped": reshaped,
        "renamed": renamed,
        "unchanged": unchanged,
        "summary": {"added": len(added), "removed": len(removed), "reshaped": len(reshaped),
                    "renamed": len(renamed), "unchanged": len(unchanged)},
    }


def _changed_m2(a, b) -> float:
    """Area (m², local plane) that differs between two shapes; 0 when their canonical forms are equal.

    Both sides are normalised first (the form edits write), so a shape an edit wrote and the
    imported original it came back to compare equal; the rest is measured on a local plane,
    where a zero-width sliver has no area (its geodesic area need not be 0); a difference
    thinner than 1 mm on average (shapes.is_sliver) is noise along shared edges, not a change.
    """
    if shapely.equals_exact(a, b, 0):
        return 0.0
    na, nb = normalise(a), normalise(b)
    if shapely.equals_exact(na, nb, 0):
        return 0.0
    changed = polygonal(shapely.symmetric_difference(na, nb))
    return 0.0 if is_sliver(changed) else local_area_m2(changed)


def overlap_pairs(old: Sequence[Unit], new: Sequence[Unit]) -> list[tuple[Unit, Unit, float]]:
    """(old unit, new unit, overlap m²) for every pair sharing area."""
    if not old or not new:
        return []
    tree = shapely.STRtree([v.geometry for v in new])
    out = []
    for i, j in zip(*tree.query([u.geometry for u in old], predicate="intersects")):
        u, v = old[int(i)], new[int(j)]
        common = polygonal(shapely.intersection(u.geometry, v.geometry))
        if local_area_m2(common) <= NOISE_M2 or is_sliver(common):  # shared edges' noise, not land changing hands
            continue
        area = area_m2(common)
        if area > 0:
            out.append((u, v, area))
    return out


def _overlaps(units: Sequence[Unit], others: Sequence[Unit], tolerance_m2: float) -> dict[str, list[dict]]:
    """{code: [{code, area_m2}, ...]}: for each of `units`, the `others` it shares area with, by code."""
    out: dict[str, list[dict]] = {u.code: [] for u in units}
    for u, v, area in sorted(overlap_pairs(list(units), list(others)), key=lambda t: t[1].code):
        if area > tolerance_m2:
            out[u.code].append({"code": v.code, "area_m2": round(area, 1)})
    return out
