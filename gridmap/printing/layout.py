"""Page geometry: paper, orientation, the map frame, the scale, and projection to metres.

Everything is a pure function of the grid's shape and the planner's choices, so the data
gatherer (which fetches a basemap for the frame) and the renderer agree on the same frame.
Map coordinates are metres in the UTM zone of the mapped area (`gridmap.geo.crs.local_metric_crs`),
so the scale bar is true; page coordinates are PostScript points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import shapely
from pyproj import CRS, Transformer
from shapely.geometry.base import BaseGeometry

from ..geo.crs import local_metric_crs

MM = 72 / 25.4  # points per millimetre
PAPER_MM = {"A4": (210.0, 297.0), "A3": (297.0, 420.0)}
MARGIN = 10 * MM
HEADER = 15 * MM
FOOTER = 7 * MM
PANEL_PORTRAIT = 64 * MM  # the right-hand column of a portrait page
BAND_LANDSCAPE = 62 * MM  # the bottom band of a landscape page
GAP = 4 * MM
FILL = 0.86  # the grid fills this share of the frame (the rest shows its neighbours)
ELONGATED = 2.6  # a grid longer than this ratio gets A3 unless the paper is given
NICE = (1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.5, 8.0)


@lru_cache(maxsize=64)
def _forward(epsg: int) -> Transformer:
    return Transformer.from_crs("EPSG:4326", CRS.from_epsg(epsg), always_xy=True)


@lru_cache(maxsize=64)
def _inverse(epsg: int) -> Transformer:
    return Transformer.from_crs(CRS.from_epsg(epsg), "EPSG:4326", always_xy=True)


def metric_epsg(geom: BaseGeometry) -> int:
    """EPSG code of the UTM zone holding a lon/lat geometry's centre."""
    c = geom.centroid if not geom.is_empty else shapely.Point(0, 0)
    return local_metric_crs(c.x, c.y).to_epsg()


def project(geom: BaseGeometry, epsg: int) -> BaseGeometry:
    """A lon/lat geometry in metres of the given CRS."""
    t = _forward(epsg)
    return shapely.transform(geom, lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1])))


def project_xy(lonlat, epsg: int) -> np.ndarray:
    """(n, 2) lon/lat -> (n, 2) metres."""
    a = np.asarray(lonlat, float).reshape(-1, 2)
    x, y = _forward(epsg).transform(a[:, 0], a[:, 1])
    return np.column_stack([x, y])


def unproject_xy(xy, epsg: int) -> np.ndarray:
    """(n, 2) metres -> (n, 2) lon/lat."""
    a = np.asarray(xy, float).reshape(-1, 2)
    lon, lat = _inverse(epsg).transform(a[:, 0], a[:, 1])
    return np.column_stack([lon, lat])


def nice_scale(den: float) -> int:
    """The smallest 'round' scale denominator (1, 1.25, 1.5, 2, 2.5 ... x 10^k) at least `den`."""
    den = max(den, 100.0)
    k = 10 ** math.floor(math.log10(den))
    for f in NICE + (10.0,):
        if f * k >= den - 1e-9:
            return int(round(f * k))
    return int(10 * k)  # pragma: no cover


def nice_length(max_m: float) -> float:
    """A scale-bar length (1, 2 or 5 x 10^k metres) no longer than `max_m`."""
    k = 10 ** math.floor(math.log10(max(max_m, 1e-6)))
    for f in (5, 2, 1):
        if f * k <= max_m:
            return f * k
    return k


@dataclass(frozen=True)
class Frame:
    """One page's geometry. Boxes are (x, y, w, h) in points from the bottom-left corner."""

    paper: str
    orientation: str
    page_w: float
    page_h: float
    map_box: tuple[float, float, float, float]
    panel_box: tuple[float, float, float, float]
    epsg: int
    centre: tuple[float, float]  # metres
    scale: int  # 1:scale
    fits: bool = True  # False when a fixed scale cuts the grid

    @property
    def pt_per_m(self) -> float:
        return 1000.0 * MM / self.scale

    def to_page(self, xy) -> np.ndarray:
        """(n, 2) metres -> (n, 2) page points."""
        a = np.asarray(xy, float).reshape(-1, 2)
        x, y, w, h = self.map_box
        k = self.pt_per_m
        return np.column_stack([x + w / 2 + (a[:, 0] - self.centre[0]) * k, y + h / 2 + (a[:, 1] - self.centre[1]) * k])

    def extent_m(self) -> tuple[float, float, float, float]:
        """The ground shown in the map box, in metres: minx, miny, maxx, maxy."""
        _, _, w, h = self.map_box
        hw, hh = w / 2 / self.pt_per_m, h / 2 / self.pt_per_m
        return self.centre[0] - hw, self.centre[1] - hh, self.centre[0] + hw, self.centre[1] + hh

    def extent_lonlat(self) -> tuple[float, float, float, float]:
        """The lon/lat box around the map frame."""
        x0, y0, x1, y1 = self.extent_m()
        xs = np.linspace(x0, x1, 9)
        ys = np.linspace(y0, y1, 9)
        edge = np.array([(x, y0) for x in xs] + [(x, y1) for x in xs] + [(x0, y) for y in ys] + [(x1, y) for y in ys])
        ll = unproject_xy(edge, self.epsg)
        return float(ll[:, 0].min()), float(ll[:, 1].min()), float(ll[:, 0].max()), float(ll[:, 1].max())


def page_boxes(paper: str, orientation: str) -> tuple[float, float, tuple, tuple]:
    """Page size and the map and panel boxes of a layout.

    Portrait: the map on the left, a panel column on the right. Landscape: the map on top, a
    band of panels below.
    """
    w_mm, h_mm = PAPER_MM[paper]
    if orientation == "landscape":
        w_mm, h_mm = h_mm, w_mm
    pw, ph = w_mm * MM, h_mm * MM
    top = ph - MARGIN - HEADER
    bottom = MARGIN + FOOTER
    if orientation == "portrait":
        panel_w = PANEL_PORTRAIT * (1.25 if paper == "A3" else 1.0)
        map_box = (MARGIN, bottom, pw - 2 * MARGIN - panel_w - GAP, top - bottom)
        panel_box = (pw - MARGIN - panel_w, bottom, panel_w, top - bottom)
    else:
        band = BAND_LANDSCAPE * (1.25 if paper == "A3" else 1.0)
        map_box = (MARGIN, bottom + band + GAP, pw - 2 * MARGIN, top - bottom - band - GAP)
        panel_box = (MARGIN, bottom, pw - 2 * MARGIN, band)
    return pw, ph, map_box, panel_box


def fit_scale(size_m: tuple[float, float], map_box) -> float:
    """The scale denominator at which a (width, height) in metres fills FILL of the map box."""
    _, _, w, h = map_box
    need = max(size_m[0] / (w * FILL / MM / 1000.0), size_m[1] / (h * FILL / MM / 1000.0))
    return need


def choose_frame(geom: BaseGeometry, paper: str | None = None, orientation: str = "auto",
                 scale: int | None = None, epsg: int | None = None) -> Frame:
    """The page for a lon/lat geometry.

    Paper: A4 unless given, or A3 when the grid is very elongated (ratio above ELONGATED).
    Orientation: the one at which the grid comes out largest, portrait on a tie, unless given.
    Scale: the round scale at which the grid fills the frame, unless a fixed `scale` is given.
    """
    epsg = epsg or metric_epsg(geom)
    g = project(geom, epsg)
    x0, y0, x1, y1 = g.bounds if not g.is_empty else (0, 0, 1, 1)
    size = (max(x1 - x0, 1.0), max(y1 - y0, 1.0))
    if paper is None:
        ratio = max(size) / min(size)
        paper = "A3" if ratio > ELONGATED else "A4"
    orients = ["portrait", "landscape"] if orientation in (None, "auto") else [orientation]
    best = None
    for o in orients:
        pw, ph, map_box, panel_box = page_boxes(paper, o)
        need = fit_scale(size, map_box)
        if best is None or need < best[0] * 0.97:  # portrait wins near-ties
            best = (need, o, pw, ph, map_box, panel_box)
    need, o, pw, ph, map_box, panel_box = best
    den = int(scale) if scale else nice_scale(need)
    centre = ((x0 + x1) / 2, (y0 + y1) / 2)
    return Frame(paper, o, pw, ph, map_box, panel_box, epsg, centre, den, fits=den >= need * FILL)
