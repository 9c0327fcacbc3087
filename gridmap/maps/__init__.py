"""Folium map builders: model objects in, folium.Map out. No Flask, no store, no network.

Every map loads its JavaScript, CSS, images and fonts from the app's own static folder (the
files vendored under gridmap/web/static/vendor/), never from a CDN (`assets.localise`). Every
piece of user text passes through `_safe()` (`layers`). Geometry is EPSG:4326 lon/lat,
simplified by about 1 m and rounded to 6 decimals (about 0.1 m) before it is embedded.
The data each map shows is also available as JSON from `data` (the pages' JSON twins).

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
from ..model import Unit
from .assets import ASSETS, NOT_LOADED, localise, render_parts
from .data import (Choropleth, StaffEntry, choropleth, grid_json, incident_json, neighbours_of, overview_json,
                   staff_by_unit, status_colours, unit_json)
from .layers import (_CSS, LABEL_MIN_ZOOM, _choropleth, _grid_layer, _grid_popup, _heat_layer, _incident_layer,
                     _label_layer, _legend, _link, _MapClass, _safe, _status_rows, _zone_layer)

__all__ = ["ASSETS", "NOT_LOADED", "Choropleth", "StaffEntry", "choropleth", "grid_json", "grid_map",
           "incident_json", "neighbours_of", "overview_json", "overview_map", "render_parts", "staff_by_unit",
           "status_colours", "unit_json"]

MAX_ZOOM = 19  # Leaflet's maxZoom option: MarkerCluster fails without it when there are no tiles


def overview_map(zones: Sequence[Unit], grids: Sequence[Unit], incidents: Sequence[Incident],
                 staff_by_grid: Mapping[str, Sequence[StaffEntry]], show_phones: bool, static_url: str,
                 basemap: str | None = None, basemap_attr: str = "", category_names: Mapping[str, str] | None = None,
                 tz: dt.tzinfo = dt.timezone.utc, grid_href: Callable[[str], str] | None = None) -> folium.Map:
    """The whole store: zones, grids with their teams, incidents clustered, heat and choropleth."""
    m = _base_map([*zones, *grids], basemap, basemap_attr)
    stats = choropleth(grids, incidents)
    zone_names = {z.code: z.name for z in zones}
    if grids:  # (folium's GeoJson tooltips refuse an empty collection) bottom to top:
        _choropleth(stats, grids).add_to(m)
    if zones:
        _zone_layer(zones).add_to(m)
    if grids:
        popups = {g.code: _grid_popup(g, zone_names.get(g.parent_code or ""), staff_by_grid.get(g.code, ()),
                                      stats, show_phones, grid_href) for g in grids}
        _grid_layer(grids, "网格 Grids", popups).add_to(m)
        _label_layer(grids).add_to(m)
    _incident_layer(incidents, category_names or {}, tz).add_to(m)
    _heat_layer(incidents).add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    _legend(stats.title, stats.legend(), "bottomright").add_to(m)
    _legend("在办事件 Open incidents", _status_rows(), "bottomleft").add_to(m)
    return localise(m, static_url)


def grid_map(grid: Unit, neighbours: Sequence[Unit], incidents: Sequence[Incident], static_url: str,
             basemap: str | None = None, basemap_attr: str = "", category_names: Mapping[str, str] | None = None,
             tz: dt.tzinfo = dt.timezone.utc, grid_href: Callable[[str], str] | None = None) -> folium.Map:
    """One grid (bold) among its neighbours (labelled, linked), with its incidents."""
    m = _base_map([grid], basemap, basemap_attr, pad=0.4)
    links = {u.code: f"<b>{_safe(u.name)}</b><br>{_safe(u.code)}" + _link(u.code, grid_href) for u in neighbours}
    if neighbours:
        _grid_layer(neighbours, "相邻网格 Neighbours", links).add_to(m)
    _grid_layer([grid], "本网格 This grid", {}, weight=4, colour="#c0392b").add_to(m)
    _label_layer([grid, *neighbours], always=True).add_to(m)
    _incident_layer(incidents, category_names or {}, tz).add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    _legend("在办事件 Open incidents", _status_rows(), "bottomleft").add_to(m)
    return localise(m, static_url)


def _base_map(units: Sequence[Unit], basemap: str | None, basemap_attr: str, pad: float = 0.0) -> folium.Map:
    """A map with no tiles (or the given basemap), fitted to `units` widened by `pad` of their size."""
    bounds = shapely.total_bounds([u.geometry for u in units]) if units else np.array([73.0, 18.0, 135.0, 54.0])
    size = bounds[2:] - bounds[:2]
    bounds = np.concatenate([bounds[:2] - pad * size, bounds[2:] + pad * size])
    centre = [(bounds[1] + bounds[3]) / 2, (bounds[0] + bounds[2]) / 2]
    m = folium.Map(location=centre, zoom_start=11, tiles=None, control_scale=True, maxZoom=MAX_ZOOM, zoomSnap=0.5)
    if basemap:
        folium.TileLayer(basemap, attr=_safe(basemap_attr or "basemap"), name="底图 Basemap",
                         max_zoom=MAX_ZOOM, overlay=False).add_to(m)
    m.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])
    m.get_root().header.add_child(folium.Element(_CSS), name="gridmap_css")
    _MapClass(LABEL_MIN_ZOOM).add_to(m)
    return m
