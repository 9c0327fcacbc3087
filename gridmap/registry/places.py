"""Find the place: an offline gazetteer of the units' names and codes plus places a user imports.

`import_places` reads GeoJSON / GeoPackage / Shapefile / CSV (lon, lat columns) in any CRS the
project reads (GCJ-02 and BD-09 included, via `--crs`), keeps each feature's point (a polygon's
representative point, always inside it) in EPSG:4326, and writes them all in one transaction;
one bad row and nothing is written. `search` answers the report page's and the map's search
box: units of the plan in force whose name or code contains the text, then gazetteer places,
at most `limit` in all.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import shapely

from ..errors import InputError
from ..geo.crs import xy_to_storage
from ..i18n import tr
from ..store.places import Place

MAX_RESULTS = 20
MAX_QUERY = 64


@dataclass(frozen=True)
class Hit:
    """One search result: a unit or a gazetteer place, with a point to fly to (EPSG:4326)."""

    name: str
    kind: str  # county | town | zone | grid | micro (a unit), or the place's kind (town_seat, village, poi...)
    lon: float
    lat: float
    code: str | None
    source: str  # "units" or the gazetteer file it came from
    bounds: tuple[float, float, float, float] | None = None  # a unit's extent: the map fits it

    def to_json(self) -> dict:
        out = asdict(self)
        out["bounds"] = list(self.bounds) if self.bounds else None
        return out


def import_places(services, path: str | Path, crs: str | None = None, name_field: str = "name",
                  kind_field: str | None = "kind", code_field: str | None = "code", default_kind: str = "place",
                  replace: bool = False, dry_run: bool = False) -> list[Place]:
    """Read named points from a file and (unless dry_run) store them in one transaction."""
    from ..io.readers import read_table

    table = read_table(path, crs=crs)
    attrs = table.attrs
    if name_field not in attrs.columns:
        raise InputError(tr("%(path)s: no `%(name_field)s` column for the place names (--name-field); columns: %(v)s", path=path, name_field=name_field, v=", ".join(map(str, attrs.columns))))
    problems: list[str] = []
    xs, ys, keep = [], [], []
    for i, (label, geom) in enumerate(zip(table.row_labels, table.geoms)):
        name = _text(attrs[name_field].iloc[i])
        if not name:
            problems.append(tr("%(label)s: `%(name_field)s` is empty", label=label, name_field=name_field))
            continue
        if "\x00" in name:
            problems.append(tr("%(label)s: the name contains a NUL character", label=label))
            continue
        if len(name) > 128:
            problems.append(tr("%(label)s: name of %(name)s characters, over 128", label=label, name=len(name)))
            continue
        if geom is None or shapely.is_empty(geom):
            problems.append(tr("%(label)s (%(name)s): no geometry", label=label, name=name))
            continue
        pt = geom if geom.geom_type == "Point" else shapely.point_on_surface(geom)
        xs.append(pt.x)
        ys.append(pt.y)
        keep.append(i)
    lon, lat = xy_to_storage(np.array(xs, float), np.array(ys, float), table.crs) if keep else (np.array([]), np.array([]))
    places = []
    source = Path(path).name[:200]
    for j, i in enumerate(keep):
        label = table.row_labels[i]
        if not (np.isfinite(lon[j]) and abs(lon[j]) <= 180 and abs(lat[j]) <= 90):
            problems.append(tr("%(label)s: (%(x)s, %(y)s) is not a valid location in %(name)s", label=label, x=xs[j], y=ys[j], name=table.crs.name))
            continue
        kind = _text(attrs[kind_field].iloc[i]) if kind_field and kind_field in attrs.columns else ""
        code = _text(attrs[code_field].iloc[i]) if code_field and code_field in attrs.columns else ""
        places.append(Place(_text(attrs[name_field].iloc[i]), (kind or default_kind)[:32], round(float(lon[j]), 7),
                            round(float(lat[j]), 7), source, code[:32] or None))
    if problems:
        raise InputError(tr("%(path)s: %(problems)s place(s) cannot be read; nothing was stored", path=path, problems=len(problems)), problems)
    if not places:
        raise InputError(tr("%(path)s: no places in the file", path=path))
    if not dry_run:
        services.store.places.add_many(places, replace_source=replace)
    return places


def search(services, q: str, limit: int = 10) -> list[Hit]:
    """Units (name or code contains q) of the plan in force, then gazetteer places; at most `limit`."""
    q = (q or "").strip()
    if not q:
        raise InputError(tr("q: give some text to search for (a town, community, grid or place name, or a code)"))
    if "\x00" in q:
        raise InputError(tr("q: contains a NUL character"))
    if len(q) > MAX_QUERY:
        raise InputError(tr("q: %(q)s characters, over the limit of %(MAX_QUERY)s", q=len(q), MAX_QUERY=MAX_QUERY))
    if not 1 <= limit <= MAX_RESULTS:
        raise InputError(tr("limit: from 1 to %(MAX_RESULTS)s", MAX_RESULTS=MAX_RESULTS))
    needle = q.lower()
    names = services.store.unit_names()
    found = [(c, n, lv) for c, n, lv in names if needle in n.lower() or needle in c.lower()]
    # a name starting with the text first, then higher levels (a town before its grids), then shorter names
    found.sort(key=lambda r: (not r[1].lower().startswith(needle) and not r[0].startswith(needle),
                              r[2].rank, len(r[1]), r[0]))
    hits: list[Hit] = []
    wanted = [c for c, _, _ in found[:limit]]
    if wanted:
        units = {u.code: u for u in services.store.units(codes=wanted)}
        for code in wanted:
            u = units[code]
            pt = shapely.point_on_surface(u.geometry)
            hits.append(Hit(u.name, u.level.value, round(pt.x, 6), round(pt.y, 6), u.code, "units",
                            _bounds(u.geometry.bounds)))
    if len(hits) < limit:
        hits += [Hit(p.name, p.kind, p.lon, p.lat, p.code, p.source)
                 for p in services.store.places.search(q, limit - len(hits))]
    return hits


def _text(value) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return ""
    return str(value).strip()


def _bounds(b) -> tuple[float, float, float, float]:
    return (round(float(b[0]), 6), round(float(b[1]), 6), round(float(b[2]), 6), round(float(b[3]), 6))
