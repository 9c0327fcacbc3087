"""Folium map builders: model objects in, folium.Map out. No Flask, no store, no network.

Every map loads its JavaScript, CSS, images and fonts from the app's own static folder (the
files vendored under gridmap/web/static/vendor/), never from a CDN (`assets.localise`). Every
piece of user text passes through `safe()` (`layers`). Geometry is EPSG:4326 lon/lat,
simplified by about 1 m and rounded to 6 decimals (about 0.1 m) before it is embedded.
The data each map shows is also available as JSON from `data` (the pages' JSON twins).
The overview's grids, labels and incidents are drawn by static/js/gridmap-map.js from compact
data (`client`); `geo` shifts overlays for a GCJ-02 basemap and serves grids by bounding box.
`dashboard_map` draws the leaders' dashboard: hotspots and early warnings (`data.hotspots`,
`data.early_warnings`).

    m = overview_map(zones, grids, incidents, staff_by_unit(people, roles), show_phones=False,
                     static_url="/static/")
    parts = render_parts(m)   # head (links, styles), html (the map div), script
"""

from __future__ import annotations

import datetime as dt
from typing import Callable, Mapping, Sequence

import folium
import numpy as np
import shapely

from ..incidents.model import Incident
from ..registry.model import Unit
from . import aggregates, geo
from .assets import ASSETS, NOT_LOADED, localise, render_parts
from .client import GridSource, feature_collection, fill_layer, grid_layer, grid_properties, incident_layer, label_layer
from .data import (
    NO_DATA,
    Choropleth,
    EarlyWarning,
    Hotspot,
    StaffEntry,
    choropleth,
    dashboard_json,
    dashboard_span,
    early_warnings,
    grid_json,
    hotspots,
    incident_json,
    neighbours_of,
    overview_json,
    staff_by_unit,
    status_colours,
    unit_json,
)
from .geo import GCJ02, WGS84, GridCatalog, parse_frame
from .layers import (
    LABEL_MIN_ZOOM,
    MAP_CSS,
    MapClass,
    feature_dict,
    folium_grid_layer,
    folium_heat_layer,
    folium_label_layer,
    folium_zone_layer,
    grid_link,
    layer_control,
    legend,
    safe,
    status_rows,
    unit_tooltip,
)

__all__ = ["ASSETS", "GCJ02", "NOT_LOADED", "WGS84", "Choropleth", "EarlyWarning", "GridCatalog", "Hotspot",
           "StaffEntry", "choropleth", "dashboard_json", "dashboard_map", "dashboard_span", "early_warnings",
           "grid_json", "grid_map", "hotspots", "incident_json", "neighbours_of", "overview_json", "overview_map",
           "parse_frame", "render_parts", "staff_by_unit", "status_colours", "unit_json"]

MAX_ZOOM = 19  # Leaflet's maxZoom option: MarkerCluster fails without it when there are no tiles
CANVAS_FROM = 1_000  # more grids than this are drawn on a canvas (faster than as SVG paths)
LARGE_ZONE_TOLERANCE = 1e-4  # zones of a store too large to embed: about 10 m, fine below zoom 14


def overview_map(zones: Sequence[Unit], grids: Sequence[Unit], incidents: Sequence[Incident],
                 staff_by_grid: Mapping[str, Sequence[StaffEntry]], show_phones: bool, static_url: str,
                 basemap: str | None = None, basemap_attr: str = "", category_names: Mapping[str, str] | None = None,
                 tz: dt.tzinfo = dt.timezone.utc, grid_href: Callable[[str], str] | None = None,
                 basemap_crs: str = WGS84, grids_url: str | None = None, grid_json_href: str | None = None,
                 catalog: GridCatalog | None = None, incident_title: str = "在办事件 Open incidents",
                 statuses: Sequence[str] | None = None, focus: Unit | None = None,
                 aggregated: Mapping | None = None) -> folium.Map:
    """The whole store: zones, grids with their teams, incidents clustered, heat and choropleth.

    The grids are embedded in the page (simplified, rounded; each geometry once), or, with
    `grids_url`, loaded by the browser by bounding box from that URL as the user pans (their
    teams then come from `grid_json_href`, a URL with ``__CODE__``, when a popup opens).
    `catalog` supplies cached display geometry for `grids`; `basemap_crs` "GCJ-02" shifts
    every overlay coordinate to match a GCJ-02 basemap. The overview's filters choose the
    `incidents`; `statuses` lists the ones asked for (legend) and `focus`, a zone, frames the map.
    `aggregated` ({"cells", "per_grid", "total"}, maps/aggregates.py) replaces `incidents` when there
    are too many to draw one by one: bubbles per cell, heat and choropleth from those counts.
    """
    frame = parse_frame(basemap_crs)
    catalog = catalog if catalog is not None and len(catalog) == len(grids) else GridCatalog(grids)
    grids = catalog.grids
    shown_zones = geo.display_units(zones, frame)
    shown_incidents = geo.display_incidents(incidents, frame)
    bounds = (_pad(shapely.total_bounds(geo.display_units([focus], frame)[0].geometry), 0.05) if focus
              else _bounds(shown_zones, catalog, frame))
    m = _base_map(bounds, basemap, basemap_attr)
    stats = choropleth(grids, incidents) if aggregated is None else aggregates.stats(grids, aggregated["per_grid"])
    zone_names = {z.code: safe(z.name) for z in zones}
    href = grid_href("__CODE__") if grid_href else None
    if grids_url:
        source = GridSource(url=grids_url)
    else:
        points = catalog.label_points(frame)
        props = [grid_properties(g, stats, points[i], staff_by_grid.get(g.code, ()), show_phones)
                 for i, g in enumerate(grids)]
        source = GridSource(data=feature_collection([g.code for g in grids], catalog.embedded(frame), props, encoded=True))
    source.add_to(m)
    # The grids are one set of polygons: the choropleth entry of the layer control switches their
    # fill. Bottom to top: grids, zone outlines (unfilled, so clicks reach the grids), labels.
    fill_layer(source, stats.title).add_to(m)
    grid_layer(source, "网格 Grids", {"gridHref": href, "gridJson": grid_json_href, "zoneNames": zone_names,
                                      "noData": NO_DATA, "canvas": bool(grids_url) or len(grids) > CANVAS_FROM}).add_to(m)
    if zones:
        folium_zone_layer(shown_zones, LARGE_ZONE_TOLERANCE if grids_url else geo.EMBED_TOLERANCE).add_to(m)
    label_layer(source, m.get_name(), "网格名称 Grid labels", LABEL_MIN_ZOOM).add_to(m)
    if aggregated is None:
        incident_layer(shown_incidents, category_names or {}, tz, incident_title).add_to(m)
        folium_heat_layer(shown_incidents).add_to(m)
    else:
        cells = aggregates.shifted_cells(aggregated["cells"], frame)
        aggregates.cluster_layer(cells, incident_title, aggregated["total"]).add_to(m)
        aggregates.heat_layer(cells).add_to(m)
    layer_control(m)  # collapsed on a phone
    legend(stats.title, stats.legend(), "bottomright").add_to(m)
    legend(incident_title, status_rows(statuses), "bottomleft").add_to(m)
    return localise(m, static_url)


def grid_map(grid: Unit, neighbours: Sequence[Unit], incidents: Sequence[Incident], static_url: str,
             basemap: str | None = None, basemap_attr: str = "", category_names: Mapping[str, str] | None = None,
             tz: dt.tzinfo = dt.timezone.utc, grid_href: Callable[[str], str] | None = None,
             basemap_crs: str = WGS84) -> folium.Map:
    """One grid (bold) among its neighbours (labelled, linked), with its incidents."""
    frame = parse_frame(basemap_crs)
    grid, *neighbours = geo.display_units([grid, *neighbours], frame)
    incidents = geo.display_incidents(incidents, frame)
    m = _base_map(_pad(shapely.total_bounds([grid.geometry]), 0.4), basemap, basemap_attr)
    links = {u.code: f"<b>{safe(u.name)}</b><br>{safe(u.code)}" + grid_link(u.code, grid_href) for u in neighbours}
    if neighbours:
        folium_grid_layer(neighbours, "相邻网格 Neighbours", links).add_to(m)
    folium_grid_layer([grid], "本网格 This grid", {}, weight=4, colour="#c0392b").add_to(m)
    folium_label_layer([grid, *neighbours], always=True).add_to(m)
    # one JS layer from a JSON array (as the overview): a folium Marker per incident compiled ~5 Jinja
    # templates each, 1.3 s of a 50-incident page at 1M
    incident_layer(incidents, category_names or {}, tz, "在办事件 Open incidents").add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    legend("在办事件 Open incidents", status_rows(), "bottomleft").add_to(m)
    return localise(m, static_url)


HOTSPOT_COLOURS = (("#bd0026", "≥ 3× 或新出现 or new"), ("#f03b20", "2–3×"), ("#fd8d3c", "1.5–2×"))
WARNING_COLOUR = "#6a00a8"


def _hotspot_colour(ratio: float | None) -> str:
    if ratio is None or ratio >= 3:
        return HOTSPOT_COLOURS[0][0]
    return HOTSPOT_COLOURS[1][0] if ratio >= 2 else HOTSPOT_COLOURS[2][0]


def dashboard_map(zones: Sequence[Unit], grids: Sequence[Unit], spots: Sequence[dict], warnings: Sequence[dict],
                  recent: Sequence[Incident], static_url: str, basemap: str | None = None, basemap_attr: str = "",
                  basemap_crs: str = WGS84, grid_href: Callable[[str], str] | None = None,
                  grids_url: str | None = None, grid_json_href: str | None = None,
                  catalog: GridCatalog | None = None) -> folium.Map:
    """Hotspot grids filled by their rise, early-warning grids outlined, over zones and all grids.

    `spots` / `warnings`: the ``grids`` lists of dashboard_json()["hotspots"/"warnings"].
    `recent`: the incidents of the hotspot window, for a heat layer.
    """
    frame = parse_frame(basemap_crs)
    catalog = catalog if catalog is not None and len(catalog) == len(grids) else GridCatalog(grids)
    m = _base_map(_bounds(geo.display_units(zones, frame), catalog, frame), basemap, basemap_attr)
    href = grid_href("__CODE__") if grid_href else None
    zone_names = {z.code: safe(z.name) for z in zones}
    if grids_url:
        source = GridSource(url=grids_url)
    else:
        stats = choropleth(catalog.grids, [])
        props = [grid_properties(g, stats, None, None, False) for g in catalog.grids]
        source = GridSource(data=feature_collection([g.code for g in catalog.grids], catalog.embedded(frame), props, encoded=True))
    source.add_to(m)
    grid_layer(source, "网格 Grids", {"gridHref": href, "gridJson": grid_json_href, "zoneNames": zone_names,
                                      "colour": "#7f8c9a", "weight": 0.8}).add_to(m)
    if zones:
        folium_zone_layer(geo.display_units(zones, frame), LARGE_ZONE_TOLERANCE if grids_url else geo.EMBED_TOLERANCE).add_to(m)
    by_code = {g.code: g for g in catalog.grids}
    marked = [(row, by_code[row["grid_code"]]) for row in spots if row["grid_code"] in by_code]
    warned = [(row, by_code[row["grid_code"]]) for row in warnings if row["grid_code"] in by_code]
    if marked:
        rows = {row["grid_code"]: row for row, _ in marked}

        def spot(u: Unit) -> dict:
            row = rows[u.code]
            return {"fill": _hotspot_colour(row["ratio"]),
                    "tooltip": f"{unit_tooltip(u)}<br>近30天 {row['count']} 件 · 前3期均值 {row['baseline']:g}",
                    "popup": f"<b>{safe(u.name)}</b><br>{safe(u.code)}<br>近30天 {row['count']} 件 · 前3期均值 "
                             f"{row['baseline']:g}" + grid_link(u.code, grid_href)}
        _marked_layer(geo.display_units([g for _, g in marked], frame), "热点 Hotspots", spot,
                      lambda f: {"color": "#7a0019", "weight": 1.5, "fillOpacity": 0.65,
                                 "fillColor": f["properties"]["fill"], "className": "gm-hotspot"}).add_to(m)
    if warned:
        rows_w = {row["grid_code"]: row for row, _ in warned}

        def warn(u: Unit) -> dict:
            row = rows_w[u.code]
            text = f"近7天 {row['count']} 件 &gt; 阈值 {row['threshold']:g}"
            return {"tooltip": f"预警 {unit_tooltip(u)}<br>{text}",
                    "popup": f"<b>预警 {safe(u.name)}</b><br>{safe(u.code)}<br>{text}" + grid_link(u.code, grid_href)}
        _marked_layer(geo.display_units([g for _, g in warned], frame), "预警 Early warnings", warn,
                      lambda f: {"color": WARNING_COLOUR, "weight": 4, "fillOpacity": 0.0, "dashArray": "6 3",
                                 "className": "gm-warning"}).add_to(m)
    if marked or warned:  # numbered badges, matching the hotspot table; "!" for a warning alone
        badges = folium.FeatureGroup(name=safe("编号 Numbers"))
        number = {row["grid_code"]: i for i, (row, _) in enumerate(marked, start=1)}
        warned_codes = {g.code for _, g in warned}
        seen: set[str] = set()
        for g in geo.display_units([g for _, g in marked + warned], frame):
            if g.code in seen:
                continue
            seen.add(g.code)
            p = g.geometry.representative_point()
            klass = "gm-badge gm-badge-warn" if g.code in warned_codes else "gm-badge"
            icon = folium.DivIcon(html=f'<div class="{klass}">{number.get(g.code, "!")}</div>',
                                  icon_size=(20, 20), icon_anchor=(10, 10), class_name="gm-badge-icon")
            folium.Marker([round(p.y, 6), round(p.x, 6)], icon=icon, tooltip=folium.Tooltip(unit_tooltip(g))).add_to(badges)
        badges.add_to(m)
    folium_heat_layer(geo.display_incidents(recent, frame)).add_to(m)
    folium.LayerControl(collapsed=True).add_to(m)
    rows = list(HOTSPOT_COLOURS) + [(WARNING_COLOUR, "预警 early warning (outline)")]
    legend("热点 Hotspots (近30天/前3期均值)", rows, "bottomright").add_to(m)
    return localise(m, static_url)


def _marked_layer(units: Sequence[Unit], name: str, props: Callable[[Unit], dict],
                  style: Callable[[dict], dict]) -> folium.GeoJson:
    """A few grids drawn with their own style, a tooltip and a popup (all text made safe by `props`)."""
    return folium.GeoJson(
        feature_dict(units, props), name=safe(name), zoom_on_click=False, style_function=style,
        highlight_function=lambda f: {"weight": 5}, tooltip=folium.GeoJsonTooltip(["tooltip"], labels=False, sticky=True),
        popup=folium.GeoJsonPopup(["popup"], labels=False, max_width=320))


def _pad(bounds: np.ndarray, pad: float) -> np.ndarray:
    size = bounds[2:] - bounds[:2]
    return np.concatenate([bounds[:2] - pad * size, bounds[2:] + pad * size])


def _bounds(zones: Sequence[Unit], catalog: GridCatalog, frame: str) -> np.ndarray | None:
    """Display bounds of the zones and the catalog's grids (None when there are none)."""
    boxes = []
    if len(catalog):
        b = shapely.total_bounds(catalog.geoms)
        boxes.append(geo.shift_xy(np.array([b[:2], b[2:]]), frame).ravel())
    if zones:
        boxes.append(shapely.total_bounds([z.geometry for z in zones]))
    if not boxes:
        return None
    arr = np.array(boxes)
    return np.concatenate([arr[:, :2].min(axis=0), arr[:, 2:].max(axis=0)])


def _base_map(bounds: np.ndarray | None, basemap: str | None, basemap_attr: str) -> folium.Map:
    """A map with no tiles (or the given basemap), fitted to `bounds` (minx, miny, maxx, maxy).

    `basemap` may name several tile URLs separated by " | " (e.g. Tianditu's streets and
    their annotation layer): the first is the base, the others are drawn over it.
    """
    if bounds is None:
        bounds = np.array([73.0, 18.0, 135.0, 54.0])
    centre = [(bounds[1] + bounds[3]) / 2, (bounds[0] + bounds[2]) / 2]
    m = folium.Map(location=centre, zoom_start=11, tiles=None, control_scale=True, maxZoom=MAX_ZOOM, zoomSnap=0.5)
    urls = [u.strip() for u in (basemap or "").split(" | ") if u.strip()]
    for i, url in enumerate(urls):
        folium.TileLayer(url, attr=safe(basemap_attr or "basemap"), name="底图 Basemap" if i == 0 else f"注记 Labels {i}",
                         max_zoom=MAX_ZOOM, overlay=i > 0, control=i == 0).add_to(m)
    m.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])
    m.get_root().header.add_child(folium.Element(MAP_CSS), name="gridmap_css")
    MapClass(LABEL_MIN_ZOOM).add_to(m)
    return m
