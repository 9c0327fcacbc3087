"""What the maps show, as plain data: teams, incident rates and their classes, neighbours, and the
JSON twins of the map pages. Pure functions over model objects; no folium, no Flask, no store.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import numpy as np
import shapely

from ..incidents.model import STATUS_LABELS, Incident
from ..model import GRID_ROLES, Person, Role, Unit

# Incident markers by status (awesome-markers colour names); legend order follows the workflow.
STATUS_COLOURS = {"reported": "red", "filed": "orange", "dispatched": "blue", "in_progress": "purple",
                  "handled": "green", "verified": "darkgreen"}
MARKER_HEX = {"red": "#d63e2a", "orange": "#f69730", "blue": "#38aadd", "purple": "#d252b9",
              "green": "#72b026", "darkgreen": "#728224", "gray": "#575757"}
CLASS_COLOURS = ("#ffffcc", "#fed976", "#fd8d3c", "#e31a1c", "#800026")  # ColorBrewer YlOrRd
NO_DATA = "#cccccc"


@dataclass(frozen=True)
class StaffEntry:
    """One member of a unit's team, in 1+1+N order."""

    role: str
    person: Person

    @property
    def role_label(self) -> str:
        return GRID_ROLES.get(self.role, self.role)

    def as_json(self, show_phones: bool) -> dict:
        out = {"role": self.role, "role_label": self.role_label, "person_id": self.person.person_id,
               "name": self.person.name}
        return out | ({"phone": self.person.phone} if show_phones else {})


@dataclass(frozen=True)
class Choropleth:
    """Incidents per 100 households by grid, in classes: class 0 is exactly 0, then quartiles."""

    counts: dict[str, int]
    rates: dict[str, float | None]  # None: the grid has no households on record
    thresholds: tuple[float, ...]
    title: str = "事件/百户 Incidents per 100 households"

    def klass(self, code: str) -> int | None:
        rate = self.rates.get(code)
        if rate is None:
            return None
        return 0 if rate == 0 else 1 + bisect.bisect_left(self.thresholds, rate)

    def colour(self, code: str) -> str:
        k = self.klass(code)
        return NO_DATA if k is None else CLASS_COLOURS[k]

    def legend(self) -> list[tuple[str, str]]:
        """(colour, label) rows, lowest class first."""
        t = self.thresholds
        rows = [(CLASS_COLOURS[0], "0")]
        bounds = [0.0, *t]
        for i, lo in enumerate(bounds):
            label = f"> {lo:g}" if i == len(bounds) - 1 else f"{lo:g} – {bounds[i + 1]:g}"
            rows.append((CLASS_COLOURS[i + 1], label))
        return rows + [(NO_DATA, "无户数 no households")]

    def grid_json(self, code: str) -> dict:
        """One grid's open incidents, rate and class."""
        rate = self.rates.get(code)
        return {"open_incidents": self.counts.get(code, 0),
                "per_100_households": None if rate is None else round(rate, 2), "class": self.klass(code)}

    def as_json(self) -> dict:
        return {"title": self.title, "classes": [{"colour": c, "label": lb} for c, lb in self.legend()]}


def choropleth(grids: Sequence[Unit], incidents: Iterable[Incident]) -> Choropleth:
    """Count incidents per grid and class the rates per 100 households."""
    counts = Counter(i.grid_code for i in incidents if i.grid_code)
    rates = {g.code: (100.0 * counts.get(g.code, 0) / g.households if g.households else None) for g in grids}
    positive = sorted(r for r in rates.values() if r)
    cuts = np.quantile(positive, [0.25, 0.5, 0.75]) if positive else []
    thresholds = tuple(sorted({round(float(c), 1) for c in cuts} - {0.0}))
    return Choropleth({g.code: counts.get(g.code, 0) for g in grids}, rates, thresholds)


def staff_by_unit(people: Iterable[Person], roles: Iterable[Role]) -> dict[str, list[StaffEntry]]:
    """Each unit's team: leader, instructor, then workers (1+1+N), by person id within a role."""
    by_id = {p.person_id: p for p in people}
    order = {r: i for i, r in enumerate(GRID_ROLES)}
    out: dict[str, list[StaffEntry]] = {}
    for r in sorted(roles, key=lambda r: (r.unit_code, order.get(r.role, 99), r.person_id)):
        if r.person_id in by_id:
            out.setdefault(r.unit_code, []).append(StaffEntry(r.role, by_id[r.person_id]))
    return out


def neighbours_of(grid: Unit, candidates: Sequence[Unit]) -> list[Unit]:
    """Units sharing a boundary or a vertex with `grid` (lon/lat, within ~0.1 m), itself excluded."""
    geoms = [u.geometry for u in candidates]
    if not geoms:
        return []
    near = shapely.STRtree(geoms).query(grid.geometry.buffer(1e-6), predicate="intersects")
    return [candidates[i] for i in sorted(near) if candidates[i].code != grid.code]


def incident_json(inc: Incident, category_names: Mapping[str, str], tz: dt.tzinfo) -> dict:
    """What a map shows of an incident: nothing personal (no reporter, no assignee)."""
    return {"id": inc.id, "category": inc.category, "category_name": category_names.get(inc.category, inc.category),
            "status": inc.status, "status_label": STATUS_LABELS.get(inc.status, inc.status),
            "lon": round(inc.lon, 6), "lat": round(inc.lat, 6), "grid_code": inc.grid_code,
            "reported_at": inc.reported_at.astimezone(tz).isoformat(), "description": inc.description}


def unit_json(u: Unit) -> dict:
    """A unit's facts without its geometry (GET /api/v1/units/<code> has that)."""
    return {"code": u.code, "name": u.name, "level": u.level.value, "parent_code": u.parent_code,
            "households": u.households, "population": u.population,
            "area_km2": None if u.area_m2 is None else round(u.area_m2 / 1e6, 3)}


def overview_json(zones: Sequence[Unit], grids: Sequence[Unit], incidents: Sequence[Incident],
                  staff_by_grid: Mapping[str, Sequence[StaffEntry]], show_phones: bool,
                  category_names: Mapping[str, str] | None = None, tz: dt.tzinfo = dt.timezone.utc) -> dict:
    """Everything /map shows, as JSON: zones, grids with team and incident rate, incidents, legends."""
    stats = choropleth(grids, incidents)
    return {
        "counts": {"zones": len(zones), "grids": len(grids), "open_incidents": len(incidents)},
        "legend": stats.as_json(), "status_colours": status_colours(),
        "zones": [unit_json(z) for z in zones],
        "grids": [unit_json(g) | stats.grid_json(g.code)
                  | {"staff": [s.as_json(show_phones) for s in staff_by_grid.get(g.code, ())]} for g in grids],
        "incidents": [incident_json(i, category_names or {}, tz) for i in incidents],
    }


def grid_json(grid: Unit, neighbours: Sequence[Unit], incidents: Sequence[Incident], staff: Sequence[StaffEntry],
              show_phones: bool, category_names: Mapping[str, str] | None = None,
              tz: dt.tzinfo = dt.timezone.utc, zone: Unit | None = None) -> dict:
    """Everything /grids/<code> shows, as JSON: the grid, its zone, team, neighbours and open incidents."""
    stats = choropleth([grid], incidents)
    return {"grid": unit_json(grid) | stats.grid_json(grid.code), "zone": unit_json(zone) if zone else None,
            "staff": [s.as_json(show_phones) for s in staff],
            "neighbours": [unit_json(n) for n in neighbours],
            "incidents": [incident_json(i, category_names or {}, tz) for i in incidents],
            "status_colours": status_colours()}


def status_colours() -> dict[str, str]:
    """Marker colour (hex) of each open status, in workflow order."""
    return {s: MARKER_HEX[c] for s, c in STATUS_COLOURS.items()}
