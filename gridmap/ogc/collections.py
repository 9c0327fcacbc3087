"""OGC API – Features collections: one per unit level present, plus public incidents.

Everything is CRS84 (EPSG:4326 lon/lat, degrees). Unit features are the registry's GeoJSON
(`writers.feature`: id = the unit code); incident features carry only public fields.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import shapely

from ..errors import NotFound
from ..i18n import tr
from ..incidents.privacy import public_point
from ..io.writers import feature as unit_feature
from ..io.writers import unit_record  # the same properties as writers.feature(), without its geometry
from ..registry.model import Level, Unit
from ..store import features as fq
from .crs_param import lat_first, to_output
from .params import CRS84

INCIDENTS = "incidents"
# Unit coordinates are served to 7 decimals (about 1 cm): a transformed or imported vertex such as
# 116.39642190000001 is float noise, and writing it costs bytes and looks broken in a GIS.
COORD_DECIMALS = 7
TRS = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
LEVEL_TITLES = {Level.county: "Counties 区县", Level.town: "Towns and streets 镇街", Level.zone: "Zones 管区",
                Level.grid: "Grids 网格", Level.micro: "Micro-grids 微网格"}


@dataclass(frozen=True)
class Collection:
    """One collection: a unit level, or the incidents."""

    id: str
    title: str
    description: str
    queryables: dict[str, str]  # property name -> JSON type

    @property
    def level(self) -> Level | None:
        return None if self.id == INCIDENTS else Level(self.id)


UNIT_QUERYABLES = {"code": "string", "name": "string", "parent_code": "string"}
INCIDENT_QUERYABLES = {"category": "string", "status": "string", "grid_code": "string"}


def level_collection(level: Level) -> Collection:
    """The collection of one unit level."""
    return Collection(level.value, LEVEL_TITLES[level],
                      f"Every {level.value} ({level.label_zh}) of the grid plan in force; `datetime` selects "
                      "the plan in force on that date (for an interval, on its last day).", UNIT_QUERYABLES)


INCIDENTS_COLLECTION = Collection(
    INCIDENTS, "Incidents 事件", "Reported incidents, public fields only (no reporter, no description); "
    "`datetime` filters on the report time.", INCIDENT_QUERYABLES)


def all_ids() -> list[str]:
    """Every collection id this service can ever offer (for the API document)."""
    return [lv.value for lv in Level] + [INCIDENTS]


def collections(store) -> list[Collection]:
    """The collections on offer now: the unit levels present in the plan in force, then incidents."""
    return [level_collection(lv) for lv in fq.unit_levels_present(store)] + [INCIDENTS_COLLECTION]


def find(store, collection_id: str) -> Collection:
    """One collection by id; NotFound names the ones there are."""
    for c in collections(store):
        if c.id == collection_id:
            return c
    ids = ", ".join(c.id for c in collections(store))
    raise NotFound(tr("no collection %(collection_id)r; there are: %(ids)s", collection_id=collection_id, ids=ids))


def extent(store, c: Collection, tz: dt.tzinfo) -> dict[str, Any]:
    """Spatial (CRS84 bbox of the data) and temporal extent of a collection."""
    if c.level is None:
        box, (t0, t1) = fq.incidents_extent(store)
        interval = [_iso(t0, tz), _iso(t1, tz)]
    else:
        box = fq.units_extent(store, c.level)
        first, _ = fq.plan_dates(store)
        # Plans stay in force until replaced: the interval is open at its end.
        interval = [first.isoformat() + "T00:00:00" + _offset(tz, first) if first else None, None]
    out: dict[str, Any] = {"temporal": {"interval": [interval], "trs": TRS}}
    out["spatial"] = {"bbox": [list(box) if box else [-180.0, -90.0, 180.0, 90.0]], "crs": CRS84}
    return out


def incident_feature(inc: fq.PublicIncident, tz: dt.tzinfo, crs: str = CRS84) -> dict[str, Any]:
    """A public incident as a GeoJSON Point feature (rounded as privacy.public_point says; lat first for EPSG CRSs)."""
    xy = list(public_point(inc.lon, inc.lat))  # the public policy (incidents/privacy.py)
    return {"type": "Feature", "id": inc.id,
            "geometry": {"type": "Point", "coordinates": xy[::-1] if lat_first(crs) else xy},
            "properties": {"category": inc.category, "status": inc.status,
                           "reported_at": _iso(inc.reported_at, tz), "grid_code": inc.grid_code}}


def to_feature(item, tz: dt.tzinfo, crs: str = CRS84) -> dict[str, Any]:
    """A unit or a public incident as a GeoJSON feature, its coordinates in `crs` (a Part 2 URI)."""
    if isinstance(item, fq.PublicIncident):
        return incident_feature(item, tz, crs)
    out = unit_feature(item)
    out["geometry"] = shapely.geometry.mapping(to_output(shapely.orient_polygons(rounded(item.geometry)), crs))
    return out


def geojson_geometries(geoms) -> list[str]:
    """GeoJSON geometry texts, coordinates to COORD_DECIMALS in their shortest form.

    GEOS's GeoJSON writer prints 17 significant digits (116.3532674 comes out as
    116.35326739999999), so polygons go through its WKT writer, which rounds and trims, and
    the WKT brackets become JSON ones: as fast as to_geojson, the same numbers as json.dumps.
    """
    out = []
    for geom, wkt in zip(geoms, shapely.to_wkt(geoms, rounding_precision=COORD_DECIMALS, trim=True)):
        kind, _, body = wkt.partition(" ")
        if kind == "POLYGON" and body.startswith("(("):
            coords = (body.replace("), (", "]],[[").replace(", ", "],[").replace(" ", ",")
                      .replace("((", "[[[").replace("))", "]]]"))
            out.append('{"type":"Polygon","coordinates":' + coords + "}")
        elif kind == "MULTIPOLYGON" and body.startswith("((("):
            coords = (body.replace(")), ((", "]]],[[[").replace("), (", "]],[[").replace(", ", "],[")
                      .replace(" ", ",").replace("(((", "[[[[").replace(")))", "]]]]"))
            out.append('{"type":"MultiPolygon","coordinates":' + coords + "}")
        else:  # anything else (empty, 3D, other types): the slow, exact way
            out.append(json.dumps(shapely.geometry.mapping(geom), separators=(",", ":")))
    return out


def rounded(geoms):
    """Geometries (one, or an array) with coordinates rounded to COORD_DECIMALS (CRS84 degrees)."""
    return shapely.transform(geoms, lambda xy: np.round(xy, COORD_DECIMALS))


def features_json(items: Sequence[Unit | fq.PublicIncident], tz: dt.tzinfo, crs: str = CRS84) -> str:
    """A JSON array of the items as GeoJSON features, the same as `to_feature` gives, built faster.

    Unit geometry is written by GEOS (its WKT writer, see geojson_geometries; outer rings
    counter-clockwise as RFC 7946 asks): about 5x faster than json.dumps of nested
    coordinate lists for a page of 1,000 grids.
    """
    units = [i for i in items if isinstance(i, Unit)]
    if len(units) != len(items):
        return json.dumps([to_feature(i, tz, crs) for i in items], ensure_ascii=False, separators=(",", ":"))
    if not units:
        return "[]"
    # oriented before the axes are swapped: the swap mirrors the rings, as EPSG's lat/lon order does
    shapes = shapely.orient_polygons(rounded(np.array([u.geometry for u in units], dtype=object)))
    geoms = geojson_geometries(to_output(shapes, crs))
    parts = []
    for u, g in zip(units, geoms):
        head = json.dumps({"type": "Feature", "id": u.code, "properties": {**(u.properties or {}), **unit_record(u)}},
                          ensure_ascii=False, separators=(",", ":"))
        parts.append(f'{head[:-1]},"geometry":{g}}}')
    return "[" + ",".join(parts) + "]"


def _iso(t: dt.datetime | None, tz: dt.tzinfo) -> str | None:
    return t.astimezone(tz).isoformat() if t else None


def _offset(tz: dt.tzinfo, day: dt.date) -> str:
    off = dt.datetime.combine(day, dt.time(12), tz).strftime("%z")
    return "Z" if off in ("", "+0000") else f"{off[:3]}:{off[3:]}"
