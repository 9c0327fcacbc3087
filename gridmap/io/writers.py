"""Write files atomically: a temporary file beside the target, renamed into place on success.

A failed export leaves no half-written file and never clobbers the previous one.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np
import shapely

from ..errors import InputError
from ..i18n import tr
from ..registry.model import ROLE_LABELS, Person, Role, Unit
from .csvsafe import escape_row

UNIT_COLUMNS = ["code", "name", "level", "parent_code", "households", "population", "area_m2", "perimeter_m",
                "valid_from", "valid_to"]


@contextmanager
def atomic_path(target: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path in the target's folder; move it onto `target` if the block succeeds."""
    target = Path(target)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.exists():
        raise InputError(tr("cannot write %(target)s: folder %(folder)s does not exist", target=target, folder=folder))
    if not os.access(folder, os.W_OK):
        raise InputError(tr("cannot write %(target)s: folder %(folder)s is not writable", target=target, folder=folder))
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix or target.suffix, dir=folder)
    os.close(fd)
    os.unlink(tmp)  # GDAL drivers want to create the file themselves
    try:
        yield Path(tmp)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def unit_record(u: Unit) -> dict:
    rec = {
        "code": u.code, "name": u.name, "level": u.level.value, "parent_code": u.parent_code,
        "households": u.households, "population": u.population,
        "area_m2": round(u.area_m2, 1) if u.area_m2 is not None else None,
        "perimeter_m": round(u.perimeter_m, 1) if u.perimeter_m is not None else None,
        "valid_from": u.valid_from.isoformat() if u.valid_from else None,
        "valid_to": u.valid_to.isoformat() if u.valid_to else None,
    }
    return rec


def feature(u: Unit) -> dict:
    """A unit as an RFC 7946 GeoJSON Feature (lon/lat, counter-clockwise outer rings, full precision)."""
    geom = shapely.orient_polygons(u.geometry)
    props = {**(u.properties or {}), **unit_record(u)}
    return {"type": "Feature", "id": u.code, "properties": props, "geometry": shapely.geometry.mapping(geom)}


def write_geojson(units: Sequence[Unit], target: str | Path) -> int:
    """RFC 7946 FeatureCollection (EPSG:4326 lon/lat, no `crs` member), UTF-8."""
    doc = {"type": "FeatureCollection", "features": [feature(u) for u in units]}
    with atomic_path(target) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, ensure_ascii=False, separators=(",", ":"))
    return len(units)


GPKG_VERSION = "1.2"  # GDAL 3.6 (Debian 12) and older QGIS open 1.2 without warnings; 3.12 would write 1.4
_RESERVED = {"fid", "geom"}  # GeoPackage's own columns


def write_geopackage(layers: dict[str, Sequence[Unit]], target: str | Path, version: str = GPKG_VERSION) -> int:
    """One GeoPackage layer per level (EPSG:4326), readable by GDAL and QGIS.

    The columns and types are the GeoJSON export's: text, Integer64, Real, Date; a missing value
    is NULL (never ''); each unit's other properties are columns of their own (no JSON column).
    """
    import pyogrio

    total = 0
    with atomic_path(target) as tmp:
        for name, units in layers.items():
            if not units:
                continue
            columns = unit_columns(units)
            wkb = shapely.to_wkb(np.array([shapely.geometry.MultiPolygon([g]) if g.geom_type == "Polygon" else g
                                           for g in (u.geometry for u in units)], dtype=object))
            pyogrio.raw.write(
                str(tmp), wkb, layer=name, driver="GPKG", geometry_type="MultiPolygon", crs="EPSG:4326",
                field_data=[c[0] for c in columns.values()], fields=list(columns),
                field_mask=[c[1] for c in columns.values()], encoding="UTF-8", append=total > 0,
                dataset_options=None if total else {"VERSION": version},
            )
            total += len(units)
        if total == 0:
            raise InputError(tr("nothing to export: the store has no units at the chosen level"))
    return total


def unit_columns(units: Sequence[Unit]) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    """Typed columns (values, null mask) of the units' records, then of their other properties."""
    records = [{**(u.properties or {}), **unit_record(u)} for u in units]
    names = list(UNIT_COLUMNS)
    seen = {n.lower() for n in names}
    for rec in records:
        for key in rec:
            if key.lower() not in seen and key.lower() not in _RESERVED:  # SQLite names ignore case
                seen.add(key.lower())
                names.append(key)
    out = {}
    for key in names:
        out[key] = _column([rec.get(key) for rec in records], _KINDS.get(key))
    return out


# The core columns' types, even where every value of a layer is missing.
_KINDS = {"valid_from": "date", "valid_to": "date", "households": "int", "population": "int",
          "area_m2": "float", "perimeter_m": "float"}


def _column(values: list, kind: str | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    present = [v for v in values if v is not None]
    if kind == "date":
        return np.array([v if v is not None else "NaT" for v in values], dtype="datetime64[D]"), None
    if kind == "int" or (kind is None and present and all(isinstance(v, int) and not isinstance(v, bool)
                                                        for v in present)):
        # 32-bit where the values fit, as GDAL reads the same numbers from GeoJSON (Integer, not Integer64)
        small = all(-2**31 <= v < 2**31 for v in present)
        return (np.array([v or 0 for v in values], dtype="int32" if small else "int64"),
                np.array([v is None for v in values]))
    if kind == "float":
        return np.array([np.nan if v is None else float(v) for v in values], dtype="float64"), None
    if present and all(isinstance(v, bool) for v in present):
        return np.array([bool(v) for v in values]), np.array([v is None for v in values])
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return np.array([np.nan if v is None else float(v) for v in values], dtype="float64"), None
    text = [v if v is None or isinstance(v, str) else json.dumps(v, ensure_ascii=False) for v in values]
    return np.array(text, dtype=object), None


def write_staff_csv(people: Iterable[Person], roles: Iterable[Role], units: dict[str, Unit], target: str | Path,
                    bom: bool = False) -> int:
    """One row per role assignment: person, phone, unit code/name/level, role key and label."""
    by_id = {p.person_id: p for p in people}
    n = 0
    with atomic_path(target) as tmp:
        with open(tmp, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["person_id", "name", "phone", "unit_code", "unit_name", "unit_level", "role", "role_zh"])
            for r in roles:
                p = by_id.get(r.person_id)
                u = units.get(r.unit_code)
                w.writerow(escape_row([r.person_id, p.name if p else "", (p.phone or "") if p else "", r.unit_code,
                                       u.name if u else "", u.level.value if u else "", r.role,
                                       ROLE_LABELS.get(r.role, "")]))  # no formula injection (csvsafe)
                n += 1
    return n
