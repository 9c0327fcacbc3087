"""Unit codes in the national unit-grid style (GB/T 30428.1 as applied by DB11/T 2157).

A code is the parent's code followed by a fixed-width serial: 6-digit county (the
administrative division code) + 3-digit town + 3-digit community/zone + 3-digit grid
(+ 3-digit micro-grid). Serials run in reading order: rows from north to south, and
west to east within a row.
"""

from __future__ import annotations

import re

import numpy as np
import shapely

SERIAL_WIDTH = 3
COUNTY_CODE = re.compile(r"^\d{6}$")


def reading_order(geoms: np.ndarray) -> np.ndarray:
    """Indices of lon/lat polygons in reading order: north→south rows, west→east in a row.

    Rows are bands of the median polygon height, counted down from the northernmost
    centroid, so polygons of one row with slightly different centroids keep their
    west→east order. Ties break on x then y, so the order is fully deterministic.
    """
    geoms = np.asarray(geoms, dtype=object)
    if len(geoms) == 0:
        return np.array([], dtype=int)
    pts = shapely.point_on_surface(geoms)
    x, y = shapely.get_x(pts), shapely.get_y(pts)
    bounds = shapely.bounds(geoms)
    height = float(np.median(bounds[:, 3] - bounds[:, 1])) or 1e-9
    row = np.floor((y.max() - y) / height).astype(int)
    return np.lexsort((-y, x, row))


def generate_codes(parent_code: str, geoms: np.ndarray, start: int = 1) -> list[str]:
    """Codes for the children of `parent_code`, numbered in reading order from `start`."""
    order = reading_order(geoms)
    if start + len(order) - 1 > 10**SERIAL_WIDTH - 1:
        raise ValueError(f"more than {10**SERIAL_WIDTH - 1} children under {parent_code}")
    codes = [""] * len(order)
    for serial, i in enumerate(order, start=start):
        codes[i] = f"{parent_code}{serial:0{SERIAL_WIDTH}d}"
    return codes
