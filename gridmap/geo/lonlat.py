"""The range check on a longitude/latitude pair, with no heavy imports (the CLI runs it before opening
the store, so a bad coordinate is refused at once)."""

from __future__ import annotations

import math

from ..i18n import tr

# CRS names whose coordinates are degrees of longitude and latitude (GCJ-02 and BD-09 are offsets of at
# most a few hundred metres from WGS 84, so a pair outside the range is outside in WGS 84 too).
GEOGRAPHIC = frozenset({"EPSG:4326", "WGS84", "CRS84", "OGC:CRS84", "EPSG:4490", "CGCS2000",
                        "GCJ-02", "GCJ02", "BD-09", "BD09"})


def lonlat_problem(lon: float, lat: float, given: tuple[float, float] | None = None) -> str | None:
    """Why (lon, lat) is not a valid WGS 84 pair, or None. `given`: the pair as the user typed it
    (before a CRS conversion), for the swapped hint."""
    if math.isfinite(lon) and math.isfinite(lat) and abs(lat) <= 90 and abs(lon) <= 180:
        return None
    glon, glat = given or (lon, lat)
    if abs(glat) > 90 and abs(glon) <= 90:
        return tr("point (%(lon)s, %(lat)s) is not a valid lon/lat (lat/lon swapped?)", lon=glon, lat=glat)
    return tr("point (%(lon)s, %(lat)s) is not a valid lon/lat", lon=glon, lat=glat)


def is_geographic(crs: str) -> bool:
    """True when `crs` names lon/lat degrees (so `lonlat_problem` applies to the raw input)."""
    return crs.strip().upper() in GEOGRAPHIC
