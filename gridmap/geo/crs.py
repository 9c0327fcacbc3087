"""Coordinate reference systems treated as data.

Storage is EPSG:4326 lon/lat (CGCS2000, EPSG:4490, is within centimetres of it). Input may be
any CRS pyproj knows, or GCJ-02 (AMap/Tencent) or BD-09 (Baidu), the obfuscated offsets that
no EPSG code describes. Areas and distances are computed geodesically in metres, never in
square degrees.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import shapely

from ..errors import InputError
from ..i18n import tr
from . import chinacrs

if TYPE_CHECKING:  # pyproj loads on first use: EPSG:4326 input (the bulk path) never needs it
    from pyproj import CRS, Geod, Transformer

STORAGE_CRS = "EPSG:4326"
_SPECIAL = {
    "GCJ-02": "GCJ-02", "GCJ02": "GCJ-02", "GCJ": "GCJ-02", "MARS": "GCJ-02",
    "BD-09": "BD-09", "BD09": "BD-09", "BD09LL": "BD-09", "BAIDU": "BD-09",
}


@dataclass(frozen=True)
class InputCRS:
    """A CRS as the user named it: a pyproj CRS, or one of the Chinese offsets."""

    name: str
    special: str | None = None  # "GCJ-02" or "BD-09"

    @property
    def pyproj(self) -> CRS | None:
        return None if self.special else _crs(self.name)

    @property
    def is_geographic(self) -> bool:
        return bool(self.special) or self.name == STORAGE_CRS or _crs(self.name).is_geographic

    @property
    def is_storage(self) -> bool:
        return not self.special and (self.name == STORAGE_CRS or _crs(self.name) == _crs(STORAGE_CRS))


@lru_cache(maxsize=64)
def _crs(name: str) -> CRS:
    from pyproj import CRS

    return CRS.from_user_input(name)


@lru_cache(maxsize=1)
def geod() -> Geod:
    """The WGS 84 ellipsoid for geodesic distances and areas (pyproj loaded on first use)."""
    from pyproj import Geod

    return Geod(ellps="WGS84")


def parse_crs(text: str | None) -> InputCRS:
    """Parse 'EPSG:4490', 'GCJ-02', 'BD-09', a WKT or PROJ string; raise InputError if unknown."""
    return _parse_crs(None if text is None else str(text))


@lru_cache(maxsize=256)
def _parse_crs(text: str | None) -> InputCRS:
    """Parse 'EPSG:4490', 'GCJ-02', 'BD-09', a WKT or PROJ string; raise InputError if unknown."""
    if text is None or not str(text).strip():
        raise InputError(tr("no CRS given: name the input's CRS with --crs (e.g. EPSG:4326, EPSG:4490, GCJ-02)"))
    key = str(text).strip().upper().replace("_", "-")
    if key in _SPECIAL or key.replace("-", "") in _SPECIAL:
        return InputCRS(_SPECIAL.get(key) or _SPECIAL[key.replace("-", "")], _SPECIAL.get(key) or _SPECIAL[key.replace("-", "")])
    if key == STORAGE_CRS:  # what pyproj would answer (CRS('EPSG:4326').to_string()), without loading it
        return InputCRS(STORAGE_CRS)
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        crs = CRS.from_user_input(str(text).strip())
    except CRSError as exc:
        raise InputError(
            tr("unknown CRS %(text)r: use an EPSG code (EPSG:4326, EPSG:4490, EPSG:4547...), GCJ-02 or BD-09 (%(exc)s)", text=text, exc=exc)
        ) from None
    return InputCRS(crs.to_string())


@lru_cache(maxsize=64)
def _to_lonlat(name: str) -> Transformer:
    from pyproj import Transformer

    return Transformer.from_crs(_crs(name), _crs(STORAGE_CRS), always_xy=True)


def xy_to_storage(x: np.ndarray, y: np.ndarray, crs: InputCRS) -> tuple[np.ndarray, np.ndarray]:
    """Transform coordinate arrays from `crs` to EPSG:4326 lon/lat."""
    x = np.asarray(x, dtype="float64")
    y = np.asarray(y, dtype="float64")
    if crs.special == "GCJ-02":
        return chinacrs.gcj02_to_wgs84(x, y)
    if crs.special == "BD-09":
        return chinacrs.bd09_to_wgs84(x, y)
    if crs.is_storage:
        return x, y
    lon, lat = _to_lonlat(crs.name).transform(x, y)
    return np.asarray(lon), np.asarray(lat)


def geoms_to_storage(geoms: np.ndarray, crs: InputCRS) -> np.ndarray:
    """Transform an array of shapely geometries to EPSG:4326 lon/lat (vertex by vertex)."""
    if crs.is_storage:
        return geoms

    def _fn(coords: np.ndarray) -> np.ndarray:
        lon, lat = xy_to_storage(coords[:, 0], coords[:, 1], crs)
        return np.column_stack([lon, lat])

    return shapely.transform(geoms, _fn)


def area_perimeter_m(geom) -> tuple[float, float]:
    """Geodesic area (m²) and perimeter (m) on the WGS84 ellipsoid of a lon/lat geometry."""
    area, perimeter = geod().geometry_area_perimeter(geom)
    return abs(area), perimeter


def distance_m(lon: float, lat: float, geom) -> float:
    """Distance in metres from a lon/lat point to a lon/lat geometry (0 if it covers the point).

    The nearest point of the geometry is found in a local equirectangular frame (longitude
    scaled by cos(lat), exact enough to pick the nearest point within tens of km), and the
    distance to it is the geodesic one on the WGS84 ellipsoid.
    """
    k = float(np.cos(np.radians(lat)))
    scaled = shapely.transform(geom, lambda c: c * np.array([k, 1.0]))
    point = shapely.Point(lon * k, lat)
    if shapely.intersects(scaled, point):
        return 0.0
    near_x, near_y = shapely.get_coordinates(shapely.shortest_line(scaled, point))[0]
    return float(geod().inv(lon, lat, near_x / k, near_y)[2])


def local_metric_crs(lon: float, lat: float) -> CRS:
    """A metric CRS for a region around (lon, lat): the UTM zone that contains it."""
    from pyproj import CRS

    zone = int((lon + 180) // 6) + 1
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def point_to_storage(lon: float, lat: float, crs: str = "EPSG:4326") -> tuple[float, float]:
    """One point given in ``crs`` (GCJ-02/BD-09 included) as stored lon/lat (WGS84), or InputError
    naming what is wrong with it (off the globe, lon/lat swapped, ...)."""
    from ..errors import InputError
    from .lonlat import lonlat_problem

    x, y = xy_to_storage(np.array([lon], float), np.array([lat], float), parse_crs(crs))
    lon84, lat84 = float(x[0]), float(y[0])
    problem = lonlat_problem(lon84, lat84, given=(lon, lat))
    if problem:
        raise InputError(problem)
    return lon84, lat84
