"""Blueprint "maps": the overview map and the grid pages, each with a JSON twin, and the grids by bbox.

Views gather model objects from the services, hand them to the pure builders in gridmap.maps,
and render the result; `/map.json` and `/grids/<code>.json` return the same data the pages
show. Phones of staff are shown only to a signed-in user (session or API token). The maps load
Leaflet and its plugins from the app's static folder, STATIC_DIR (create_app passes it to Flask as
static_folder, served at /static/), so they need no internet.

Large stores. Up to EMBED_MAX_GRIDS grids (setting ``map_embed_max_grids``) the overview page
embeds every grid, simplified by about 1 m and rounded to 6 decimals. Above it the page embeds
none: the browser asks ``/map/grids.geojson?bbox=minx,miny,maxx,maxy&zoom=z`` as the user pans,
and gets the grids intersecting the box, simplified for the zoom (half a pixel, never finer than
1 m), at most BBOX_MAX_GRIDS of them (beyond that: none, with ``truncated`` and ``matched``).
Map pages and their data are gzip-compressed when the client accepts it.

Basemap (settings ``basemap_url``, ``basemap_attr``, ``basemap_crs``): none by default. With a
GCJ-02 basemap (AMap, Tencent) every overlay coordinate is shifted WGS84 -> GCJ-02, and the
bbox of /map/grids.geojson is read, and its geometry written, in GCJ-02 too.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import threading
import time
from pathlib import Path

import shapely
from flask import Blueprint, Response, current_app, jsonify, render_template, request, url_for

from .. import maps
from ..errors import InputError, NotFound
from ..i18n import tr
from ..incidents.metrics_db import compute_db
from ..incidents.model import OPEN_STATUSES
from ..maps import aggregates, geo, gridpage
from ..maps.filters import MapFilter
from ..registry.model import Level
from ..store.mapagg import MapAggregates
from . import services
from .auth import current_actor
from .basemap import basemap_setting
from .compress import gzip_response

STATIC_DIR = Path(__file__).with_name("static")  # vendored assets: see static/vendor/README.md
EMBED_MAX_GRIDS = 5_000  # above this many grids the overview loads grids by bbox
MAP_MAX_MARKERS = 5_000  # above this many incidents the overview draws counts per cell
GRID_PAGE_INCIDENTS = 200  # open incidents per page of a grid's page (the most urgent first)
BBOX_MAX_GRIDS = 3_000  # at most this many grids in one /map/grids.geojson answer
STAFF_MAX_AGE_S = 60.0  # the map's cached teams are at most this old
GEOJSON = "application/geo+json"
bp = Blueprint("maps", __name__)
_catalog_lock = threading.Lock()


@bp.get("/map")
def overview():
    """All zones and grids with their teams, incidents (clustered, heat) and incident rates.

    Filters in the query string (gridmap.maps.filters): from, to, category, status, zone."""
    catalog = grid_catalog()
    large = len(catalog) > embed_max_grids()
    flt = map_filter()
    args = _overview_args(flt, staff=not large, teams=True)  # bbox-loaded grids fetch their team on a click
    options = _map_options() | {"catalog": catalog, "statuses": flt.statuses,
                                "incident_title": _incident_title(flt), "focus": _zone_of(flt, args["zones"])}
    if large:
        options |= {"grids_url": url_for("maps.grids_in_bbox", **flt.as_args()), "grid_json_href": _grid_json_href()}
    m = maps.overview_map(**(args | {"grids": catalog.grids}), **options)
    agg = args["aggregated"]
    data = {"counts": {"zones": len(args["zones"]), "grids": len(catalog),
                       "incidents": agg["total"] if agg else len(args["incidents"])},
            "aggregated": bool(agg), "loaded_by_bbox": large, "filters": flt.as_json(), "filter_text": flt.describe(_names(flt, args["zones"])),
            "filter_active": flt.active, "json_args": flt.as_args(), "choices": _filter_choices(args["zones"])}
    search = {"map": m.get_name(), "url": url_for("api.places")}  # the search box flies this Leaflet map
    return render_template("map_overview.html", map=maps.render_parts(m), data=data, search=search)


@bp.get("/map.json")
def overview_json():
    """The data of /map, with the same filters."""
    flt = map_filter()
    args = _overview_args(flt)
    agg = args.pop("aggregated")
    out = maps.overview_json(**(args | {"grids": grid_catalog().grids}), filters=flt.as_json(),
                             per_grid=agg["per_grid"] if agg else None)
    if agg:  # counts per cell instead of one row per incident (maps/aggregates.py)
        out["counts"]["incidents"] = agg["total"]
        out["counts"]["open_incidents"] = agg["open"]
        out["incident_cells"] = aggregates.cells_json(agg["cells"], agg["total"])
    return jsonify(out)


def map_filter() -> MapFilter:
    """The overview's filters from the query string (InputError, HTTP 400, when one is wrong)."""
    return MapFilter.parse(request.args, _incidents().taxonomy.codes(), [z.code for z in zones()])


def _names(flt: MapFilter, shown_zones) -> dict[str, str]:
    tax = _incidents().taxonomy
    return ({c: tax.get(c).name for c in flt.categories if c in tax}
            | {z.code: z.name for z in shown_zones if z.code == flt.zone})


def _incident_title(flt: MapFilter) -> str:
    return "在办事件 Open incidents" if flt.open_only else "事件 Incidents"


def _zone_of(flt: MapFilter, shown_zones) -> object | None:
    return next((z for z in shown_zones if z.code == flt.zone), None) if flt.zone else None


def _filter_choices(shown_zones) -> dict:
    """What the filter form offers: categories, statuses and zones."""
    from ..incidents.model import STATUS_LABELS

    tax = _incidents().taxonomy
    return {"categories": [(c, tax.get(c).name) for c in tax.codes()],
            "statuses": [("open", "在办 open"), ("all", "全部 all"), *((k, f"{v} {k}") for k, v in STATUS_LABELS.items())],
            "zones": [(z.code, z.name) for z in shown_zones]}


@bp.get("/map/grids.geojson")
def grids_in_bbox():
    """The grids intersecting ?bbox=minx,miny,maxx,maxy (the map's frame), simplified for ?zoom=;
    their incident rates count what the overview's filters (same query string) select."""
    try:
        bbox, zoom, flt = _bbox_arg(), _zoom_arg(), map_filter()
    except InputError as exc:
        return jsonify({"status": 422, "title": "InputError", "detail": str(exc)}), 422
    frame = basemap_frame()
    catalog = grid_catalog()
    idx = catalog.in_bbox(geo.bbox_to_wgs84(bbox, frame))
    limit = BBOX_MAX_GRIDS
    meta = {"matched": int(len(idx)), "limit": limit, "zoom": zoom, "frame": frame,
            "tolerance": max(geo.EMBED_TOLERANCE, geo.tolerance_for_zoom(zoom))}
    if len(idx) > limit:
        body = geo.dumps({"type": "FeatureCollection", "features": [], "truncated": True, **meta})
        return Response(body, mimetype=GEOJSON)
    grids = [catalog.grids[i] for i in idx]
    svc = _incidents()
    stats = maps.choropleth(catalog.grids, flt.keep(svc.repo.query(**flt.query(svc.tz))))
    points = catalog.label_points(frame)
    props = [maps.client.grid_properties(g, stats, points[i], None, False) for g, i in zip(grids, idx)]
    fc = maps.client.feature_collection([g.code for g in grids], catalog.served(idx, frame, zoom), props)
    body = fc[:-1] + "," + geo.dumps({"truncated": False, **meta})[1:]
    return Response(body, mimetype=GEOJSON)


@bp.get("/grids/<code>")
def grid_page(code: str):
    """One grid on a map among its neighbours, its 1+1+N team and its open incidents."""
    args = _grid_args(code)
    opts = _map_options()
    m = maps.grid_map(args["grid"], args["neighbours"], args["incidents"], category_names=args["category_names"],
                      tz=args["tz"], **{k: v for k, v in opts.items() if k != "catalog"})
    from ..printing.localurl import local_host  # here: importing gridmap.printing at start-up costs time

    qr_local = local_host(services().settings.public_url or request.url_root)  # what the patrol PDF would print
    return render_template("map_grid.html", map=maps.render_parts(m), data=maps.grid_json(**args),
                           clock_labels=gridpage.CLOCK_LABELS, print_qr_local=qr_local)


@bp.get("/grids/<code>.json")
def grid_json(code: str):
    """The data of /grids/<code>."""
    return jsonify(maps.grid_json(**_grid_args(code)))


bp.after_request(gzip_response)


# -- what the views share -----------------------------------------------------------------------
def grid_catalog() -> "geo.GridCatalog":
    """The plan's grids in memory with a spatial index, rebuilt when the plan or the counts change."""
    store = services().store
    info = store.info()
    key = (info.plan, tuple(sorted((k, v) for k, v in info.counts.items() if k not in ("people", "roles"))))
    cached = current_app.extensions.get("gridmap.maps.catalog")
    if cached is not None and cached.key == key:
        return cached
    with _catalog_lock:
        cached = current_app.extensions.get("gridmap.maps.catalog")
        if cached is None or cached.key != key:
            cached = geo.GridCatalog(services().units(Level.grid), key)
            current_app.extensions["gridmap.maps.catalog"] = cached
    return cached


def embed_max_grids() -> int:
    """How many grids the overview embeds before it loads them by bbox."""
    return int(services().settings.map_embed_max_grids or EMBED_MAX_GRIDS)


def basemap_frame() -> str:
    """'WGS84' or 'GCJ-02': the frame of the basemap tiles, and so of every overlay."""
    settings = services().settings
    return geo.parse_frame(settings.basemap_crs if settings.basemap_url else "")


def map_options() -> dict:
    """What every map needs from the app: asset URL, links to grid pages, optional basemap."""
    settings = services().settings
    return {"static_url": url_for("static", filename=""), "grid_href": _grid_href,
            # basemap_url / basemap_attr / basemap_crs: a tile server ({z}/{x}/{y} URL, several
            # separated by " | "); without one the map has a plain background and needs no tiles.
            "basemap": basemap_setting(settings),
            "basemap_attr": settings.basemap_attr,
            "basemap_crs": basemap_frame()}


_map_options = map_options


def _overview_args(flt: MapFilter, staff: bool = True, teams: bool = False) -> dict:
    """What /map and /map.json show. `teams`: each grid's team as the page embeds it (made safe)."""
    svc = _incidents()
    agg = map_aggregates(flt, svc)
    incidents = [] if agg else flt.keep(svc.repo.query(**flt.query(svc.tz)))
    show_phones = _show_phones()
    if not staff:
        by_grid = {}
    elif teams:
        by_grid = staff_cache()["teams", show_phones]
    else:
        by_grid = staff_cache()["staff"]
    return {"zones": zones(), "grids": [], "incidents": incidents, "staff_by_grid": by_grid,
            "show_phones": show_phones, "aggregated": agg, **_labels(incidents)}


def map_max_markers() -> int:
    """How many incidents the overview draws one by one; above it, counts per cell (maps/aggregates.py)."""
    return int(services().settings.map_max_markers or MAP_MAX_MARKERS)


def map_aggregates(flt: MapFilter, svc) -> dict | None:
    """None when the incidents the filter selects are few enough to draw; else their counts by SQL."""
    q = flt.query(svc.tz)
    if len(flt.categories) > 1:
        q["category"] = list(flt.categories)
    agg = MapAggregates(services().store)
    total = agg.count(**q)
    if total <= map_max_markers():
        return None
    open_q = q | {"status": [st for st in q.get("status") or OPEN_STATUSES if st in OPEN_STATUSES]}
    return {"total": total, "per_grid": agg.per_grid(**q), "cells": agg.cells(aggregates.CELL_DEG, **q),
            "open": agg.count(**open_q) if open_q["status"] else 0}


def staff_cache() -> dict:
    """Every unit's team (1+1+N order), and as the map embeds it with and without phones.

    Rebuilt when the number of people or roles changes, and at least every STAFF_MAX_AGE_S
    seconds (so a changed name or phone shows within a minute)."""
    info = services().store.info()
    key = (info.counts.get("people"), info.counts.get("roles"))
    cached = current_app.extensions.get("gridmap.maps.staff")
    if cached is not None and cached["key"] == key and time.monotonic() - cached["at"] < STAFF_MAX_AGE_S:
        return cached
    s = services()
    staff = maps.staff_by_unit(s.store.people(), s.store.roles())
    cached = {"key": key, "at": time.monotonic(), "staff": staff,
              ("teams", False): {c: maps.client.team_json(t, False) for c, t in staff.items()},
              ("teams", True): {c: maps.client.team_json(t, True) for c, t in staff.items()}}
    current_app.extensions["gridmap.maps.staff"] = cached
    return cached


def zones() -> list:
    """The zones of the plan in force, their geometry simplified by ~1 m as the maps draw it
    (cached with the grid catalog, which is rebuilt when the plan or the counts change)."""
    catalog = grid_catalog()
    if not hasattr(catalog, "zones"):
        found = services().units(Level.zone)
        simple = shapely.simplify([z.geometry for z in found], geo.EMBED_TOLERANCE, preserve_topology=True)
        catalog.zones = [dataclasses.replace(z, geometry=g) for z, g in zip(found, simple)]
    return catalog.zones


def _grid_args(code: str) -> dict:
    s, svc, show_phones = services(), _incidents(), _show_phones()
    grid = s.unit(code)
    if grid.level not in (Level.grid, Level.micro):
        raise NotFound(tr("%(code)s is a %(value)s, not a grid", code=code, value=grid.level.value))
    page = _page_arg()
    # bounded: the most urgent page of open incidents (by deadline), with how many there are
    open_total = MapAggregates(s.store).count(status=list(OPEN_STATUSES), grid_code=code)
    incidents = svc.repo.query(status=OPEN_STATUSES, grid_codes=[code], order="due_at", limit=GRID_PAGE_INCIDENTS,
                               offset=(page - 1) * GRID_PAGE_INCIDENTS)
    people = {p.person_id: p for p in s.store.people()}  # read once: the team and the roster name them
    staff = maps.staff_by_unit(people.values(), s.store.roles(unit_code=code)).get(code, [])
    zone = s.store.units(codes=[grid.parent_code]) if grid.parent_code else []
    neighbours = (grid_catalog().neighbours(grid) if grid.level == Level.grid
                  else maps.neighbours_of(grid, s.units(grid.level)))
    now = svc.clock()
    units = [code] + ([grid.parent_code] if grid.parent_code else [])
    shifts = [x for u in units for x in svc.repo.shifts(u, now, now + dt.timedelta(days=gridpage.ROSTER_DAYS))]
    # the grid's metrics by the database (one grid: by its index, not a year of incidents in Python)
    windows = [(key, label, compute_db(svc.repo, "all", start, now, as_of=now, tz=svc.tz, grid_codes=[code])[0][0])
               for key, label, start in gridpage.window_ranges(now)]
    return {"grid": grid, "neighbours": neighbours, "incidents": incidents,
            "open_page": {"total": open_total, "page": page, "per_page": GRID_PAGE_INCIDENTS,
                          "first": (page - 1) * GRID_PAGE_INCIDENTS + 1 if incidents else 0},
            "staff": staff, "zone": zone[0] if zone else None, "show_phones": show_phones, **_labels(incidents),
            "roster": gridpage.roster_json(shifts, people, svc.tz, now, show_phones),
            "clocks": {i.id: gridpage.clock_json(i, now, s.settings.due_soon_hours, svc.tz) for i in incidents},
            "metrics": gridpage.metrics_json(windows),
            "links": {"patrol_pdf": url_for("printing.patrol_pdf", code=code),
                      "report": url_for("report.report_page", grid=code),
                      "json": url_for("maps.grid_json", code=code)}}


def _page_arg() -> int:
    """``page=`` of the grid page's open incidents (1 up), or 422."""
    raw = request.args.get("page", "1")
    if not raw.isdigit() or not 1 <= int(raw) <= 100_000:
        raise InputError(tr("page=%(v)r: give a page number from 1", v=raw[:20]))
    return int(raw)


def _bbox_arg() -> tuple[float, float, float, float]:
    raw = request.args.get("bbox", "")
    try:
        box = tuple(float(v) for v in raw.split(","))
    except ValueError:
        box = ()
    if len(box) != 4 or not all(math.isfinite(v) for v in box):
        raise InputError(tr("bbox must be minx,miny,maxx,maxy in degrees, got %(raw)r", raw=raw))
    x0, y0, x1, y1 = box
    if not (x0 < x1 and y0 < y1 and -180 <= x0 and x1 <= 180 and -90 <= y0 and y1 <= 90):
        raise InputError(tr("bbox %(raw)r: need minx < maxx, miny < maxy, within -180..180 / -90..90", raw=raw))
    return box


def _zoom_arg() -> int:
    raw = request.args.get("zoom", "14")
    try:
        zoom = float(raw)
    except ValueError:
        raise InputError(tr("zoom must be a number, got %(raw)r", raw=raw)) from None
    if not 0 <= zoom <= 24:
        raise InputError(tr("zoom must be between 0 and 24, got %(raw)r", raw=raw))
    return int(round(zoom))


def _grid_href(code: str) -> str:
    return url_for("maps.grid_page", code=code)


def _grid_json_href() -> str:
    return url_for("maps.grid_json", code="__CODE__")


def _labels(incidents) -> dict:
    """Category names for the incidents shown, and the jurisdiction's time zone."""
    svc = _incidents()
    cats = {i.category for i in incidents}
    return {"category_names": {c: svc.taxonomy.get(c).name for c in cats if c in svc.taxonomy}, "tz": svc.tz}


def _incidents():
    return services().incidents


def _show_phones() -> bool:
    """Staff phones are for signed-in users only; the public sees names (the role x data table, policy.py)."""
    from ..policy import sees

    return sees(current_actor(), "staff_phones")


def warm_up(app) -> float:
    """Build the map caches (grid catalog, zone outlines, teams) before the first visitor asks for
    them; returns the seconds it took. `gridmap serve` and gridmap.wsgi run it in a thread at start."""
    started = time.perf_counter()
    with app.test_request_context("/map"):
        grid_catalog()
        zones()
        staff_cache()
    return time.perf_counter() - started
