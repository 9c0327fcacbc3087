"""Impact of a draft before it is published: households, open incidents and staff that move.

Pure: the service gathers units, roles and the incidents that would be re-routed, and these
functions turn them into one JSON-ready report.
"""

from __future__ import annotations

from typing import Sequence

from ..registry.model import Person, Role, Unit
from .diff import overlap_pairs


def household_flows(old: Sequence[Unit], new: Sequence[Unit]) -> dict:
    """Households (and population) moving between grids, estimated by area share.

    For each old grid and each new grid with another code that takes part of it, the old
    grid's households times the share of its area that goes there. Returns
    {"method": "area_share", "households": total, "population": total, "flows": [...]}.
    """
    flows = []
    for u, v, area in overlap_pairs(old, new):
        if u.code == v.code or not u.area_m2:
            continue
        share = min(area / u.area_m2, 1.0)
        if share < 1e-9:
            continue
        flows.append({"from": u.code, "to": v.code, "area_m2": round(area, 1), "share": round(share, 4),
                      "households": round((u.households or 0) * share, 1),
                      "population": round((u.population or 0) * share, 1)})
    flows.sort(key=lambda f: (f["from"], f["to"]))
    return {"method": "area_share", "households": round(sum(f["households"] for f in flows)),
            "population": round(sum(f["population"] for f in flows)), "flows": flows}


def staff_on_removed(removed: Sequence[str], roles: Sequence[Role], people: Sequence[Person]) -> list[dict]:
    """Role assignments on grids the draft removes: these people need a new grid."""
    names = {p.person_id: p.name for p in people}
    gone = set(removed)
    return [{"person_id": r.person_id, "name": names.get(r.person_id), "unit_code": r.unit_code, "role": r.role}
            for r in sorted(roles, key=lambda r: (r.unit_code, r.role, r.person_id)) if r.unit_code in gone]


def incident_moves(moves: Sequence[tuple]) -> list[dict]:
    """Open incidents that would change grid: (incident, version, old grid, events) -> dicts."""
    return [{"id": inc.id, "category": inc.category, "status": inc.status, "from": old, "to": inc.grid_code,
             "assignee": inc.assignee} for inc, _, old, _ in moves]
