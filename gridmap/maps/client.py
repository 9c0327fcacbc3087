"""The overview's big layers, drawn in the browser by static/js/gridmap-map.js from compact data.

folium writes one Leaflet call per feature and per marker (a label, a popup, a tooltip each),
which makes a 5,000-grid page 23 MB and 13 s to render. Here the page carries each grid's
geometry once (simplified, rounded), a few short properties, and one array of incidents; the
script builds the layers. Above `gridmap.web.maps_pages.EMBED_MAX_GRIDS` the page carries no
grids at all and the script loads them by the map's bounding box as the user pans.

Feature properties (all user text pre-escaped with `_safe`): ``n`` name, ``z`` zone code,
``hh`` households, ``o`` open incidents, ``r`` per 100 households, ``f`` fill colour, ``lp``
label point [lat, lon], ``t`` team [[role, name, phone?], ...] (embedded pages only; the
bbox-loaded grids fetch theirs from /grids/<code>.json when a popup opens).
"""

from __future__ import annotations

import datetime as dt
from typing import Mapping, Sequence

import folium
import numpy as np
from folium.elements import JSCSSMixin
from folium.map import Layer
from folium.template import Template

from ..incidents.model import Incident
from ..model import Unit
from .data import NO_DATA, STATUS_COLOURS, Choropleth, StaffEntry, incident_json
from .geo import dumps
from .layers import _safe

GRIDMAP_JS = ("gridmap_js", "js/gridmap-map.js")


def grid_properties(grid: Unit, stats: Choropleth, label_point: Sequence[float] | None,
                    team: Sequence[StaffEntry] | None, show_phones: bool) -> dict:
    """The compact, pre-escaped properties of one grid feature (see the module docstring)."""
    rate = stats.rates.get(grid.code)
    props = {"n": _safe(grid.name), "z": grid.parent_code, "hh": grid.households, "o": stats.counts.get(grid.code, 0),
             "r": None if rate is None else round(rate, 1), "f": stats.colour(grid.code)}
    if label_point is not None:
        props["lp"] = [float(label_point[0]), float(label_point[1])]
    if team is not None:
        props["t"] = [[_safe(s.role_label), _safe(s.person.name)]
                      + ([_safe(s.person.phone)] if show_phones and s.person.phone else []) for s in team]
    return props


def feature_collection(codes: Sequence[str], geometries: Sequence[str], props: Sequence[dict]) -> str:
    """A GeoJSON FeatureCollection as text, from GeoJSON geometry strings (script-safe)."""
    parts = [f'{{"type":"Feature","id":{dumps(c)},"properties":{dumps(p)},"geometry":{g}}}'
             for c, g, p in zip(codes, geometries, props)]
    return '{"type":"FeatureCollection","features":[' + ",".join(parts) + "]}"


class GridSource(JSCSSMixin, folium.MacroElement):
    """The grids' data in the page (`data`: FeatureCollection text) or their bbox URL."""

    default_js = [GRIDMAP_JS]
    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = gridmap.source({{ this._parent.get_name() }},
            {data: {{ this.data }}, url: {{ this.url|tojson }}});
        {% endmacro %}""")

    def __init__(self, data: str | None = None, url: str | None = None):
        super().__init__()
        self._name, self.data, self.url = "GridSource", data or "null", url


class _ClientLayer(JSCSSMixin, Layer):
    """A layer in the layer control whose Leaflet object comes from `gridmap.<factory>(...)`."""

    default_js = [GRIDMAP_JS]
    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = {{ this.call }};
        {% endmacro %}""")

    def __init__(self, name: str, call: str, show: bool = True):
        super().__init__(name=_safe(name), overlay=True, control=True, show=show)
        self._name, self.call = "ClientLayer", call


def grid_layer(source: GridSource, name: str, options: dict) -> _ClientLayer:
    return _ClientLayer(name, f"gridmap.gridLayer({source.get_name()}, {dumps(options)})")


def fill_layer(source: GridSource, name: str) -> _ClientLayer:
    return _ClientLayer(name, f"gridmap.fillLayer({source.get_name()}, {dumps({'noData': NO_DATA})})")


def label_layer(source: GridSource, map_name: str, name: str, min_zoom: int) -> _ClientLayer:
    opts = {"minZoom": min_zoom, "className": "gm-grid-label"}
    return _ClientLayer(name, f"gridmap.labelLayer({source.get_name()}, {map_name}, {dumps(opts)})")


class _IncidentLayer(_ClientLayer):
    default_js = [GRIDMAP_JS, ("markerclusterjs", ""), ("awesome_markers", "")]
    default_css = [("markerclustercss", ""), ("markerclusterdefaultcss", ""), ("awesome_markers_css", ""),
                   ("awesome_markers_font_css", "")]


def incident_rows(incidents: Sequence[Incident], category_names: Mapping[str, str], tz: dt.tzinfo) -> list[list]:
    """[lat, lon, colour, id, category, status, reported, description] per incident, text made safe."""
    rows = []
    for inc in incidents:
        j = incident_json(inc, category_names, tz)
        rows.append([j["lat"], j["lon"], STATUS_COLOURS.get(inc.status, "gray"), str(inc.id),
                     _safe(j["category_name"]), _safe(j["status_label"]),
                     _safe(j["reported_at"][:16].replace("T", " ")), _safe(inc.description)])
    return rows


def incident_layer(incidents: Sequence[Incident], category_names: Mapping[str, str], tz: dt.tzinfo,
                   name: str) -> _ClientLayer:
    """Open incidents, clustered, coloured by status; popup: category, status, time, text."""
    opts = {"cluster": {"maxClusterRadius": 40, "disableClusteringAtZoom": 16}}
    rows = incident_rows(incidents, category_names, tz)
    layer = _IncidentLayer(name, f"gridmap.incidentLayer({dumps(rows)}, {dumps(opts)})")
    layer.count = len(rows)
    return layer


def label_points_of(grids: Sequence[Unit]) -> np.ndarray:
    """(n, 2) lat/lon of each grid's representative point, 6 decimals."""
    import shapely

    if not grids:
        return np.zeros((0, 2))
    pts = shapely.get_coordinates(shapely.point_on_surface([g.geometry for g in grids]))
    return np.round(pts[:, ::-1], 6)
