"""The jurisdiction's outline: which points this service takes reports for.

The outline is the union of the top-level units of a plan (the county, when the store holds
one; else whatever level is highest). It is built once per plan, like the grid index
(Services.jurisdiction), never per request. All coordinates are EPSG:4326 lon/lat; distances
are geodesic metres. Boundary rule: the outline covers its boundary, and a point up to
`tolerance_m` outside it still counts as inside (digitised county lines and a phone's GPS
both wander by tens of metres).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import shapely

from ..errors import InputError
from ..i18n import tr
from ..registry.model import Level
from ..store.base import Store
from .crs import distance_m, geod


@dataclass(frozen=True)
class Jurisdiction:
    """The outline of one plan's top-level units (prepared), their names and the tolerance."""

    outline: shapely.Geometry | None  # None: the plan holds no units (nothing to refuse against)
    name: str
    level: Level | None
    tolerance_m: float

    @classmethod
    def build(cls, store: Store, plan: int | None, tolerance_m: float) -> "Jurisdiction":
        """Union the plan's top-level units (one query, one union)."""
        tree = store.unit_tree(plan=plan)
        if not tree:
            return cls(None, "", None, tolerance_m)
        top = min({lv for _, _, lv in tree}, key=lambda lv: lv.rank)
        rows = store.unit_rows([top], plan=plan)
        geoms = shapely.from_wkb(rows.wkb)
        outline = shapely.union_all(geoms) if len(geoms) > 1 else geoms[0]
        shapely.prepare(outline)
        return cls(outline, "、".join(rows.name[:3]) + ("等" if len(rows.name) > 3 else ""), top, tolerance_m)

    def distance_outside_m(self, lon: float, lat: float) -> float:
        """0 for a point the outline covers, else the geodesic metres to its boundary."""
        if self.outline is None or shapely.intersects_xy(self.outline, lon, lat):
            return 0.0
        away = distance_m(lon, lat, self.outline) if abs(lat) < 89 else math.nan
        if not math.isfinite(away):  # at a pole the local frame degenerates: measure to the nearest vertex in degrees
            near_x, near_y = shapely.get_coordinates(shapely.shortest_line(self.outline, shapely.Point(lon, lat)))[0]
            away = float(geod().inv(lon, lat, near_x, near_y)[2])
        return away

    def contains(self, lon: float, lat: float) -> bool:
        """True if the point is inside the outline or within the tolerance of it."""
        return self.distance_outside_m(lon, lat) <= self.tolerance_m

    def check(self, lon: float, lat: float, field: str = "location") -> None:
        """Raise InputError (422) naming the problem for a point outside the jurisdiction."""
        away = self.distance_outside_m(lon, lat)
        if away <= self.tolerance_m:
            return
        far = f"{away / 1000:,.1f} km" if away >= 1000 else f"{away:,.0f} m"
        where = self.name or tr("the jurisdiction")
        raise InputError(
            tr("The location is outside the jurisdiction: nothing was stored"),
            [tr("%(field)s: (%(lon)s, %(lat)s) is outside %(where)s (%(far)s beyond its boundary): only reports inside the jurisdiction are taken here; for elsewhere contact the local government.", field=field, lon=format(lon, ".6f"), lat=format(lat, ".6f"), where=where, far=far)])
