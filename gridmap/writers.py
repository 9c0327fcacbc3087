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

from .csvsafe import escape_row
from .errors import InputError
from .model import ROLE_LABELS, Person, Role, Unit

UNIT_COLUMNS = ["code", "name", "level", "parent_code", "households", "population", "area_m2", "perimeter_m",
                "valid_from", "valid_to"]


@contextmanager
def atomic_path(target: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path in the target's folder; move it onto `target` if the block succeeds."""
    target = Path(target)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.exists():
        raise InputError(f"cannot write {target}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise InputError(f"cannot write {target}: folder {folder} is not writable")
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


def _unit_record(u: Unit) -> dict:
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
    props = {**(u.properties or {}), **_unit_record(u)}
    return {"type": "Feature", "id": u.code, "properties": props, "geometry": shapely.geometry.mapping(geom)}


def write_geojson(units: Sequence[Unit], target: str | Path) -> int:
    """RFC 7946 FeatureCollection (EPSG:4326 lon/lat, no `crs` member), UTF-8."""
    doc = {"type": "FeatureCollection", "features": [feature(u) for u in units]}
    with atomic_path(target) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, ensure_ascii=False, separators=(",", ":"))
    return len(units)


def write_geopackage(layers: dict[str, Sequence[Unit]], target: str | Path) -> int:
    """One GeoPackage layer per level (EPSG:4326), readable by GDAL and QGIS."""
    import pyogrio

    total = 0
    with atomic_path(target) as tmp:
        for name, units in layers.items():
            if not units:
                continue
            fields = {c: np.array([_unit_record(u)[c] for u in units], dtype=object) for c in UNIT_COLUMNS}
            for c in ("households", "population"):
                vals = fields[c]
                if all(v is not None for v in vals):
                    fields[c] = vals.astype("int64")
            for c in ("area_m2", "perimeter_m"):
                fields[c] = np.array([np.nan if v is None else v for v in fields[c]], dtype="float64")
            for c in ("parent_code", "valid_from", "valid_to"):
                fields[c] = np.array(["" if v is None else v for v in fields[c]], dtype=object)
            fields["properties"] = np.array([json.dumps(u.properties or {}, ensure_ascii=False) for u in units], dtype=object)
            wkb = shapely.to_wkb(np.array([shapely.geometry.MultiPolygon([g]) if g.geom_type == "Polygon" else g
                                           for g in (u.geometry for u in units)], dtype=object))
            pyogrio.raw.write(
                str(tmp), wkb, layer=name, driver="GPKG", geometry_type="MultiPolygon", crs="EPSG:4326",
                field_data=list(fields.values()), fields=list(fields.keys()), encoding="UTF-8",
                append=total > 0,
            )
            total += len(units)
        if total == 0:
            raise InputError("nothing to export: the store has no units at the chosen level")
    return total


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
