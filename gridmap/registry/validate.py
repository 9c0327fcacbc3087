"""Validation at the edge: turn a raw table into units, or report every problem found.

Each problem names the feature (its number and code) and what is wrong with it. Nothing
is repaired silently: self-intersections are fixed only with repair=True, and each repair
is reported.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd
import shapely

from ..errors import InputError
from ..geo.crs import InputCRS, area_perimeter_m, geoms_to_storage
from ..geo.shapes import POLYGONAL, polygonal_part
from ..i18n import tr
from ..io.readers import RawTable
from .model import Level, Unit

_REASON_AT = re.compile(r"^(?P<what>[^\[]+)\[(?P<x>[-\d.eE+]+) (?P<y>[-\d.eE+]+)\]")


@dataclass
class ImportSpec:
    """What the user said about a file: which fields hold what, its level and CRS."""

    level: Level
    code_field: str | None = "code"
    name_field: str = "name"
    parent_field: str | None = None
    households_field: str | None = "households"
    population_field: str | None = "population"
    generate_codes: bool = False
    repair: bool = False
    replace: bool = False
    outside_tolerance_m2: float = 10.0
    # When the units take effect. None: the day of import in the jurisdiction's time zone (setting
    # `timezone`), which Services.import_units fills in; never the machine's date (a server on UTC
    # importing at 02:01 Beijing time would date the units a day before their plan).
    valid_from: dt.date | None = None


@dataclass
class Checked:
    """Units ready to write, plus notes on what was repaired."""

    units: list[Unit]
    repairs: list[str] = field(default_factory=list)


def check_coordinates(labels: list[str], geoms: np.ndarray, crs: InputCRS) -> list[str]:
    """NaN, out-of-range and swapped lat/lon coordinates, per feature (input CRS)."""
    problems = []
    for label, g in zip(labels, geoms):
        if g is None or shapely.is_empty(g):
            continue
        xy = shapely.get_coordinates(g)
        if not np.isfinite(xy).all():
            problems.append(tr("%(feature)s: coordinates contain NaN or infinity", feature=label))
            continue
        if not crs.is_geographic:
            continue
        x, y = xy[:, 0], xy[:, 1]
        china_swapped = (x.min() > 0.8 and x.max() < 55.9 and y.min() > 72.0 and y.max() < 137.9)
        if china_swapped:
            problems.append(tr("%(feature)s: latitude and longitude look swapped (x=%(x)s is a latitude and y=%(y)s a "
                               "longitude in China): put longitude first", feature=label, x=format(x[0], "g"), y=format(y[0], "g")))
        elif np.abs(y).max() > 90 or np.abs(x).max() > 180:
            swapped = np.abs(x).max() <= 90 and np.abs(y).max() <= 180
            bad = xy[(np.abs(y) > 90) | (np.abs(x) > 180)][0]
            at = dict(feature=label, x=format(bad[0], "g"), y=format(bad[1], "g"))
            problems.append(tr("%(feature)s: coordinate (%(x)s, %(y)s) is out of range for lon/lat (lat/lon swapped?)", **at)
                            if swapped else tr("%(feature)s: coordinate (%(x)s, %(y)s) is out of range for lon/lat", **at))
    return problems


def check_geometry(labels: list[str], geoms: np.ndarray, repair: bool) -> tuple[np.ndarray, list[str], list[str]]:
    """Empty, non-polygonal and invalid geometries (EPSG:4326). Returns (geoms, problems, repairs)."""
    problems, repairs = [], []
    out = geoms.copy()
    for i, (label, g) in enumerate(zip(labels, geoms)):
        if g is None or shapely.is_empty(g):
            problems.append(tr("%(feature)s: geometry is empty or missing", feature=label))
            continue
        if g.geom_type not in POLYGONAL:
            problems.append(tr("%(feature)s: geometry is a %(type)s, not a Polygon or MultiPolygon", feature=label, type=g.geom_type))
            continue
        if not shapely.is_valid(g):
            reason = shapely.is_valid_reason(g)
            where = describe_reason(reason)
            if not repair:
                problems.append(tr("%(feature)s: invalid geometry: %(where)s (pass --repair to fix it with make_valid)",
                                   feature=label, where=where))
                continue
            fixed = polygonal_part(shapely.make_valid(g))
            if fixed is None:
                problems.append(tr("%(feature)s: invalid geometry (%(where)s) and repair left no polygon", feature=label, where=where))
                continue
            out[i] = fixed
            repairs.append(f"{label}: repaired {where}")
    return out, problems, repairs


def describe_reason(reason: str) -> str:
    m = _REASON_AT.match(reason or "")
    if not m:
        return reason
    return f"{m['what'].strip().lower()} at lon {float(m['x']):.6f}, lat {float(m['y']):.6f}"




def build_units(table: RawTable, spec: ImportSpec, existing: dict[str, Level],
                parent_geoms: dict[str, object], progress: Callable[[int, int], None] | None = None) -> Checked:
    """Validate a raw table against the store and turn it into units (EPSG:4326).

    `existing` maps every code in the store to its level; `parent_geoms` gives the
    geometry of every possible parent in the store. Raises InputError listing every
    problem; returns only when the whole file is good.
    """
    attrs, labels = table.attrs, list(table.row_labels)
    if len(attrs) == 0 and len(table.geoms) == 0:
        raise InputError(tr("%(path)s holds no features", path=table.path))
    _require_fields(table, spec)
    codes = _column(attrs, spec.code_field) if spec.code_field else [None] * len(attrs)
    labels = [f"{lab} (code {c})" if c else lab for lab, c in zip(labels, codes)]
    problems = check_coordinates(labels, table.geoms, table.crs)
    if problems:
        raise InputError(tr("%(path)s: %(n)s features have bad coordinates; nothing was written", path=table.path,
                            n=len(problems)), problems)
    geoms = geoms_to_storage(table.geoms, table.crs)
    if not table.crs.is_storage:
        problems = check_coordinates(labels, geoms, InputCRS("EPSG:4326"))
        if problems:
            raise InputError(tr("%(path)s: coordinates fall outside lon/lat range after reprojection from %(crs)s; is "
                                "--crs right?", path=table.path, crs=table.crs.name), problems)
    geoms, problems, repairs = check_geometry(labels, geoms, spec.repair)

    names = _column(attrs, spec.name_field)
    parents = _column(attrs, spec.parent_field) if spec.parent_field else [None] * len(attrs)
    households = _integers(attrs, spec.households_field, labels, problems)
    population = _integers(attrs, spec.population_field, labels, problems)

    seen: dict[str, str] = {}
    for label, code, name, parent in zip(labels, codes, names, parents):
        if spec.code_field:
            if not code:
                problems.append(tr("%(feature)s: field %(field)r is empty", feature=label, field=spec.code_field))
            elif code in seen:
                problems.append(tr("%(feature)s: duplicate code %(code)s (also %(other)s)", feature=label, code=code, other=seen[code]))
            elif code in existing and not spec.replace:
                problems.append(tr("%(feature)s: code %(code)s is already in the store (a %(level)s); use --replace to overwrite",
                                   feature=label, code=code, level=existing[code].value))
            else:
                seen[code] = label
        if not name:
            problems.append(tr("%(feature)s: field %(field)r (name) is empty", feature=label, field=spec.name_field))
        if spec.parent_field:
            if not parent:
                problems.append(tr("%(feature)s: field %(field)r (parent code) is empty", feature=label, field=spec.parent_field))
            elif parent not in existing:
                problems.append(tr("%(feature)s: unknown parent %(parent)s: import the parent level first", feature=label,
                                   parent=parent))
            elif existing[parent].rank >= spec.level.rank:
                problems.append(tr("%(feature)s: parent %(parent)s is a %(level)s, which cannot contain a %(child)s",
                                   feature=label, parent=parent, level=existing[parent].value, child=spec.level.value))
        elif spec.generate_codes:
            problems.append(tr("%(feature)s: --generate-codes needs --parent-field (codes extend the parent's code)", feature=label))
    if not problems and spec.parent_field:
        problems += _outside_parent(labels, geoms, parents, parent_geoms, spec.outside_tolerance_m2)
    if problems:
        raise InputError(tr("%(path)s: %(n)s problems; nothing was written", path=table.path, n=len(problems)), problems)

    if spec.generate_codes or not spec.code_field:
        codes = _generated_codes(geoms, parents, existing)
    props = _free_properties(attrs, spec)
    units = []
    n = len(attrs)
    for i in range(n):
        area, perimeter = area_perimeter_m(geoms[i])
        units.append(Unit(
            code=str(codes[i]), name=str(names[i]), level=spec.level, geometry=geoms[i],
            parent_code=parents[i] or None, households=households[i], population=population[i],
            properties=props[i], area_m2=area, perimeter_m=perimeter, valid_from=spec.valid_from,
        ))
        if progress is not None and (i % 500 == 499 or i == n - 1):
            progress(i + 1, n)
    return Checked(units, repairs)


def _require_fields(table: RawTable, spec: ImportSpec) -> None:
    wanted = {"--code-field": spec.code_field, "--name-field": spec.name_field, "--parent-field": spec.parent_field}
    missing = [f"{opt} {name!r}" for opt, name in wanted.items() if name and name not in table.attrs.columns]
    if missing:
        cols = ", ".join(map(str, table.attrs.columns)) or "none"
        raise InputError(tr("%(path)s has no field %(missing)s (its fields: %(fields)s)", path=table.path,
                            missing=" or ".join(missing), fields=cols))


def _column(attrs: pd.DataFrame, name: str) -> list[str]:
    out = []
    for v in attrs[name].tolist():
        if v is None or (isinstance(v, float) and math.isnan(v)):
            out.append("")
        elif isinstance(v, float) and v.is_integer():
            out.append(str(int(v)))
        else:
            out.append(str(v).strip())
    return out


def _integers(attrs: pd.DataFrame, name: str | None, labels: list[str], problems: list[str]) -> list[int | None]:
    if not name or name not in attrs.columns:
        return [None] * len(attrs)
    out: list[int | None] = []
    for label, v in zip(labels, attrs[name].tolist()):
        if v is None or v == "" or (isinstance(v, float) and math.isnan(v)):
            out.append(None)
            continue
        try:
            f = float(v)
        except (TypeError, ValueError):
            f = float("nan")
        if not math.isfinite(f) or f < 0 or not f.is_integer():
            problems.append(tr("%(feature)s: %(field)s must be a whole number ≥ 0, got %(value)r", feature=label, field=name, value=v))
            out.append(None)
        else:
            out.append(int(f))
    return out


def _outside_parent(labels, geoms, parents, parent_geoms, tolerance_m2: float) -> list[str]:
    problems = []
    for label, g, parent in zip(labels, geoms, parents):
        pg = parent_geoms.get(parent)
        if pg is None or shapely.covers(pg, g):
            continue
        outside = shapely.difference(g, pg)
        area, _ = area_perimeter_m(outside)
        if area > tolerance_m2:
            p = shapely.point_on_surface(outside)
            problems.append(tr("%(feature)s: %(area)s m² lies outside its parent %(parent)s, around lon %(lon)s, lat %(lat)s",
                               feature=label, area=format(area, ",.0f"), parent=parent, lon=format(p.x, ".6f"), lat=format(p.y, ".6f")))
    return problems


def _generated_codes(geoms, parents, existing: dict[str, Level]) -> list[str]:
    from .codes import generate_codes

    codes = [""] * len(geoms)
    by_parent: dict[str, list[int]] = {}
    for i, p in enumerate(parents):
        by_parent.setdefault(p, []).append(i)
    for parent, idx in by_parent.items():
        taken = [int(c[len(parent):]) for c in existing if c.startswith(parent) and c[len(parent):].isdigit()
                 and len(c) == len(parent) + 3]
        new = generate_codes(parent, np.asarray([geoms[i] for i in idx], dtype=object), start=max(taken, default=0) + 1)
        for i, c in zip(idx, new):
            codes[i] = c
    return codes


def _free_properties(attrs: pd.DataFrame, spec: ImportSpec) -> list[dict]:
    used = {spec.code_field, spec.name_field, spec.parent_field, spec.households_field, spec.population_field}
    rest = [c for c in attrs.columns if c not in used]
    out = []
    for rec in attrs[rest].to_dict(orient="records") if rest else [{}] * len(attrs):
        clean = {}
        for k, v in rec.items():
            if isinstance(v, float) and not math.isfinite(v):
                v = None
            elif hasattr(v, "item"):
                v = v.item()
            elif not isinstance(v, (str, int, float, bool, type(None))):
                v = str(v)
            clean[str(k)] = v
        out.append(clean)
    return out
