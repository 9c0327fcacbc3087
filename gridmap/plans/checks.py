"""The publish gate: coverage of every parent by its children in a plan.

Uses the coverage check of `gridmap.analysis.coverage` (gaps, overlaps, children outside
their parent, invalid, multi-part and sliver children, with areas in m²), parent by parent.
"""

from __future__ import annotations

from typing import Sequence

from ..analysis.coverage import check_coverage
from ..registry.model import Unit


def coverage_problems(units: Sequence[Unit], tolerance_m2: float = 10.0, sliver_m2: float = 100.0) -> list[dict]:
    """Every coverage problem of a plan's units, parent by parent, as JSON-ready dicts.

    Each dict has kind, parent, codes, area_m2, location {lon, lat} and detail. A unit whose
    parent code is not in the plan is reported as kind "orphan".
    """
    by_code = {u.code: u for u in units}
    children: dict[str, list[Unit]] = {}
    out: list[dict] = []
    for u in units:
        if u.parent_code is None:
            continue
        if u.parent_code not in by_code:
            p = u.geometry.representative_point()
            out.append({"kind": "orphan", "parent": u.parent_code, "codes": [u.code], "area_m2": round(u.area_m2 or 0, 2),
                        "location": {"lon": round(p.x, 7), "lat": round(p.y, 7)},
                        "detail": f"parent {u.parent_code} is not in the plan"})
            continue
        children.setdefault(u.parent_code, []).append(u)
    for parent_code in sorted(children):
        kids = sorted(children[parent_code], key=lambda u: u.code)
        out += _check(by_code[parent_code], kids, tolerance_m2, sliver_m2)
    return out


def _check(parent: Unit, kids: list[Unit], tolerance_m2: float, sliver_m2: float) -> list[dict]:
    return [p.to_dict() for p in check_coverage(parent, kids, tolerance_m2=tolerance_m2, sliver_m2=sliver_m2)]
