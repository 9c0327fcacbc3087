"""The overview's incidents as counts when there are too many to draw one by one (issue #13).

Beyond ``web.maps_pages.MAP_MAX_MARKERS`` matching incidents the overview carries, instead of
one marker each, the count per map cell (store/mapagg.py: squares of ``CELL_DEG`` degrees, drawn
at the mean position of their incidents, as cluster bubbles by static/js/gridmap-map.js), the
heat layer from the same cells weighted by count, and the choropleth from per-grid counts made
by the database. The page then holds at most one bubble per cell of the jurisdiction, whatever
the history size and at every zoom.
"""

from __future__ import annotations

import datetime as dt
from typing import Mapping, Sequence

import numpy as np
from folium import plugins

from ..registry.model import Unit
from . import geo
from .client import IncidentLayer
from .data import Choropleth, choropleth_counts
from .geo import dumps
from .layers import safe

CELL_DEG = 0.01  # about 1.1 km north-south: a county of 1,200 km² has at most ~1,500 non-empty cells

Cells = Sequence[tuple[float, float, int]]


def shifted_cells(cells: Cells, frame: str) -> list[tuple[float, float, int]]:
    """The cells' points in the basemap's frame (GCJ-02 shifts them as it shifts markers)."""
    if frame == geo.WGS84 or not cells:
        return list(cells)
    xy = geo.shift_xy(np.array([[c[1], c[0]] for c in cells], dtype=float), frame)
    return [(round(float(y), 6), round(float(x), 6), c[2]) for c, (x, y) in zip(cells, xy)]


def cluster_layer(cells: Cells, name: str, total: int) -> IncidentLayer:
    """One bubble per cell with its count; the tooltip says to filter or zoom for single incidents."""
    opts = {"label": safe("件事件 incidents here; filter the map (dates, category) to see each one")}
    layer = IncidentLayer(name, f"gridmap.aggregateLayer({dumps([list(c) for c in cells])}, {dumps(opts)})")
    layer.count = total
    return layer


def heat_layer(cells: Cells) -> plugins.HeatMap:
    """Incident density from the cells' counts (off by default, as the marker heat layer)."""
    top = max((c[2] for c in cells), default=1)
    points = [[c[0], c[1], round(c[2] / top, 4)] for c in cells]
    return plugins.HeatMap(points, name=safe("热力图 Heat map"), show=False, radius=20, blur=15, min_opacity=0.3)


def stats(grids: Sequence[Unit], per_grid: Mapping[str, int]) -> Choropleth:
    """The choropleth from the database's per-grid counts."""
    return choropleth_counts(grids, per_grid)


def cells_json(cells: Cells, total: int, as_of: dt.datetime | None = None) -> dict:
    """/map.json's part for aggregated incidents."""
    return {"aggregated": True, "cell_deg": CELL_DEG, "total": total,
            "cells": [{"lat": c[0], "lon": c[1], "count": c[2]} for c in cells]}
