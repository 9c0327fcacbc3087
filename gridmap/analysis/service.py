"""PlanningService: the planner tools over a store (any plan version), for the CLI and the web API.

It reads units, roles, incidents and files, and hands them to the pure functions of
coverage, balance, propose and networks. Nothing here writes, except `save_proposal`
into a draft plan (through the plans repository, as one undoable edit).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import shapely
import shapely.geometry

from ..budget import ComputeLimits, run_bounded
from ..errors import InputError, NotFound, TooLarge
from ..i18n import tr
from ..registry.model import Level, Unit
from .balance import GridBalance, Targets, grid_balance, summary
from .coverage import Problem, check_coverage
from .networks import Layer, Merged, merge_layers, overlap_report
from .propose import Proposal, propose


class PlanningService:
    """Coverage, balance, proposals and network merging over one `Services`."""

    def __init__(self, services):
        self.services = services
        self.store = services.store if services is not None else None  # None: files only (networks)
        self.settings = services.settings if services is not None else None

    # -- coverage -------------------------------------------------------------------------------
    def coverage(self, code: str | None = None, plan: int | None = None) -> list[Problem]:
        """Coverage problems of one parent (or, without a code, of every parent in the plan)."""
        tree = self._tree(plan)
        kids: dict[str, list[str]] = {}
        level = {c: lv for c, _, lv in tree}
        for c, parent, _ in tree:
            if parent is not None and parent in level:
                kids.setdefault(parent, []).append(c)
        if code is not None:
            if code not in level:
                raise NotFound(tr("no unit %(code)s in %(plan)s", code=code, plan=self._plan_name(plan)))
            if code not in kids:
                raise InputError(tr("%(code)s (%(code2)s) has no children to check in %(plan)s", code=code, code2=level[code].value, plan=self._plan_name(plan)))
            parents = [code]
        else:
            parents = sorted(kids, key=lambda c: (level[c].rank, c))
        units = {u.code: u for u in self.store.units(codes=sorted(set(parents) | {k for p in parents for k in kids[p]}),
                                                      plan=plan)}
        out: list[Problem] = []
        for p in parents:
            out += check_coverage(units[p], [units[k] for k in sorted(kids[p])],
                                  tolerance_m2=self.settings.coverage_tolerance_m2, sliver_m2=self.settings.sliver_m2)
        return out

    # -- balance --------------------------------------------------------------------------------
    def balance(self, parent: str | None = None, targets: Targets | None = None, level: Level | None = None,
                plan: int | None = None, start: dt.datetime | None = None,
                end: dt.datetime | None = None) -> tuple[list[Unit], list[GridBalance], dict]:
        """Balance figures of the grids under `parent` (default: every grid), incidents over [start, end)."""
        tree = self._tree(plan)
        present = {lv for _, _, lv in tree}
        level = level or (Level.grid if Level.grid in present else max(present, key=lambda lv: lv.rank))
        codes = [c for c, _, lv in tree if lv == level]
        if parent is not None:
            under = self._descendants(tree, parent, plan)
            codes = [c for c in codes if c in under]
            if not codes:
                raise InputError(tr("%(parent)s has no %(level)s units under it in %(plan)s", parent=parent, level=level.value, plan=self._plan_name(plan)))
        if not codes:
            raise NotFound(tr("no %(level)s units in %(plan)s", level=level.value, plan=self._plan_name(plan)))
        units = self.store.units(codes=codes, plan=plan)
        end = end or dt.datetime.now(dt.timezone.utc)
        start = start or end - dt.timedelta(days=365)
        if start >= end:
            raise InputError(tr("the period starts (%(start)s) after it ends (%(end)s)", start=format(start, "%Y-%m-%d"), end=format(end, "%Y-%m-%d")))
        only = codes if len(codes) <= 1000 else None  # a short IN list; the whole period otherwise
        counts = Counter(i.grid_code for i in self.store.incidents.query(grid_codes=only, start=start, end=end)
                         if i.grid_code)
        years = (end - start).total_seconds() / (365.25 * 86400)
        codes_set = set(codes)
        roles = [r for r in self.store.roles() if r.unit_code in codes_set]
        rows = grid_balance(units, roles, counts, years, targets)
        out = summary(rows, targets)
        out["period"] = {"from": start.isoformat(), "to": end.isoformat()}
        return units, rows, out

    # -- proposal -------------------------------------------------------------------------------
    def propose(self, zone_code: str, points_path: str | Path | None = None, *, crs: str | None = None,
                weight_field: str | None = None, barriers_path: str | Path | None = None,
                households: tuple[int, int] | None = None, grids: int | None = None, lock: Sequence[str] = (),
                method: str = "bisect", plan: int | None = None, fresh_codes: bool = False,
                points: tuple[np.ndarray, np.ndarray] | None = None, barriers: list | None = None,
                limits: ComputeLimits | None = None) -> Proposal:
        """Cut a zone into grids from household points (a file, or lon/lat + households arrays) and barriers.

        Grids locked in the plan (unit property "locked", plans/locks.py) are kept like those
        named in `lock`. With `limits` (the web app's), more points than the method's limit are refused
        (TooLarge) and the cutting runs in a child process with a time and memory budget.
        """
        zone = self._unit(zone_code, plan)
        children = [u for u in self.store.units(plan=plan) if u.parent_code == zone.code]
        by_code = {u.code: u for u in children}
        # grids locked in the plan (the planner page's lock) are kept as they are too
        lock = list(dict.fromkeys([*lock, *(u.code for u in children if (u.properties or {}).get("locked"))]))
        missing = [c for c in lock if c not in by_code]
        if missing:
            raise InputError(tr("cannot lock %(missing)s: not a grid of %(code)s in %(plan)s", missing=', '.join(missing), code=zone.code, plan=self._plan_name(plan)))
        if points is None and points_path is None:
            raise InputError(tr("household points are needed: a file (--points) or a list"))
        pts, weights = points if points is not None else read_points(points_path, crs, weight_field)
        if barriers_path:
            barriers = read_lines(barriers_path, crs)
        first = None
        if fresh_codes:  # a draft never reuses a code any plan has used
            used = self.store.plans.codes_ever(zone.code) | set(by_code)
            serials = [int(c[len(zone.code):]) for c in used if c[len(zone.code):].isdigit()]
            first = max(serials, default=0) + 1
        level = children[0].level if children else None
        args = (zone, pts, weights)
        opts: dict[str, Any] = dict(households=households, grids=grids, barriers=barriers or [],
                    locked=[by_code[c] for c in lock], method=method, level=level, first_serial=first)
        if limits is None:
            return propose(*args, **opts)
        limits.check_points(method, len(pts))
        return run_bounded(propose, *args, timeout_s=limits.compute_timeout_s, memory_mb=limits.compute_memory_mb,
                           what=f"propose ({method})", **opts)

    def save_proposal(self, proposal: Proposal, draft: int, author: str | None = None) -> dict:
        """Replace the zone's grids in draft plan `draft` by the proposal, as one undoable edit (the plan service writes it)."""
        return self.services.plans.replace_zone(draft, proposal.zone, proposal.units, proposal.locked,
                                                {"zone": proposal.zone, "method": proposal.method}, author=author)

    # -- networks -------------------------------------------------------------------------------
    def networks(self, paths: Sequence[str | Path], code_field: str = "code", crs: str | None = None,
                 names: Sequence[str] | None = None, merge: bool = True, min_layers: int = 2, snap_m: float = 5.0,
                 min_area_m2: float = 2000.0, parent: str | None = None, repair: bool = False,
                 limits: ComputeLimits | None = None) -> tuple[dict, Merged | None]:
        """Overlap report of grid layers read from files, and (merge=True) the merged layer.

        With `limits` (the web app's), layers over the feature/vertex limits are refused
        (TooLarge) and the overlay runs in a child process with a time and memory budget.
        """
        if len(paths) < 2:
            raise InputError(tr("give at least two layer files"))
        names = list(names) if names else [Path(p).stem for p in paths]
        seen = Counter(names)
        names = [f"{n}#{i + 1}" if seen[n] > 1 else n for i, n in enumerate(names)]
        max_f = limits.network_max_features if limits else None
        layers = [read_layer(p, n, code_field, crs, repair=repair, max_features=max_f) for p, n in zip(paths, names)]
        if limits is not None:
            check_vertices(layers, limits.network_max_vertices)
        level = Level.grid
        if merge and parent is not None:
            if self.store is None:
                raise InputError(tr("numbering under --parent needs a store"))
            pu = self._unit(parent, None)
            level = list(Level)[min(pu.level.rank + 1, len(Level) - 1)]
        args = (layers, merge, dict(min_layers=min_layers, snap_m=snap_m, min_area_m2=min_area_m2,
                                    level=level, parent_code=parent))
        if limits is None:
            return _networks_work(*args)
        return run_bounded(_networks_work, *args, timeout_s=limits.compute_timeout_s,
                           memory_mb=limits.compute_memory_mb, what="多网合一 networks")

    # -- helpers --------------------------------------------------------------------------------
    def _tree(self, plan: int | None):
        tree = self.store.unit_tree(plan=plan)
        if not tree:
            raise NotFound(tr("%(plan)s holds no units", plan=self._plan_name(plan)))
        return tree

    def _unit(self, code: str, plan: int | None) -> Unit:
        found = self.store.units(codes=[code], plan=plan)
        if not found:
            raise NotFound(tr("no unit %(code)s in %(plan)s", code=code, plan=self._plan_name(plan)))
        return found[0]

    def _descendants(self, tree, code: str, plan: int | None) -> set[str]:
        kids: dict[str, list[str]] = {}
        known = set()
        for c, p, _ in tree:
            known.add(c)
            if p is not None:
                kids.setdefault(p, []).append(c)
        if code not in known:
            raise NotFound(tr("no unit %(code)s in %(plan)s", code=code, plan=self._plan_name(plan)))
        out, stack = set(), [code]
        while stack:
            for k in kids.get(stack.pop(), []):
                if k not in out:
                    out.add(k)
                    stack.append(k)
        return out

    @staticmethod
    def _plan_name(plan: int | None) -> str:
        return "the plan in force" if plan is None else f"plan {plan}"


# -- files ------------------------------------------------------------------------------------------
def _table(path, crs, max_features: int | None = None):
    from ..geo.crs import geoms_to_storage
    from ..io.readers import read_table

    table = read_table(path, crs=crs, max_features=max_features)
    ok = np.array([g is not None and not shapely.is_empty(g) for g in table.geoms], dtype=bool)
    if not ok.any():
        raise InputError(tr("%(path)s holds no geometry", path=path))
    with np.errstate(invalid="ignore"):
        geoms = geoms_to_storage(np.asarray(table.geoms[ok], dtype=object), table.crs)
    return table.attrs[ok].reset_index(drop=True), geoms


def read_points(path, crs: str | None, weight_field: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Household points (lon/lat) and households per point from a CSV (lon,lat) or a vector file.

    Polygons (buildings) count at a point inside them. Households come from `weight_field`,
    else a `households` column if there is one, else 1 per point.
    """
    attrs, geoms = _table(path, crs)
    pts = shapely.get_coordinates(shapely.point_on_surface(geoms))
    field = weight_field or ("households" if "households" in attrs.columns else None)
    if weight_field and weight_field not in attrs.columns:
        raise InputError(tr("%(path)s has no column %(weight_field)r (columns: %(columns)s)", path=path, weight_field=weight_field, columns=', '.join(map(str, attrs.columns))))
    if field is None:
        return pts, np.ones(len(pts))
    import pandas as pd

    w = pd.to_numeric(attrs[field], errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isfinite(w) | (w < 0))
    if len(bad):
        raise InputError(tr("%(path)s: column %(field)r must hold household counts ≥ 0; %(n)s rows do not (first: row %(v)s)", path=path, field=field, n=len(bad), v=bad[0] + 1))
    return pts, w


def read_lines(path, crs: str | None) -> list:
    """Barrier lines (roads, rivers) in lon/lat; polygons count by their outline."""
    _, geoms = _table(path, crs)
    return [g.boundary if g.geom_type in ("Polygon", "MultiPolygon") else g for g in geoms]


def _networks_work(layers: list[Layer], merge: bool, opts: dict) -> tuple[dict, Merged | None]:
    """The overlap report and the merge (run in the budgeted child process on the web)."""
    return overlap_report(layers), (merge_layers(layers, **opts) if merge else None)


def check_vertices(layers: Sequence[Layer], limit: int) -> None:
    """TooLarge when the layers hold more than `limit` vertices in all (the overlay grows with them)."""
    total = int(sum(shapely.get_num_coordinates(lay.geoms).sum() for lay in layers))
    if total > limit:
        raise TooLarge(tr("the layers hold %(total)s vertices, more than the limit of %(limit)s (setting "
                          "network_max_vertices)", total=total, limit=limit))


def read_layer(path, name: str, code_field: str, crs: str | None, repair: bool = False,
               max_features: int | None = None) -> Layer:
    """One grid layer from a file: codes from `code_field`, lon/lat polygons (repaired only if asked)."""
    attrs, geoms = _table(path, crs, max_features)
    if code_field not in attrs.columns:
        raise InputError(tr("%(path)s has no column %(code_field)r for the grid codes (columns: %(v)s): use --code-field", path=path, code_field=code_field, v=", ".join(map(str, attrs.columns)) or "none"))
    codes = [str(c).strip() for c in attrs[code_field].tolist()]
    return Layer(name, codes, geoms, repair=repair)


def points_from_json(raw) -> tuple[np.ndarray, np.ndarray] | None:
    """[[lon, lat, households?], ...] from a JSON body as (lon/lat array, households array)."""
    if raw is None:
        return None
    if not isinstance(raw, list) or not raw or not all(isinstance(p, list) and len(p) in (2, 3) for p in raw):
        raise InputError(tr("'points' must be a non-empty list of [lon, lat] or [lon, lat, households]"))
    try:
        arr = np.array([[float(v) for v in (p if len(p) == 3 else [*p, 1])] for p in raw], dtype=float)
    except (TypeError, ValueError):
        raise InputError(tr("'points' must hold numbers only")) from None
    if not np.isfinite(arr).all():
        raise InputError(tr("'points' must hold finite numbers"))
    return arr[:, :2], arr[:, 2]


def lines_from_geojson(raw) -> list | None:
    """Barrier lines from a list of GeoJSON geometries (polygons count by their outline)."""
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise InputError(tr("'barriers' must be a list of GeoJSON geometries"))
    out = []
    for n, g in enumerate(raw):
        try:
            geom = shapely.geometry.shape(g)
        except Exception:
            raise InputError(tr("barriers[%(n)s] is not a GeoJSON geometry", n=n)) from None
        out.append(geom.boundary if geom.geom_type in ("Polygon", "MultiPolygon") else geom)
    return out
