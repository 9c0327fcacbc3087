"""The overview's big layers, drawn in the browser by static/js/gridmap-map.js from compact data.

folium writes one Leaflet call per feature and per marker (a label, a popup, a tooltip each),
and re-reads all of it as a Jinja template, which made a 5,000-grid page 23 MB and 13 s to
build. Here the page carries each grid's geometry once (simplified by ~1 m, in millionths of a
degree, delta-encoded: geo.encode_polygons) with a few short properties in one
``<script type="application/json">`` element, and the incidents as one array; the script
builds the layers (on a canvas above CANVAS_FROM grids). Above
`gridmap.web.maps_pages.EMBED_MAX_GRIDS` the page carries no grids at all and the script loads
them as GeoJSON by the map's bounding box as the user pans. Elements here put their script into
the page unparsed (`_Raw`), so no user text can reach Jinja.

Feature properties (all user text pre-escaped with `safe`): ``n`` name, ``z`` zone code,
``hh`` households, ``o`` open incidents, ``r`` per 100 households, ``f`` fill colour, ``lp``
label point [lat, lon], ``t`` team [[role, name, phone?], ...] (embedded pages only; the
bbox-loaded grids fetch theirs from /grids/<code>.json when a popup opens).
"""

from __future__ import annotations

import datetime as dt
from typing import Mapping, Sequence

import folium
import numpy as np
from branca.element import CssLink, Element, JavascriptLink
from folium.elements import JSCSSMixin
from folium.map import Layer

from ..incidents.model import Incident
from ..registry.model import Unit
from .data import Choropleth, StaffEntry, incident_json, marker_colour
from .geo import dumps, raw_dumps, script_safe
from .layers import safe

GRIDMAP_JS = ("gridmap_js", "js/gridmap-map.js")


def grid_properties(grid: Unit, stats: Choropleth, label_point: Sequence[float] | None,
                    team: Sequence[StaffEntry] | list[list[str]] | None, show_phones: bool) -> dict:
    """The compact, pre-escaped properties of one grid feature (see the module docstring)."""
    rate = stats.rates.get(grid.code)
    props = {"n": safe(grid.name), "z": grid.parent_code, "hh": grid.households, "o": stats.counts.get(grid.code, 0),
             "r": None if rate is None else round(rate, 1), "f": stats.colour(grid.code)}
    if label_point is not None:
        props["lp"] = [float(label_point[0]), float(label_point[1])]
    if team is not None:
        props["t"] = team if team and isinstance(team[0], list) else team_json(team, show_phones)
    return props


def team_json(team: Sequence[StaffEntry], show_phones: bool) -> list[list[str]]:
    """[[role, name, phone?], ...], made safe; phones only when `show_phones`."""
    return [[safe(s.role_label), safe(s.person.name)] + ([safe(s.person.phone)] if show_phones and s.person.phone else [])
            for s in team]


def feature_collection(codes: Sequence[str], geometries: Sequence[str], props: Sequence[dict],
                       encoded: bool = False) -> str:
    """A GeoJSON FeatureCollection as text, from GeoJSON geometry strings (script-safe). With
    `encoded`, the geometries come from geo.encode_polygons and go in member "g" instead."""
    member = '"geometry":null,"g"' if encoded else '"geometry"'
    parts = [f'{{"type":"Feature","id":{raw_dumps(c)},"properties":{raw_dumps(p)},{member}:{g}}}'
             for c, g, p in zip(codes, geometries, props)]
    return script_safe('{"type":"FeatureCollection","features":[' + ",".join(parts) + "]}")


class _Raw(Element):
    """Script text put into the page as it is. folium re-reads every element's output as a Jinja
    template (slow for megabytes of data, and it would evaluate any ``{{ }}`` in user text);
    this element is never parsed."""

    def __init__(self, text: str):
        super().__init__("")
        self.text = text

    def render(self, **kwargs) -> str:
        return self.text


class _ClientElement(folium.MacroElement):
    """An element whose whole script is `script_text()`, added to the page unparsed."""

    default_js: list = [GRIDMAP_JS]
    default_css: list = []

    def script_text(self) -> str:
        raise NotImplementedError

    def render(self, **kwargs):
        figure = self.get_root()
        for name, url in self.default_js:
            figure.header.add_child(JavascriptLink(url), name=name)
        for name, url in self.default_css:
            figure.header.add_child(CssLink(url), name=name)
        text = self.script_text()
        if isinstance(self, Layer) and self.show:
            text += f"\n{self.get_name()}.addTo({self._parent.get_name()});"
        figure.script.add_child(_Raw(text + "\n"), name=self.get_name())


class GridSource(JSCSSMixin, _ClientElement):
    """The grids' data in the page (`data`: FeatureCollection text) or their bbox URL."""

    default_js = [GRIDMAP_JS]  # (JSCSSMixin comes first in the MRO, with an empty list)

    def __init__(self, data: str | None = None, url: str | None = None):
        super().__init__()
        self._name, self.data, self.url = "GridSource", data or "null", url

    def script_text(self) -> str:
        return (f"var {self.get_name()} = gridmap.source({self._parent.get_name()}, "
                f"{{dataId: {dumps(self.get_name() + '_data')}, url: {dumps(self.url)}}});")

    def render(self, **kwargs):
        # The data goes into the page as a JSON <script> element, which the browser reads with
        # JSON.parse: megabytes of it parse several times faster than the same as a JS literal.
        # (script_safe escaped every "<", so nothing in it can close the element.)
        figure = self.get_root()
        if self.data != "null":
            figure.html.add_child(_Raw(f'<script type="application/json" id="{self.get_name()}_data">{self.data}</script>\n'),
                                  name=self.get_name() + "_data")
        super().render(**kwargs)


class _ClientLayer(JSCSSMixin, _ClientElement, Layer):
    """A layer in the layer control whose Leaflet object comes from `gridmap.<factory>(...)`."""

    default_js = [GRIDMAP_JS]

    def __init__(self, name: str, call: str, show: bool = True):
        Layer.__init__(self, name=safe(name), overlay=True, control=True, show=show)
        self._name, self.call = "ClientLayer", call

    def script_text(self) -> str:
        return f"var {self.get_name()} = {self.call};"


def grid_layer(source: GridSource, name: str, options: dict) -> _ClientLayer:
    return _ClientLayer(name, f"gridmap.gridLayer({source.get_name()}, {dumps(options)})")


def fill_layer(source: GridSource, name: str) -> _ClientLayer:
    """The choropleth's entry in the layer control: switches the fill of the source's grid layers."""
    return _ClientLayer(name, f"gridmap.fillLayer({source.get_name()})")


def label_layer(source: GridSource, map_name: str, name: str, min_zoom: int) -> _ClientLayer:
    opts = {"minZoom": min_zoom, "className": "gm-grid-label"}
    return _ClientLayer(name, f"gridmap.labelLayer({source.get_name()}, {map_name}, {dumps(opts)})")


class _IncidentLayer(_ClientLayer):
    default_js = [GRIDMAP_JS, ("markerclusterjs", ""), ("awesome_markers", "")]
    default_css = [("markerclustercss", ""), ("markerclusterdefaultcss", ""), ("awesome_markers_css", ""),
                   ("awesome_markers_font_css", "")]


IncidentLayer = _IncidentLayer  # public: maps/aggregates.py draws its bubbles with the same assets


def incident_rows(incidents: Sequence[Incident], category_names: Mapping[str, str], tz: dt.tzinfo) -> list[list]:
    """[lat, lon, colour, id, category, status, reported, description] per incident, text made safe;
    the description as the public may read it (incidents/privacy.py: empty until filed)."""
    rows = []
    for inc in incidents:
        j = incident_json(inc, category_names, tz)
        rows.append([j["lat"], j["lon"], marker_colour(inc.status), str(inc.id),
                     safe(j["category_name"]), safe(j["status_label"]),
                     safe(j["reported_at"][:16].replace("T", " ")), safe(j["description"])])  # the public text
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
