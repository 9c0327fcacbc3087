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
from ..incidents.privacy import public_description, public_point
from ..registry.model import GRID_ROLES, ROLE_EN, Person, Role, Unit

# Incident markers by status (awesome-markers colour names); legend order follows the workflow.
STATUS_COLOURS = {"reported": "red", "filed": "orange", "dispatched": "blue", "in_progress": "purple",
                  "handled": "green", "verified": "darkgreen"}
MARKER_HEX = {"red": "#d63e2a", "orange": "#f69730", "blue": "#38aadd", "purple": "#d252b9",
              "green": "#72b026", "darkgreen": "#728224", "gray": "#575757", "black": "#303030",
              "lightgray": "#a3a3a3"}
# Final statuses appear only when the overview's status filter asks for them.
FINAL_COLOURS = {"closed": "gray", "rejected": "black", "merged": "lightgray"}


def marker_colour(status: str) -> str:
    """The awesome-markers colour name of a status (open or final)."""
    return STATUS_COLOURS.get(status) or FINAL_COLOURS.get(status, "gray")
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
        out = {"role": self.role, "role_label": self.role_label, "role_en": ROLE_EN.get(self.role, self.role),
               "person_id": self.person.person_id,
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
    return choropleth_counts(grids, Counter(i.grid_code for i in incidents if i.grid_code))


def choropleth_counts(grids: Sequence[Unit], counts: Mapping[str, int]) -> Choropleth:
    """The choropleth of given incident counts per grid code (rates per 100 households, classed)."""
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
    """What a (public) map shows of an incident: the public policy of incidents/privacy.py."""
    lon, lat = public_point(inc.lon, inc.lat)
    return {"id": inc.id, "category": inc.category, "category_name": category_names.get(inc.category, inc.category),
            "status": inc.status, "status_label": STATUS_LABELS.get(inc.status, inc.status),
            "lon": lon, "lat": lat, "grid_code": inc.grid_code,
            "reported_at": inc.reported_at.astimezone(tz).isoformat(), "description": public_description(inc)}


def unit_json(u: Unit) -> dict:
    """A unit's facts without its geometry (GET /api/v1/units/<code> has that)."""
    return {"code": u.code, "name": u.name, "level": u.level.value, "parent_code": u.parent_code,
            "households": u.households, "population": u.population,
            "area_km2": None if u.area_m2 is None else round(u.area_m2 / 1e6, 3)}


def overview_json(zones: Sequence[Unit], grids: Sequence[Unit], incidents: Sequence[Incident],
                  staff_by_grid: Mapping[str, Sequence[StaffEntry]], show_phones: bool,
                  category_names: Mapping[str, str] | None = None, tz: dt.tzinfo = dt.timezone.utc,
                  filters: Mapping | None = None, per_grid: Mapping[str, int] | None = None) -> dict:
    """Everything /map shows, as JSON: zones, grids with team and incident rate, incidents, legends.

    `filters` (MapFilter.as_json) says which incidents were asked for; without it, the open ones.
    `per_grid`: incident counts by grid from the database (the map aggregates: no `incidents` then)."""
    stats = choropleth(grids, incidents) if per_grid is None else choropleth_counts(grids, per_grid)
    statuses = (filters or {}).get("status")
    return {
        "counts": {"zones": len(zones), "grids": len(grids), "incidents": len(incidents),
                   "open_incidents": sum(1 for i in incidents if i.status in STATUS_COLOURS)},
        "filters": dict(filters) if filters else None,
        "legend": stats.as_json(), "status_colours": status_colours(statuses),
        "zones": [unit_json(z) for z in zones],
        "grids": [unit_json(g) | stats.grid_json(g.code)
                  | {"staff": [s.as_json(show_phones) for s in staff_by_grid.get(g.code, ())]} for g in grids],
        "incidents": [incident_json(i, category_names or {}, tz) for i in incidents],
    }


def grid_json(grid: Unit, neighbours: Sequence[Unit], incidents: Sequence[Incident], staff: Sequence[StaffEntry],
              show_phones: bool, category_names: Mapping[str, str] | None = None,
              tz: dt.tzinfo = dt.timezone.utc, zone: Unit | None = None, roster: Sequence[dict] = (),
              clocks: Mapping[str, dict] | None = None, metrics: Sequence[dict] = (),
              links: Mapping[str, str] | None = None, open_page: Mapping | None = None) -> dict:
    """Everything /grids/<code> shows, as JSON: the grid, its zone, team, duty roster, neighbours,
    open incidents with their clocks (gridpage.clock_json), metrics and links (patrol map, report page).
    `open_page` ({total, page, per_page, first}): `incidents` is that page of the grid's open ones."""
    stats = (choropleth([grid], incidents) if open_page is None
             else choropleth_counts([grid], {grid.code: open_page["total"]}))
    clocks = clocks or {}
    return {"grid": unit_json(grid) | stats.grid_json(grid.code), "zone": unit_json(zone) if zone else None,
            "staff": [s.as_json(show_phones) for s in staff], "roster": list(roster),
            "neighbours": [unit_json(n) for n in neighbours],
            "incidents": [incident_json(i, category_names or {}, tz) | ({"clock": clocks[i.id]} if i.id in clocks else {})
                          for i in incidents],
            "metrics": list(metrics), "links": dict(links or {}), "status_colours": status_colours(),
            **({"open_page": dict(open_page)} if open_page is not None else {})}


def status_colours(statuses: Sequence[str] | None = None) -> dict[str, str]:
    """Marker colour (hex) of each status shown (default: the open ones), in workflow order."""
    return {s: MARKER_HEX[marker_colour(s)] for s in (statuses or STATUS_COLOURS)}


# -- the leaders' dashboard: hotspots and early warnings ------------------------------------------
#
# Both compare a grid's recent count of incidents with its own usual level. What counts:
# every incident with a grid (``grid_code`` set) reported in the window, whatever its status,
# except those that are not incidents of their own: status ``rejected`` or ``merged``, or
# ``merged_into`` set. Windows are half-open, ``[start, end)``, on ``reported_at``, and they
# roll back from ``as_of`` (not calendar months or weeks, so the figures on the 15th of a month
# compare whole windows, not half a month with whole ones).

HOTSPOT_WINDOW = dt.timedelta(days=30)
HOTSPOT_BASELINE_WINDOWS = 3
HOTSPOT_MIN_COUNT = 3
HOTSPOT_MIN_RATIO = 1.5
HOTSPOT_TOP = 10
WARNING_WINDOW = dt.timedelta(days=7)
WARNING_BASELINE_WINDOWS = 8
WARNING_SIGMAS = 3.0
WARNING_MIN_COUNT = 3


def counts_as_activity(inc: Incident) -> bool:
    """True for an incident that counts towards a grid's level (see the rule above)."""
    return bool(inc.grid_code) and inc.status not in ("rejected", "merged") and inc.merged_into is None


def window_counts(incidents: Iterable[Incident], as_of: dt.datetime, window: dt.timedelta,
                  n_windows: int) -> dict[str, list[int]]:
    """Per grid, counts in ``n_windows`` consecutive windows ending at ``as_of``, newest first.

    ``counts[g][k]`` counts the grid's incidents with
    ``as_of - (k + 1) * window <= reported_at < as_of - k * window``; ``k = 0`` is the recent
    window. Only grids with at least one counted incident in the span appear.
    """
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    if window <= dt.timedelta(0) or n_windows < 1:
        raise ValueError("window must be positive and n_windows at least 1")
    start = as_of - n_windows * window
    out: dict[str, list[int]] = {}
    for inc in incidents:
        if not counts_as_activity(inc) or not start <= inc.reported_at < as_of:
            continue
        k = -((inc.reported_at - as_of) // window) - 1  # as_of - window itself is in window 0
        out.setdefault(inc.grid_code, [0] * n_windows)[k] += 1
    return out


@dataclass(frozen=True)
class Hotspot:
    """A grid whose recent count is well above its mean over the previous windows."""

    grid_code: str
    count: int  # counted incidents in the recent window
    baseline: float  # mean count per window over the baseline windows
    excess: float  # count - baseline
    ratio: float | None  # count / baseline; None when the baseline is 0
    history: tuple[int, ...]  # the baseline windows' counts, newest first

    def as_json(self) -> dict:
        return {"grid_code": self.grid_code, "count": self.count, "baseline": round(self.baseline, 2),
                "excess": round(self.excess, 2), "ratio": None if self.ratio is None else round(self.ratio, 2),
                "history": list(self.history)}


def hotspots(incidents: Iterable[Incident], as_of: dt.datetime, window: dt.timedelta = HOTSPOT_WINDOW,
             baseline_windows: int = HOTSPOT_BASELINE_WINDOWS, min_count: int = HOTSPOT_MIN_COUNT,
             min_ratio: float = HOTSPOT_MIN_RATIO, top: int | None = HOTSPOT_TOP) -> list[Hotspot]:
    """Where incidents cluster now against before: the grids whose last window stands out.

    Definition. The recent window is ``[as_of - window, as_of)`` (default 30 days); the
    baseline is the mean count over the ``baseline_windows`` windows before it (default 3, so
    the 90 days before), zeros included. A grid is a hotspot when
    ``count >= min_count`` (default 3) and ``count >= min_ratio * baseline`` (default 1.5) and
    ``count > baseline``. Ordered by excess (``count - baseline``) descending, then ratio
    descending (a zero baseline first), then grid code; at most ``top`` (None: all).
    """
    counts = window_counts(incidents, as_of, window, baseline_windows + 1)
    found = []
    for code, c in counts.items():
        count, history = c[0], tuple(c[1:])
        baseline = sum(history) / baseline_windows
        if count >= min_count and count >= min_ratio * baseline and count > baseline:
            found.append(Hotspot(code, count, baseline, count - baseline,
                                 count / baseline if baseline else None, history))
    found.sort(key=lambda h: (-h.excess, h.ratio is not None, -(h.ratio or 0.0), h.grid_code))
    return found if top is None else found[:top]


@dataclass(frozen=True)
class EarlyWarning:
    """A grid whose count in the last window jumped above its usual level."""

    grid_code: str
    count: int  # counted incidents in the recent window
    mean: float  # mean of the baseline windows' counts
    sd: float  # their population standard deviation (ddof = 0)
    threshold: float  # mean + sigmas * sd
    history: tuple[int, ...]  # the baseline windows' counts, newest first

    def as_json(self) -> dict:
        return {"grid_code": self.grid_code, "count": self.count, "mean": round(self.mean, 2),
                "sd": round(self.sd, 2), "threshold": round(self.threshold, 2), "history": list(self.history)}


def early_warnings(incidents: Iterable[Incident], as_of: dt.datetime, window: dt.timedelta = WARNING_WINDOW,
                   baseline_windows: int = WARNING_BASELINE_WINDOWS, sigmas: float = WARNING_SIGMAS,
                   min_count: int = WARNING_MIN_COUNT) -> list[EarlyWarning]:
    """Grids whose count jumped well above their usual level (预警).

    Definition. The recent window is ``[as_of - window, as_of)`` (default the last 7 days);
    the baseline is the ``baseline_windows`` windows before it (default the 8 weeks before),
    each counted separately, zeros included. With ``mean`` and ``sd`` (population standard
    deviation, ddof = 0) of those counts, a grid is warned about when
    ``count > mean + sigmas * sd`` (default 3) and ``count >= min_count`` (default 3; this
    keeps a quiet grid's single report from warning, since its sd is 0). Ordered by
    ``count - threshold`` descending, then grid code.
    """
    counts = window_counts(incidents, as_of, window, baseline_windows + 1)
    found = []
    for code, c in counts.items():
        count, history = c[0], tuple(c[1:])
        values = np.asarray(history, dtype=float)
        mean, sd = float(values.mean()), float(values.std())
        threshold = mean + sigmas * sd
        if count >= min_count and count > threshold:
            found.append(EarlyWarning(code, count, mean, sd, threshold, history))
    found.sort(key=lambda w: (-(w.count - w.threshold), w.grid_code))
    return found


def dashboard_span(as_of: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The reporting span `hotspots` and `early_warnings` read, with their default windows."""
    back = max(HOTSPOT_WINDOW * (HOTSPOT_BASELINE_WINDOWS + 1), WARNING_WINDOW * (WARNING_BASELINE_WINDOWS + 1))
    return as_of - back, as_of


def dashboard_json(zones: Sequence[Unit], grids: Sequence[Unit], period_incidents: Sequence[Incident],
                   recent_incidents: Sequence[Incident], start: dt.datetime, end: dt.datetime,
                   as_of: dt.datetime, tz: dt.tzinfo = dt.timezone.utc) -> dict:
    """Everything /dashboard shows, as JSON.

    ``zones``: 结案率, 按期结案率 and satisfaction per zone over ``[start, end)`` at ``as_of``
    (gridmap.incidents.metrics.compute(by="zone") and rank_zones: best first, the lowest
    satisfaction flagged); zones without an incident in the period follow, unranked.
    ``district``: the same metrics over everything. ``hotspots`` and ``warnings``: see
    `hotspots` and `early_warnings` (``recent_incidents`` must cover `dashboard_span`).
    """
    from dataclasses import asdict

    from ..incidents import metrics

    names = {u.code: u.name for u in [*zones, *grids]}
    parent = {g.code: g.parent_code for g in grids}

    def rates(m: dict) -> dict:
        keep = ("count", "filed", "due", "closed", "closed_on_time", "overdue_open", "closure_rate",
                "on_time_rate", "satisfaction", "rated", "p90_hours_to_close")
        return {k: (round(m[k], 4) if isinstance(m[k], float) else m[k]) for k in keep}

    by_zone = metrics.compute(period_incidents, by="zone", start=start, end=end, as_of=as_of)
    ranked = metrics.rank_zones(by_zone)
    seen = {r["key"] for r in ranked}
    zone_rows = [{"code": r["key"], "name": names.get(r["key"], r["key"]), "rank": r["rank"],
                  "flag_lowest_satisfaction": r["flag_lowest_satisfaction"], **rates(r)} for r in ranked]
    empty = rates(asdict(metrics.summarize(None, [], as_of)))
    zone_rows += [{"code": z.code, "name": z.name, "rank": None, "flag_lowest_satisfaction": False, **empty}
                  for z in sorted(zones, key=lambda z: z.code) if z.code not in seen]
    everything = metrics.compute(period_incidents, by="all", start=start, end=end, as_of=as_of)[0]
    unzoned = next((m.count for m in by_zone if m.key is None), 0)

    def place(code: str) -> dict:
        zone = parent.get(code)
        return {"name": names.get(code, code), "zone_code": zone, "zone_name": names.get(zone or "", zone)}

    spots = hotspots(recent_incidents, as_of)
    warns = early_warnings(recent_incidents, as_of)
    local = lambda t: t.astimezone(tz).isoformat()  # noqa: E731
    return {
        "as_of": local(as_of), "period": {"from": local(start), "to": local(end)},
        "district": rates(asdict(everything)) | {"outside_every_zone": unzoned},
        "zones": zone_rows,
        "flagged": [r["code"] for r in zone_rows if r["flag_lowest_satisfaction"]],
        "hotspots": {
            "rule": (f"count in the last {HOTSPOT_WINDOW.days} days >= {HOTSPOT_MIN_COUNT} and >= "
                     f"{HOTSPOT_MIN_RATIO:g} x the mean of the {HOTSPOT_BASELINE_WINDOWS} windows before"),
            "window": {"from": local(as_of - HOTSPOT_WINDOW), "to": local(as_of)},
            "grids": [h.as_json() | place(h.grid_code) for h in spots]},
        "warnings": {
            "rule": (f"count in the last {WARNING_WINDOW.days} days > mean + {WARNING_SIGMAS:g} sd of the "
                     f"{WARNING_BASELINE_WINDOWS} windows before, and >= {WARNING_MIN_COUNT}"),
            "window": {"from": local(as_of - WARNING_WINDOW), "to": local(as_of)},
            "grids": [w.as_json() | place(w.grid_code) for w in warns]},
    }
