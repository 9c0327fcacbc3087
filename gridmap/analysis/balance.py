"""Balance: households, people, area, workload and shape of each grid, against the planner's targets.

Pure functions over `Unit`s of any plan. Area and perimeter are measured in metres in a local
equal-area frame (edges densified to ~50 m), so compactness (Polsby-Popper, 4πA/P²) is
unit-free and comparable between grids; contiguity is the number of separate parts.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Iterable, Mapping, Sequence

import numpy as np
import shapely

from ..errors import InputError
from ..geo.frame import MetricFrame
from ..geo.shapes import DENSIFY_DEG
from ..i18n import tr
from ..registry.model import Role, Unit
from . import polsby_popper

Range = tuple[float, float]


@dataclass(frozen=True)
class Targets:
    """What the planner wants of every grid; None means no target."""

    households: Range | None = None
    population: Range | None = None
    area_km2: Range | None = None
    min_compactness: float | None = None

    def __post_init__(self) -> None:
        for name in ("households", "population", "area_km2"):
            rng = getattr(self, name)
            if rng is not None and rng[0] > rng[1]:
                raise InputError(tr("%(name)s target %(v)s-%(v2)s: the minimum is above the maximum", name=name, v=format(rng[0], "g"), v2=format(rng[1], "g")))
        if self.min_compactness is not None and not 0 <= self.min_compactness <= 1:
            raise InputError(tr("min_compactness must be between 0 and 1, got %(min_compactness)s", min_compactness=self.min_compactness))


@dataclass
class GridBalance:
    """One grid's figures and the targets it misses (`flags`)."""

    code: str
    name: str
    parent_code: str | None
    households: int | None
    population: int | None
    area_km2: float
    incidents: int
    incidents_per_year: float
    staff: int
    staff_per_100_households: float | None
    compactness: float
    parts: int
    flags: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.flags

    def to_dict(self) -> dict:
        d = asdict(self)
        d["area_km2"] = round(self.area_km2, 4)
        d["incidents_per_year"] = round(self.incidents_per_year, 2)
        d["compactness"] = round(self.compactness, 3)
        if self.staff_per_100_households is not None:
            d["staff_per_100_households"] = round(self.staff_per_100_households, 2)
        d["contiguous"] = self.parts == 1
        d["ok"] = self.ok
        return d


def measure(units: Sequence[Unit]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Area (m²), perimeter (m) and part count of each unit, in one local equal-area frame."""
    geoms = np.array([u.geometry for u in units], dtype=object)
    if len(geoms) == 0:
        return np.zeros(0), np.zeros(0), np.zeros(0, dtype=int)
    frame = MetricFrame.around(geoms)
    gm = frame.to_m(shapely.segmentize(geoms, DENSIFY_DEG))
    return shapely.area(gm), shapely.length(gm), shapely.get_num_geometries(gm)


def grid_balance(units: Sequence[Unit], roles: Iterable[Role] = (), incident_counts: Mapping[str, int] | None = None,
                 years: float = 1.0, targets: Targets | None = None) -> list[GridBalance]:
    """The balance figures of each unit and the targets it misses, in the units' order."""
    targets = targets or Targets()
    incident_counts = incident_counts or {}
    staff: dict[str, set[str]] = defaultdict(set)
    for r in roles:
        staff[r.unit_code].add(r.person_id)
    area, perimeter, parts = measure(units)
    pp = polsby_popper(area, perimeter)
    rows = []
    for u, a, c, n in zip(units, area, pp, parts):
        hh = u.households
        n_staff = len(staff.get(u.code, ()))
        inc = int(incident_counts.get(u.code, 0))
        row = GridBalance(u.code, u.name, u.parent_code, hh, u.population, float(a) / 1e6, inc,
                          inc / years if years > 0 else 0.0, n_staff,
                          100.0 * n_staff / hh if hh else None, float(c), int(n))
        row.flags = _flags(row, targets)
        rows.append(row)
    return rows


def _flags(row: GridBalance, t: Targets) -> list[str]:
    out = []
    for name, value, unit in (("households", row.households, ""), ("population", row.population, ""),
                              ("area_km2", row.area_km2, " km²")):
        rng = getattr(t, name)
        if rng is None:
            continue
        label = name.replace("_km2", "")
        if value is None:
            out.append(f"{label} unknown (target {rng[0]:g}-{rng[1]:g}{unit})")
        elif value < rng[0]:
            out.append(f"{label} {value:g}{unit} below {rng[0]:g}")
        elif value > rng[1]:
            out.append(f"{label} {value:g}{unit} above {rng[1]:g}")
    if t.min_compactness is not None and row.compactness < t.min_compactness:
        out.append(f"compactness {row.compactness:.2f} below {t.min_compactness:g}")
    if row.parts > 1:
        out.append(f"not contiguous: {row.parts} separate parts")
    return out


def summary(rows: Sequence[GridBalance], targets: Targets | None = None) -> dict:
    """Totals and spread: mean, min, max and coefficient of variation of households; counts flagged."""
    hh = np.array([r.households for r in rows if r.households is not None], dtype=float)
    cmp_ = np.array([r.compactness for r in rows], dtype=float)
    out = {"grids": len(rows), "flagged": sum(1 for r in rows if r.flags),
           "households_total": int(hh.sum()) if len(hh) else 0,
           "households_mean": round(float(hh.mean()), 1) if len(hh) else None,
           "households_min": int(hh.min()) if len(hh) else None,
           "households_max": int(hh.max()) if len(hh) else None,
           "households_cv": round(float(hh.std() / hh.mean()), 3) if len(hh) and hh.mean() > 0 else None,
           "compactness_mean": round(float(cmp_.mean()), 3) if len(cmp_) else None,
           "compactness_min": round(float(cmp_.min()), 3) if len(cmp_) else None,
           "non_contiguous": sum(1 for r in rows if r.parts > 1)}
    if targets and targets.households and len(hh):
        lo, hi = targets.households
        out["households_target"] = [lo, hi]
        out["within_households_target"] = int(((hh >= lo) & (hh <= hi)).sum())
    return out


def balance_geojson(units: Sequence[Unit], rows: Sequence[GridBalance]) -> dict:
    """GeoJSON of the grids with their figures and a map `style`: red above target, blue below, grey ok."""
    feats = []
    for u, r in zip(units, rows):
        high = any(" above " in f for f in r.flags)
        low = any(" below " in f for f in r.flags)
        colour = "#d62728" if high else "#1f77b4" if low else "#ff7f0e" if r.flags else "#7f7f7f"
        props = r.to_dict() | {"style": {"color": colour, "fillColor": colour, "weight": 1,
                                         "fillOpacity": 0.5 if r.flags else 0.15},
                               "tooltip": f"{r.code} {r.name}: {r.households if r.households is not None else '?'} households"
                                          + (f" ({'; '.join(r.flags)})" if r.flags else "")}
        feats.append({"type": "Feature", "id": u.code, "properties": props,
                      "geometry": shapely.geometry.mapping(shapely.orient_polygons(u.geometry))})
    return {"type": "FeatureCollection", "features": feats}
