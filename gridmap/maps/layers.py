"""The layers of gridmap's folium maps, one small helper each, and `safe()` for user text.

No folium text API escapes by default: popup and tooltip text is put into the page as HTML inside
a JavaScript template literal, so `safe()` HTML-escapes and then turns \\ ` $ into entities.
Every user string (names, codes, descriptions, phones) goes through it before reaching a tooltip,
popup, label, legend or layer name. Feature properties carry only such pre-escaped strings.
"""

from __future__ import annotations

import re
from typing import Callable, Mapping, Sequence
from urllib.parse import quote

import folium
import numpy as np
import shapely
from folium import plugins
from folium.template import Template

from ..incidents.model import STATUS_LABELS, Incident
from ..incidents.privacy import public_point
from ..registry.model import Unit
from .data import MARKER_HEX, STATUS_COLOURS, Choropleth, StaffEntry, marker_colour

SIMPLIFY_DEG = 1e-5  # about 1 m at these latitudes: below what a screen shows at street zoom
LABEL_MIN_ZOOM = 13  # grid names are legible from here on (a demo grid is about 2 km across)

MAP_CSS = """<style>
.leaflet-container.gm-map{background:#f4f3ef;font:13px/1.4 system-ui,"Noto Sans CJK SC","WenQuanYi Micro Hei",sans-serif}
.gm-map .gm-grid-label div,.gm-map .gm-label div{transform:translate(-50%,-50%);white-space:nowrap;font-size:11px;color:#1f4e79;
 text-shadow:0 0 2px #fff,0 0 2px #fff;pointer-events:none;width:max-content}
.gm-map.gm-zoomed-out .gm-grid-label{display:none}
.gm-map .leaflet-heatmap-layer{pointer-events:none}
.gm-map path.leaflet-interactive:focus{outline:none}
.gm-map .gm-legend{background:#fff;padding:6px 8px;border-radius:4px;box-shadow:0 1px 4px rgba(0,0,0,.3);line-height:18px}
.gm-map .gm-legend i{display:inline-block;width:14px;height:14px;margin-right:6px;vertical-align:-2px;border:1px solid #999}
.gm-map .gm-badge{width:20px;height:20px;line-height:20px;border-radius:50%;background:#7a0019;color:#fff;text-align:center;
 font:700 11px/20px system-ui,sans-serif;box-shadow:0 0 0 2px #fff,0 1px 3px rgba(0,0,0,.4)}
.gm-map .gm-badge-warn{background:#6a00a8}
.gm-map .gm-badge-icon{background:none;border:none}
.gm-map .gm-popup th{text-align:left;padding-right:8px;font-weight:600;white-space:nowrap;vertical-align:top}
</style>"""


_ENTITIES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;", "\\": "&#92;",
                           "`": "&#96;", "$": "&#36;", "{": "&#123;", "}": "&#125;"})
_SPECIAL = re.compile(r"[&<>\"'\\`${}]")


def safe(text: object) -> str:
    """User text made inert in HTML, inside folium's JS template literals (`${}`, backslash), and
    in Jinja: folium re-reads every element's rendered output as a Jinja template, so a name
    holding ``{{ ... }}`` would be evaluated on the server; braces become entities too.
    (The same as html.escape(quote=True) followed by those five entities.)"""
    if text is None:
        return ""
    text = str(text)
    return text.translate(_ENTITIES) if _SPECIAL.search(text) else text


def display_geojson(geom, tolerance: float = SIMPLIFY_DEG) -> dict:
    """GeoJSON geometry, simplified by `tolerance` (default ~1 m) and rounded to 6 decimals."""
    simple = shapely.simplify(geom, tolerance, preserve_topology=True)
    return shapely.geometry.mapping(shapely.transform(simple, lambda xy: np.round(xy, 6)))


def feature_dict(units: Sequence[Unit], props: Callable[[Unit], dict], tolerance: float = SIMPLIFY_DEG) -> dict:
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": safe(u.code), "properties": props(u), "geometry": display_geojson(u.geometry, tolerance)}
        for u in units]}


def unit_tooltip(u: Unit) -> str:
    return f"{safe(u.code)} {safe(u.name)}"


def folium_grid_layer(grids: Sequence[Unit], name: str, popups: Mapping[str, str], weight: float = 1.5,
                colour: str = "#1f4e79") -> folium.GeoJson:
    """Grid outlines with a code+name tooltip and, where given, a popup (HTML already made safe)."""
    data = feature_dict(grids, lambda u: {"tooltip": unit_tooltip(u), "popup": popups.get(u.code, unit_tooltip(u))})
    return folium.GeoJson(
        data, name=safe(name), zoom_on_click=False,
        style_function=lambda f: {"color": colour, "weight": weight, "fillOpacity": 0.04, "className": "gm-grid"},
        highlight_function=lambda f: {"weight": weight + 2, "fillOpacity": 0.15},
        tooltip=folium.GeoJsonTooltip(["tooltip"], labels=False, sticky=True),
        popup=folium.GeoJsonPopup(["popup"], labels=False, max_width=360))


def folium_zone_layer(zones: Sequence[Unit], tolerance: float = SIMPLIFY_DEG) -> folium.GeoJson:
    """Zone (管区) outlines, thick and unfilled so clicks reach the grids inside."""
    data = feature_dict(zones, lambda u: {"tooltip": f"管区 {unit_tooltip(u)}"}, tolerance)
    return folium.GeoJson(
        data, name=safe("管区 Zones"), zoom_on_click=False,
        style_function=lambda f: {"color": "#333333", "weight": 3, "fill": False, "dashArray": "6 4"},
        tooltip=folium.GeoJsonTooltip(["tooltip"], labels=False, sticky=True))


def _choropleth(stats: Choropleth, grids: Sequence[Unit]) -> folium.GeoJson:
    """Grids filled by incidents per 100 households (classes as in `stats.legend()`)."""
    def props(u: Unit) -> dict:
        rate = stats.rates[u.code]
        shown = "—" if rate is None else f"{rate:.1f}"
        return {"fill": stats.colour(u.code),
                "tooltip": f"{unit_tooltip(u)}<br>{stats.counts[u.code]} 件, {shown} /百户"}
    return folium.GeoJson(
        feature_dict(grids, props), name=safe(stats.title), zoom_on_click=False,
        style_function=lambda f: {"fillColor": f["properties"]["fill"], "fillOpacity": 0.7, "weight": 0},
        tooltip=folium.GeoJsonTooltip(["tooltip"], labels=False, sticky=True))


def folium_label_layer(grids: Sequence[Unit], always: bool = False) -> folium.FeatureGroup:
    """Grid names at each grid's inside point; unless `always`, the CSS hides them below LABEL_MIN_ZOOM."""
    group = folium.FeatureGroup(name=safe("网格名称 Grid labels"))
    for g in grids:
        p = g.geometry.representative_point()
        icon = folium.DivIcon(html=f"<div>{safe(g.name)}</div>", class_name="gm-label" if always else "gm-grid-label")
        folium.Marker([round(p.y, 6), round(p.x, 6)], icon=icon, interactive=False,
                      z_index_offset=-1000).add_to(group)  # under the incident markers
    return group


def folium_heat_layer(incidents: Sequence[Incident]) -> plugins.HeatMap:
    """Incident density; off by default (switch it on in the layer control)."""
    points = [list(public_point(i.lon, i.lat)[::-1]) for i in incidents]
    return plugins.HeatMap(points, name=safe("热力图 Heat map"), show=False, radius=20, blur=15, min_opacity=0.3)


def status_rows(statuses: Sequence[str] | None = None) -> list[tuple[str, str]]:
    """Legend rows of the statuses shown (default: the open ones), in workflow order."""
    return [(MARKER_HEX[marker_colour(s)], f"{STATUS_LABELS[s]} {s}") for s in (statuses or STATUS_COLOURS)]


class _Legend(folium.MacroElement):
    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.control({position: {{ this.position|tojson }}});
        {{ this.get_name() }}.onAdd = function () {
            var div = L.DomUtil.create('div', 'gm-legend');
            div.innerHTML = {{ this.html|tojson }};
            return div;
        };
        {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {% endmacro %}""")

    def __init__(self, html_: str, position: str):
        super().__init__()
        self._name, self.html, self.position = "Legend", html_, position


def legend(title: str, rows: Sequence[tuple[str, str]], position: str) -> _Legend:
    """A Leaflet control listing colour swatches with their labels."""
    body = "".join(f'<div><i style="background:{safe(c)}"></i>{safe(label)}</div>' for c, label in rows)
    return _Legend(f"<b>{safe(title)}</b>{body}", position)


class MapClass(folium.MacroElement):
    """Marks the map container `gm-map`, and `gm-zoomed-out` below `min_zoom` (hides labels)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function (map) {
            var box = map.getContainer();
            box.classList.add('gm-map');
            function zoomed() { box.classList.toggle('gm-zoomed-out', map.getZoom() < {{ this.min_zoom|int }}); }
            map.on('zoomend', zoomed);
            zoomed();
        })({{ this._parent.get_name() }});
        {% endmacro %}""")

    def __init__(self, min_zoom: int):
        super().__init__()
        self._name, self.min_zoom = "MapClass", min_zoom


def _grid_popup(g: Unit, zone_name: str | None, staff: Sequence[StaffEntry], stats: Choropleth,
                show_phones: bool, grid_href: Callable[[str], str] | None) -> str:
    """A grid's card: names, households, open incidents and its 1+1+N team (phones if allowed)."""
    rate = stats.rates.get(g.code)
    rows = [("网格 Grid", f"{safe(g.name)}<br>{safe(g.code)}"), ("管区 Zone", safe(zone_name or g.parent_code)),
            ("户数 Households", safe(g.households if g.households is not None else "—")),
            ("在办事件 Open", f"{stats.counts.get(g.code, 0)}" + ("" if rate is None else f" ({rate:.1f}/百户)"))]
    for s in staff:
        phone = f" {safe(s.person.phone)}" if show_phones and s.person.phone else ""
        rows.append((s.role_label, f'<span class="gm-staff">{safe(s.person.name)}</span>{phone}'))
    if not staff:
        rows.append(("队伍 Team", "—"))
    table = "".join(f"<tr><th>{safe(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<table class="gm-popup">{table}</table>{grid_link(g.code, grid_href)}'


def grid_link(code: str, grid_href: Callable[[str], str] | None) -> str:
    return f'<br><a href="{safe(grid_href(quote(code, safe="")))}">详情 Details →</a>' if grid_href else ""


class _PhoneCollapse(folium.MacroElement):
    """Starts a layer control collapsed on a narrow screen (a phone), where it would cover the map."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function (control, map) {
            if (!window.matchMedia('(max-width: {{ this.max_width|int }}px)').matches) { return; }
            control.options.collapsed = true;  // re-added, Leaflet lays it out collapsed (tap to open)
            control.remove();
            control.addTo(map);
        })({{ this.control.get_name() }}, {{ this._parent.get_name() }});
        {% endmacro %}""")

    def __init__(self, control: folium.LayerControl, max_width: int = 700):
        super().__init__()
        self._name, self.control, self.max_width = "PhoneCollapse", control, max_width


def layer_control(m: folium.Map, collapsed: bool = False) -> folium.LayerControl:
    """A layer control on `m`; open on a desk if not `collapsed`, always collapsed on a phone."""
    control = folium.LayerControl(collapsed=collapsed)
    control.add_to(m)
    if not collapsed:
        _PhoneCollapse(control).add_to(m)
    return control
