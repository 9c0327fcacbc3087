"""Who an incident can go to: the people of its unit (on duty, open load), and the departments.

The dispatcher chooses from these lists instead of typing: a person of the grid (or zone)
with the router's pick first, and a department named by the taxonomy. The service refuses
names that are not on them (422), so nothing typed by hand reaches Open311's
agency_responsible.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

from ..errors import InputError
from ..i18n import tr
from ..registry.model import GRID_ROLES, ROLE_LABELS, ZONE_ROLES
from .model import Incident
from .taxonomy import Taxonomy

# Who can take an incident at each level, in the order they are offered.
_LEVEL_ROLES = {"grid": tuple(GRID_ROLES), "zone": tuple(ZONE_ROLES)}


def departments(taxonomy: Taxonomy) -> list[str]:
    """The departments the taxonomy names, in file order (the only ones an escalation may go to)."""
    seen: dict[str, None] = {}
    for c in taxonomy:
        if c.department:
            seen.setdefault(c.department, None)
    return list(seen)


def check_department(taxonomy: Taxonomy, name: str) -> str:
    """`name` if the taxonomy knows this department; InputError (422) listing the known ones."""
    known = departments(taxonomy)
    if name not in known:
        raise InputError(tr("department: %(name)r is not a department of the taxonomy; choose one of %(known)s", name=name, known=", ".join(known)))
    return name


def unit_of(inc: Incident) -> tuple[str | None, str]:
    """The unit whose people handle the incident now, and its level (grid or zone)."""
    if inc.handling_level == "zone":
        return inc.zone_code, "zone"
    return inc.grid_code, "grid"


def candidates(svc, inc: Incident, grid_code: str | None = None, at: dt.datetime | None = None) -> dict[str, Any]:
    """The people who could take `inc` (or take it in grid `grid_code`, for a transfer).

    Each: person_id, name, phone, roles (labels), on_duty (per the roster, now), open_load (open
    incidents assigned), and which one the router would pick (`default`).
    """
    at = at or svc.clock()
    store = svc.services.store
    probe = inc
    if grid_code:
        chain = svc.services.index.chain_of(grid_code)
        if chain is None:
            raise InputError(tr("grid_code: %(grid_code)r is not a grid of the plan in force", grid_code=grid_code))
        probe = replace(inc, grid_code=grid_code, zone_code=chain.get("zone"), handling_level="grid")
    unit, level = unit_of(probe)
    if unit is None or probe.handling_level == "department":
        return {"unit": unit, "level": probe.handling_level, "default": None, "people": []}
    wanted = _LEVEL_ROLES[level]
    roles: dict[str, list[str]] = {}
    for r in store.roles(unit):
        if r.role in wanted:
            roles.setdefault(r.person_id, []).append(r.role)
    on_duty = set(svc.repo.on_duty(unit, at))
    ids = sorted(set(roles) | on_duty)
    load = svc.repo.open_load(ids) if ids else {}
    names = {p.person_id: p for p in store.people() if p.person_id in set(ids)}
    default = svc.route_preview(probe, at)
    if not grid_code and inc.assignee in set(ids):
        default = inc.assignee  # the router's pick when it was reported (or the last dispatch)
    order = {r: i for i, r in enumerate(wanted)}
    people = [{"person_id": p, "name": names[p].name if p in names else p,
               "phone": names[p].phone if p in names else None,
               "roles": [ROLE_LABELS.get(r, r) for r in sorted(roles.get(p, []), key=order.get)],
               "on_duty": p in on_duty, "open_load": int(load.get(p, 0))} for p in ids]
    people.sort(key=lambda x: (x["person_id"] != default, not x["on_duty"],
                               min((order.get(r, 9) for r in roles.get(x["person_id"], [])), default=9),
                               x["open_load"], x["person_id"]))
    return {"unit": unit, "level": level, "default": default, "people": people}


def check_assignee(svc, person_id: str) -> str:
    """`person_id` if such a person is on the staff list; InputError (422) otherwise."""
    if not any(p.person_id == person_id for p in svc.services.store.people()):
        raise InputError(tr("assignee: no member of staff with person_id %(person_id)r", person_id=person_id))
    return person_id
