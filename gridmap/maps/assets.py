"""Where each map's JavaScript, CSS, images and fonts come from: the app's static folder only.

folium lists its assets per element class in `default_js`/`default_css`, pointing at CDNs. Those
lists are class attributes shared by every map in the process, so they are replaced per instance
here; an element needing an asset that is not vendored is an error, not a silent CDN call.
"""

from __future__ import annotations

import re
from typing import Sequence

import folium
from folium.elements import JSCSSMixin

# folium asset name -> file under the static folder (scripts/vendor_assets.py puts them there)
ASSETS = {
    "leaflet": "vendor/leaflet/leaflet.js",
    "leaflet_css": "vendor/leaflet/leaflet.css",
    "jquery": "vendor/jquery/jquery.min.js",
    "bootstrap": "vendor/bootstrap/js/bootstrap.bundle.min.js",
    "bootstrap_css": "vendor/bootstrap/css/bootstrap.min.css",
    "awesome_markers": "vendor/leaflet.awesome-markers/leaflet.awesome-markers.min.js",
    "awesome_markers_css": "vendor/leaflet.awesome-markers/leaflet.awesome-markers.css",
    "awesome_markers_font_css": "vendor/fontawesome-free/css/all.min.css",
    "markerclusterjs": "vendor/leaflet.markercluster/leaflet.markercluster.js",
    "markerclustercss": "vendor/leaflet.markercluster/MarkerCluster.css",
    "markerclusterdefaultcss": "vendor/leaflet.markercluster/MarkerCluster.Default.css",
    "leaflet-heat.js": "vendor/leaflet.heat/leaflet-heat.js",
    "leaflet_draw_js": "vendor/leaflet-draw/leaflet.draw.js",
    "leaflet_draw_css": "vendor/leaflet-draw/leaflet.draw.css",
    "gridmap_js": "js/gridmap-map.js",  # gridmap's own (gridmap.maps.client), not vendored
}
# Listed by folium.Map but used by nothing on these maps: Bootstrap would restyle the app's own
# pages, glyphicons (Bootstrap 3) and the rotate CSS serve icon styles gridmap does not use.
NOT_LOADED = frozenset({"bootstrap", "bootstrap_css", "glyphicons_css", "awesome_rotate_css"})


def localise(m: folium.Map, static_url: str) -> folium.Map:
    """Point every element's JS/CSS at the vendored copies (per instance); fail on any unknown asset."""
    base = static_url if static_url.endswith("/") else static_url + "/"

    def local(links: Sequence[tuple[str, str]], owner: object) -> list[tuple[str, str]]:
        unknown = [url for name, url in links if name not in ASSETS and name not in NOT_LOADED]
        if unknown:
            raise ValueError(f"{type(owner).__name__} needs {unknown}, which is not vendored: "
                             "add it to scripts/vendor_assets.py and gridmap.maps.ASSETS")
        return [(name, base + ASSETS[name]) for name, _ in links if name not in NOT_LOADED]

    stack = [m]
    while stack:
        el = stack.pop()
        if isinstance(el, JSCSSMixin):
            el.default_js = local(type(el).default_js, el)
            el.default_css = local(type(el).default_css, el)
        stack.extend(el._children.values())
    return m


def render_parts(m: folium.Map) -> dict[str, str]:
    """The map's <head> links and styles, its <div>, and its script, for embedding in a page."""
    fig = m.get_root()
    fig.render()
    parts = {"head": fig.header.render(), "html": fig.html.render(), "script": fig.script.render()}
    outside = re.findall(r'(?:src|href)="((?:[a-z][a-z0-9+.-]*:)?//[^"]*)"', parts["head"], flags=re.I)
    if outside:  # an element added after localise(): fail rather than call a CDN
        raise RuntimeError(f"map would load assets from outside the app: {outside}")
    return parts
