"""OGC API – Features Part 2 (CRS by reference): the `crs` and `bbox-crs` parameters and `Content-Crs`.

Offered: CRS84 (lon/lat, the default and the storage CRS), EPSG:4326 and EPSG:4490 (CGCS2000,
China's national geodetic system), both latitude first as EPSG defines their axes. CGCS2000 and
WGS 84 agree to a few centimetres, below the precision a grid boundary has, so the numbers are
the stored ones in EPSG's axis order (as pyproj's EPSG:4326 -> EPSG:4490 transformation does too).
"""

from __future__ import annotations

import numpy as np
import shapely

from ..i18n import tr
from .params import CRS84, BadParameter

EPSG_4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"
EPSG_4490 = "http://www.opengis.net/def/crs/EPSG/0/4490"
SUPPORTED = [CRS84, EPSG_4326, EPSG_4490]
CONFORMANCE = "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs"
# Short names some clients send; each means the URI (and its axis order).
_ALIASES = {"CRS84": CRS84, "OGC:CRS84": CRS84, "EPSG:4326": EPSG_4326, "EPSG:4490": EPSG_4490,
            "[EPSG:4326]": EPSG_4326, "[EPSG:4490]": EPSG_4490}


def parse_crs(raw: str | None, name: str = "crs") -> str:
    """A `crs` or `bbox-crs` value -> one of SUPPORTED (default CRS84); 400 naming the parameter otherwise."""
    if raw is None:
        return CRS84
    text = raw.strip().strip("<>")
    uri = _ALIASES.get(text, text.replace("https://", "http://"))
    if uri not in SUPPORTED:
        raise BadParameter(name, tr("one of %(SUPPORTED)s; got %(raw)r", SUPPORTED=", ".join(SUPPORTED), raw=raw))
    return uri


def lat_first(uri: str) -> bool:
    """True for EPSG:4326 and EPSG:4490 (latitude, longitude); False for CRS84."""
    return uri != CRS84


def content_crs(uri: str) -> dict[str, str]:
    """The Content-Crs header of a response whose geometries are in `uri`."""
    return {"Content-Crs": f"<{uri}>"}


def to_output(geoms, uri: str):
    """Geometries (CRS84) in the output CRS's axis order: swapped for a latitude-first CRS."""
    if not lat_first(uri):
        return geoms
    return shapely.transform(geoms, lambda xy: np.ascontiguousarray(xy[:, ::-1]))
