"""Gather what the pages show from the store (the only I/O of printing besides tiles and files).

Which grids: one (`grid`), every grid of a zone or a town, or every grid in the store, in code
order. For each: its zone and town, neighbouring grids (those touching it), the zone's grids for
the locator, the 1+1+N staff with the zone's secretary and director, the duty roster for the
coming week, open incidents, and the patrol route.

Checkpoints (the store has no key-sites layer yet): every open incident of the grid, at most
MAX_CHECKPOINTS (the newest first), points less than 1 m apart merged into one stop. When that
gives fewer than 3 stops, the grid's centre (shapely point_on_surface) and four points on its
boundary at quarter-perimeter spacing, starting from its north-westernmost vertex, are added.
Key sites given with `sites` become checkpoints too. The route is the shortest closed tour
(`route.shortest_tour`) by straight-line distance, or by road distance when road lines are given.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Sequence
from urllib.parse import quote
from zoneinfo import ZoneInfo

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from ..errors import InputError, NotFound
from ..i18n import tr
from ..incidents.model import OPEN_STATUSES, STATUS_LABELS
from ..registry.model import ROLE_LABELS, Level
from . import layout, route
from .localurl import local_host, local_qr_note
from .model import Checkpoint, GridSheet, IncidentMark, Neighbour, PrintBook, ShiftLine, Site, StaffLine

MAX_CHECKPOINTS = 24
ROLE_ORDER = ["leader", "instructor", "worker"]
ZONE_CONTACTS = ["zone_secretary", "zone_director", "info_officer"]
DEFAULT_BASE_URL = "http://127.0.0.1:5000"
GRID_LEVELS = (Level.grid, Level.micro)


def report_url(base_url: str, code: str) -> str:
    """The resident report page of one grid."""
    return f"{(base_url or DEFAULT_BASE_URL).rstrip('/')}/report?grid={quote(code)}"


def select_grids(store, grid: str | None = None, zone: str | None = None, town: str | None = None,
                 all_grids: bool = False) -> tuple[list[str], str, bool]:
    """(grid codes in code order, book title, whether it is a map book with an overview page).

    Exactly one of grid / zone / town / all_grids. NotFound for an unknown code, InputError for
    a code of the wrong level or a zone/town/store with no grids.
    """
    chosen = [k for k, v in (("--grid", grid), ("--zone", zone), ("--town", town), ("--all", all_grids)) if v]
    if len(chosen) != 1:
        raise InputError(tr("say what to print: exactly one of --grid CODE, --zone CODE, --town CODE or --all") + (tr(" (got %(chosen)s)", chosen=", ".join(chosen)) if chosen else ""))
    tree = store.unit_tree()
    levels = {c: lv for c, _, lv in tree}
    children: dict[str | None, list[str]] = {}
    for c, p, _ in tree:
        children.setdefault(p, []).append(c)
    if all_grids:
        codes = sorted(c for c, lv in levels.items() if lv == Level.grid)
        if not codes:
            raise NotFound(tr("the store holds no grids: import some with `gridmap import --level grid` or run `gridmap demo`"))
        return codes, "全部网格 All grids", True
    code = (grid or zone or town).strip()
    want = Level.grid if grid else Level.zone if zone else Level.town
    if code not in levels:
        raise NotFound(tr("no %(want)s with code %(code)r in the store", want=want.value, code=code))
    lv = levels[code]
    if grid:
        if lv not in GRID_LEVELS:
            raise InputError(tr("%(code)s is a %(value)s (%(label_zh)s), not a grid: use --%(value)s %(code)s", code=code, value=lv.value, label_zh=lv.label_zh) if lv in (Level.zone, Level.town) else tr("%(code)s is a %(value)s, not a grid", code=code, value=lv.value))
        return [code], code, False
    if lv != want:
        raise InputError(tr("%(code)s is a %(lv)s (%(label_zh)s), not a %(want)s", code=code, lv=lv.value, label_zh=lv.label_zh, want=want.value))
    found, todo = [], list(children.get(code, []))
    while todo:
        c = todo.pop()
        if levels[c] == Level.grid:
            found.append(c)
        elif levels[c].rank < Level.grid.rank:
            todo.extend(children.get(c, []))
    if not found:
        name = store.unit(code).name
        raise InputError(tr("%(want)s %(code)s %(name)s has no grids: nothing to print", want=want.value, code=code, name=name))
    return sorted(found), code, True


def read_lines(path: str | Path) -> list[BaseGeometry]:
    """LineStrings (lon/lat) from a GeoJSON file: the road layer for road-distance routes."""
    doc = _read_geojson(path)
    lines = [g for g in _geometries(doc, path) if g.geom_type in ("LineString", "MultiLineString")]
    if not lines:
        raise InputError(tr("%(path)s: no LineString features (the road layer needs lines)", path=path))
    return lines


def read_sites(path: str | Path) -> list[Site]:
    """Key sites and household points from a GeoJSON file of Points (properties name, kind)."""
    doc = _read_geojson(path)
    out = []
    for i, f in enumerate(doc.get("features") or []):
        g = shapely.geometry.shape(f["geometry"]) if f.get("geometry") else None
        if g is None or g.geom_type != "Point":
            raise InputError(tr("%(path)s: feature %(i)s is not a Point", path=path, i=i))
        p = f.get("properties") or {}
        out.append(Site(str(p.get("name") or ""), str(p.get("kind") or "site"), g.x, g.y))
    return out


def _read_geojson(path) -> dict:
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(tr("cannot read %(path)s as GeoJSON: %(exc)s", path=path, exc=exc)) from None
    if not isinstance(doc, dict):
        raise InputError(tr("%(path)s is not a GeoJSON object", path=path))
    return doc


def _geometries(doc: dict, path) -> list[BaseGeometry]:
    feats = doc.get("features") if doc.get("type") == "FeatureCollection" else [doc]
    try:
        return [shapely.geometry.shape(f["geometry"] if "geometry" in f else f) for f in feats or [] if f]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InputError(tr("%(path)s: bad geometry (%(exc)s)", path=path, exc=exc)) from None


def gather(services, codes: Sequence[str], *, incident_repo=None, taxonomy=None, title: str | None = None,
           overview: bool | None = None, base_url: str = DEFAULT_BASE_URL, today: dt.date | None = None,
           timezone: str | None = None, roads: Sequence[BaseGeometry] | None = None,
           sites: Sequence[Site] = (), tiles: str | None = None, tile_attribution: str = "",
           paper: str | None = None, orientation: str = "auto", scale: int | None = None) -> PrintBook:
    """The PrintBook for these grid codes, read through the public store API.

    Paper: a single page is A4, or A3 for a very elongated grid; a map book is all A4 unless
    `paper` is given. Orientation and scale are chosen per page unless given.

    `incident_repo` defaults to `services.store.incidents`; `taxonomy` gives categories their
    Chinese names. `today` starts the week of roster shown (default: today in `timezone`).
    """
    store = services.store
    tz = ZoneInfo(timezone or services.settings.timezone)
    today = today or dt.datetime.now(tz).date()
    repo = incident_repo if incident_repo is not None else getattr(store, "incidents", None)
    units = {u.code: u for u in store.units(codes=list(codes))}
    missing = [c for c in codes if c not in units]
    if missing:
        raise NotFound(tr("no grid with code %(missing)r in the store", missing=missing[0]))
    levels = sorted({u.level for u in units.values()}, key=lambda lv: lv.rank)
    peers = [u for lv in levels for u in store.units(level=lv)]
    tree = shapely.STRtree([u.geometry for u in peers])
    parents = {u.parent_code for u in units.values() if u.parent_code}
    zones = {u.code: u for u in store.units(codes=sorted(parents))} if parents else {}
    towns_codes = {z.parent_code for z in zones.values() if z.parent_code}
    towns = {u.code: u for u in store.units(codes=sorted(towns_codes))} if towns_codes else {}
    people = {p.person_id: p for p in store.people()}
    roles = store.roles()
    by_unit: dict[str, list] = {}
    for r in roles:
        by_unit.setdefault(r.unit_code, []).append(r)
    incidents: dict[str, list] = {}
    shifts: dict[str, list] = {}
    start = dt.datetime.combine(today, dt.time(), tz)
    end = start + dt.timedelta(days=7)
    if repo is not None:
        for inc in repo.query(status=list(OPEN_STATUSES), grid_codes=list(codes)):
            incidents.setdefault(inc.grid_code, []).append(inc)
        for s in repo.shifts(None, start, end):
            shifts.setdefault(s["unit_code"], []).append(s)
    road_lines = list(roads or [])
    sheets = []
    notes: list[str] = []
    for code in codes:
        u = units[code]
        zone = zones.get(u.parent_code) if u.parent_code else None
        town = towns.get(zone.parent_code) if zone is not None and zone.parent_code else None
        near = tree.query(u.geometry, predicate="dwithin", distance=1e-5)
        neighbours = [Neighbour(peers[i].code, peers[i].name, peers[i].geometry) for i in sorted(near)
                      if peers[i].code != code and peers[i].level == u.level]
        zone_grids = [Neighbour(p.code, p.name, p.geometry) for p in peers
                      if u.parent_code and p.parent_code == u.parent_code and p.level == u.level]
        staff = _staff(by_unit.get(code, []), people, ROLE_ORDER)
        if zone is not None:
            staff += _staff(by_unit.get(zone.code, []), people, ZONE_CONTACTS)
        roster = []
        for s in sorted(shifts.get(code, []) + (shifts.get(zone.code, []) if zone is not None else []),
                        key=lambda s: (s["starts_at"], s["person_id"])):
            p = people.get(s["person_id"])
            roster.append(ShiftLine(s["starts_at"].astimezone(tz), s["ends_at"].astimezone(tz), s["unit_code"],
                                    p.name if p else s["person_id"], (p.phone or "") if p else ""))
        marks = [IncidentMark(i.id, _category_name(taxonomy, i.category), STATUS_LABELS.get(i.status, i.status),
                              i.reported_at.astimezone(tz).date(), i.lon, i.lat)
                 for i in incidents.get(code, [])]
        mine = [s for s in sites if u.geometry.covers(shapely.Point(s.lon, s.lat))]
        sheet = GridSheet(
            code=code, name=u.name, geometry=u.geometry,
            zone_code=zone.code if zone else u.parent_code, zone_name=zone.name if zone else None,
            town_code=town.code if town else (zone.parent_code if zone else None),
            town_name=town.name if town else None, households=u.households, population=u.population,
            neighbours=neighbours, zone_geometry=zone.geometry if zone else None, zone_grids=zone_grids,
            staff=staff, roster=roster, incidents=marks, sites=mine, report_url=report_url(base_url, code),
        )
        _plan_route(sheet, road_lines)
        sheets.append(sheet)
    is_book = len(codes) > 1 if overview is None else overview
    book = PrintBook(
        title=title or (codes[0] if len(codes) == 1 else "网格地图册 Map book"), sheets=sheets, overview=is_book,
        plan_version=store.current_plan(), printed_on=today, roster_from=today,
        roster_to=today + dt.timedelta(days=6), paper=paper or ("A4" if is_book else None),
        orientation=orientation or "auto", scale=scale,
        context=[Neighbour(p.code, p.name, p.geometry) for p in peers] if is_book else [], notes=notes,
    )
    if tiles:
        _add_basemaps(book, tiles, tile_attribution)
    book.qr_local_host = local_host(base_url or DEFAULT_BASE_URL)
    if book.qr_local_host:
        notes.append(local_qr_note(book.qr_local_host))
    return book


def _staff(roles, people, order) -> list[StaffLine]:
    rank = {r: i for i, r in enumerate(order)}
    rows = []
    for r in sorted((r for r in roles if r.role in rank), key=lambda r: (rank[r.role], r.person_id)):
        p = people.get(r.person_id)
        rows.append(StaffLine(r.role, ROLE_LABELS.get(r.role, r.role), p.name if p else r.person_id,
                              (p.phone or "") if p else ""))
    return rows


def _category_name(taxonomy, code: str) -> str:
    if taxonomy is not None and code in taxonomy:
        return taxonomy.get(code).name
    return code


def checkpoints_for(sheet: GridSheet) -> list[Checkpoint]:
    """The stops of a grid's patrol (see the module docstring for the rule), not yet in order."""
    stops: list[Checkpoint] = []
    for m in sorted(sheet.incidents, key=lambda m: (m.reported, m.number), reverse=True)[:MAX_CHECKPOINTS]:
        stops.append(Checkpoint(m.lon, m.lat, f"#{m.number}", m.number, "incident"))
    for s in sheet.sites:
        if s.kind != "household":
            stops.append(Checkpoint(s.lon, s.lat, s.name, None, "site"))
    if len(stops) < 3:
        g = sheet.geometry
        c = g.point_on_surface()
        stops.append(Checkpoint(c.x, c.y, "中心 centre"))
        poly = max(getattr(g, "geoms", [g]), key=lambda p: p.area)
        ring = shapely.LineString(poly.exterior.coords)
        coords = np.asarray(ring.coords)[:-1]
        start = int(np.argmax(coords[:, 1] - coords[:, 0]))  # the north-westernmost vertex
        ring = shapely.LineString(np.vstack([coords[start:], coords[:start], coords[start:start + 1]]))
        for k in range(4):
            p = ring.interpolate(ring.length * k / 4)
            stops.append(Checkpoint(p.x, p.y, "边界 boundary"))
    return _merge_close(stops, layout.metric_epsg(sheet.geometry))


def _merge_close(stops: list[Checkpoint], epsg: int, tol_m: float = 1.0) -> list[Checkpoint]:
    if not stops:
        return stops
    xy = layout.project_xy([(s.lon, s.lat) for s in stops], epsg)
    out: list[tuple[np.ndarray, Checkpoint]] = []
    for p, s in zip(xy, stops):
        for k, (q, t) in enumerate(out):
            if np.hypot(*(p - q)) < tol_m:
                inc = ",".join(x for x in (t.incident, s.incident) if x) or None
                kind = "incident" if inc else t.kind if t.kind == "site" else s.kind
                out[k] = (q, Checkpoint(t.lon, t.lat, f"{t.label} {s.label}", inc, kind))
                break
        else:
            out.append((p, s))
    return [s for _, s in out]


def _plan_route(sheet: GridSheet, roads: Sequence[BaseGeometry]) -> None:
    stops = checkpoints_for(sheet)
    epsg = layout.metric_epsg(sheet.geometry)
    xy = layout.project_xy([(s.lon, s.lat) for s in stops], epsg)
    paths: dict = {}
    if roads:
        reach = sheet.geometry.buffer(0.02)  # about 2 km around the grid
        lines = []
        for g in roads:
            g = g.intersection(reach)
            for part in getattr(g, "geoms", [g]):
                if part.geom_type == "LineString" and not part.is_empty:
                    lines.append(layout.project_xy(np.asarray(part.coords)[:, :2], epsg))
        graph = route.RoadGraph(lines)
        dist, paths = graph.matrix(xy)
        sheet.route_metric = "road"
    else:
        dist = route.straight_matrix(xy)
    order = route.shortest_tour(dist)
    sheet.checkpoints = [stops[i] for i in order]
    sheet.route_length_m = route.tour_length(dist, order)
    poly: list[tuple[float, float]] = []
    for a, b in zip(order, order[1:] + order[:1]):
        leg = paths.get((a, b)) or [tuple(xy[a]), tuple(xy[b])]
        poly.extend(leg if not poly else leg[1:])
    sheet.route_path = [tuple(p) for p in layout.unproject_xy(poly, epsg)] if len(order) > 1 else []


def _add_basemaps(book: PrintBook, template: str, attribution: str) -> None:
    from .tiles import fetch_basemap

    for sheet in book.sheets:
        frame = layout.choose_frame(sheet.geometry, book.paper, book.orientation, book.scale)
        try:
            sheet.basemap = fetch_basemap(template, frame.extent_lonlat(), frame.scale * 0.0254 / 150,
                                          attribution)
        except (OSError, ValueError) as exc:
            book.notes.append(tr("basemap unavailable (%(error)s); pages printed without it", error=exc))
            for s in book.sheets:
                s.basemap = None
            return
