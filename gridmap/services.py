"""Use cases: the single door from the CLI and the web app to the store and the index.

`Services` is the one container: the registry use cases live on it, and it owns the other
services, built once on first use: `.incidents` (the incident loop), `.plans` (versioned grid
plans: every plan write goes through it) and `.analysis` (coverage, balance, proposals, network
merging). The CLI and the web app both reach everything through one `Services`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from .clock import local_today
from .errors import InputError, NotFound
from .geo import crs as crs_mod
from .i18n import tr
from .registry.index import GridIndex
from .registry.model import Level, Location, Unit
from .settings import Settings
from .store import open_store
from .store.base import Store

if TYPE_CHECKING:  # the heavy readers (pandas, pyogrio) load only when an import runs
    from .analysis.service import PlanningService
    from .geo.jurisdiction import Jurisdiction
    from .incidents.service import IncidentService
    from .plans.service import PlanService
    from .registry.staff import TeamProblem
    from .registry.validate import ImportSpec

PLAN_INDEX_CACHE = 4  # indexes of plans other than the one in force kept in memory
PLAN_CHECK_S = 5.0  # how often a long-running process looks for a change of the plan in force


@dataclass
class ImportReport:
    """What an import did (or, with dry_run, would do)."""

    path: str
    level: str
    count: int
    written: bool
    codes: list[str]
    repairs: list[str] = field(default_factory=list)
    households: int = 0
    area_km2: float = 0.0


class Services:
    """Grid registry use cases over one store. The index is built once and rebuilt on change."""

    def __init__(self, store: Store, settings: Settings | None = None):
        self.store = store
        self.settings = settings or Settings()
        self._index: GridIndex | None = None
        self._plan: int | None = None
        self._signature: tuple | None = None
        self._check_at = 0.0
        # Indexes of other plans (past dates, drafts under review), least recently used first.
        self._plan_indexes: OrderedDict[int, GridIndex] = OrderedDict()
        self._plan_days: dict[dt.date, int | None] = {}
        self._jurisdiction: tuple[GridIndex, "Jurisdiction"] | None = None  # (index it was built with, outline)

    @classmethod
    def open(cls, settings: Settings, create: bool = False) -> "Services":
        """Open the store named by the settings (create=True makes or migrates it)."""
        return cls(open_store(settings.db, create=create, today=local_today(settings.timezone)), settings)

    # -- the services it owns -------------------------------------------------------------
    @cached_property
    def incidents(self) -> "IncidentService":
        """The incident loop over this store, with the configured taxonomy and working-hours calendar."""
        from .incidents.service import IncidentService
        from .incidents.taxonomy import Taxonomy
        from .incidents.workhours import calendar_from_settings

        s = self.settings
        return IncidentService(self, Taxonomy.load(s.categories or None), calendar_from_settings(s))

    @cached_property
    def plans(self) -> "PlanService":
        """Versioned grid plans: drafts, edits, teams, diff, impact, publish."""
        from .plans.service import PlanService

        return PlanService(self)

    @cached_property
    def analysis(self) -> "PlanningService":
        """The planner's analysis: coverage, balance, automatic proposals, network merging."""
        from .analysis.service import PlanningService

        return PlanningService(self)

    # -- import -----------------------------------------------------------------------------
    def import_units(self, path: str | Path, spec: "ImportSpec", crs: str | None = None, layer: str | None = None,
                     wkt_field: str | None = None, dry_run: bool = False,
                     progress: Callable[[int, int], None] | None = None) -> ImportReport:
        """Read, validate and (unless dry_run) write one level of units in one transaction."""
        from .io.readers import read_table
        from .registry.validate import build_units

        if spec.valid_from is None:  # the jurisdiction's today, as the plan's effective_from
            spec = dataclasses.replace(spec, valid_from=self.today())
        table = read_table(path, crs=crs, layer=layer, wkt_field=wkt_field)
        levels = self.store.unit_levels()
        parent_codes = set()
        if spec.parent_field and spec.parent_field in table.attrs.columns:
            parent_codes = {str(v).strip() for v in table.attrs[spec.parent_field].tolist()} & set(levels)
        parents = {u.code: u.geometry for u in self.store.units(codes=sorted(parent_codes))} if parent_codes else {}
        checked = build_units(table, spec, levels, parents, progress=progress)
        if not dry_run:
            self.store.add_units(checked.units, replace=spec.replace)
            self.refresh()
        return ImportReport(
            str(path), spec.level.value, len(checked.units), not dry_run, [u.code for u in checked.units],
            checked.repairs, sum(u.households or 0 for u in checked.units),
            sum(u.area_m2 or 0 for u in checked.units) / 1e6,
        )

    def import_staff(self, path: str | Path, replace: bool = False, dry_run: bool = False) -> tuple[int, int]:
        """Read a staff CSV (person_id,name,phone,unit_code,role) and write it in one transaction."""
        from .registry.staff import read_staff_csv

        people, roles = read_staff_csv(path, self.store.unit_levels())
        if not dry_run:
            self.store.add_staff(people, roles, replace=replace)
        return len(people), len(roles)

    # -- queries ----------------------------------------------------------------------------
    def team_problems(self) -> list["TeamProblem"]:
        """Every grid that breaks 1+1+N and every zone lacking its secretary or director."""
        from .registry.staff import team_problems

        checked: list[tuple[str, str, Level]] = [(c, n, lv) for c, n, lv in self.store.unit_names() if lv in (Level.grid, Level.micro, Level.zone)]
        return team_problems(checked, self.store.roles())

    @property
    def index(self) -> GridIndex:
        """The grid index of the plan in force (built on first use, rebuilt when the plans change).

        Every PLAN_CHECK_S seconds it looks whether another plan is in force (a new day, or a
        plan published by another process, e.g. another web worker): one small query.
        """
        if self._index is None or time.monotonic() >= self._check_at:
            signature = self.store.plans.signature(self.today())
            if self._index is None or signature != self._signature:
                self.refresh()
                self._plan = self.store.current_plan()
                self._index = self._build_index()
                self._signature = signature
            self._check_at = time.monotonic() + PLAN_CHECK_S
        return self._index

    @property
    def jurisdiction(self) -> "Jurisdiction":
        """The outline of the plan in force's top-level units (the county), built once per plan.

        Rebuilt only when the index is (a new plan in force, an import): the same check.
        """
        from .geo.jurisdiction import Jurisdiction

        index = self.index
        if self._jurisdiction is None or self._jurisdiction[0] is not index:
            self._jurisdiction = (index, Jurisdiction.build(self.store, self._plan, self.settings.jurisdiction_tolerance_m))
        return self._jurisdiction[1]

    def forget_plan(self, plan: int) -> None:
        """Drop the cached index of one plan (a draft that was just edited)."""
        self._plan_indexes.pop(plan, None)

    def today(self) -> dt.date:
        """Today's date for plans in force (the store's calendar: the jurisdiction's time zone)."""
        return self.store.today()

    def plan_at(self, day: dt.date) -> int | None:
        """The plan in force on `day` (newest published with effective_from <= day), or None."""
        if day not in self._plan_days:
            if len(self._plan_days) > 1000:
                self._plan_days.clear()
            self._plan_days[day] = self.store.plans.plan_at(day)
        return self._plan_days[day]

    def index_of(self, plan: int) -> GridIndex:
        """The grid index of any plan (a past one, a draft): cached, the 4 most recent kept."""
        if plan == self.plan:
            return self.index
        if plan in self._plan_indexes:
            self._plan_indexes.move_to_end(plan)
            return self._plan_indexes[plan]
        index = self._build_index(plan)
        self._plan_indexes[plan] = index
        while len(self._plan_indexes) > PLAN_INDEX_CACHE:
            self._plan_indexes.popitem(last=False)
        return index

    @property
    def plan(self) -> int | None:
        """The version of the plan the index was built from (the plan in force)."""
        self.index
        return self._plan

    def refresh(self) -> None:
        """Forget the index and plan (after an import or a plan change); rebuilt on next use."""
        self._index = None
        self._plan = None
        self._signature = None
        self._plan_indexes.clear()
        self._plan_days.clear()

    def _build_index(self, plan: int | None = None) -> GridIndex:
        if plan is None and self._plan is not None:
            # the plan in force: from the persisted index when its key matches (indexcache.py)
            from .registry import indexcache

            store_id, units_rev = self.store.plans.index_key(self._plan)
            key = indexcache.CacheKey(store_id, self._plan, units_rev)
            root = indexcache.cache_root(self.settings.index_cache, self.settings.db)
            return indexcache.get_or_build(root, key, lambda: self._build_index_rows(self._plan))
        return self._build_index_rows(plan)

    def _build_index_rows(self, plan: int | None = None) -> GridIndex:
        tree = self.store.unit_tree(plan=plan)
        if not tree:
            raise NotFound(tr("the store holds no units yet: import some with `gridmap import` or run `gridmap demo`")
                           if plan is None else tr("plan %(plan)s holds no units", plan=plan))
        present = {lv for _, _, lv in tree}
        level = Level.grid if Level.grid in present else max(present, key=lambda lv: lv.rank)
        parents = {code: (parent, lv) for code, parent, lv in tree}
        return GridIndex.build(self.store.unit_rows([level], plan=plan), parents, level)

    def locate(self, lon: float, lat: float, crs: str = "EPSG:4326", at: dt.date | None = None) -> Location:
        """The grid covering a point given in any CRS (GCJ-02/BD-09 included).

        `at`: answer under the plan in force on that date (default: today's plan).
        """
        lon84, lat84 = crs_mod.point_to_storage(lon, lat, crs)
        index = self.index
        if at is not None and at != self.today():
            plan = self.plan_at(at)
            if plan is None:
                raise NotFound(tr("no grid plan was in force on %(at)s", at=at.isoformat()))
            index = self.index_of(plan)
        return index.locate(lon84, lat84, nearest_max_m=self.settings.nearest_max_m)

    def unit(self, code: str) -> Unit:
        """One unit of the plan in force."""
        return self.store.unit(code)

    def units(self, level: Level | None = None) -> list[Unit]:
        """Units of the plan in force, by level."""
        return self.store.units(level=level)

    # -- bulk -------------------------------------------------------------------------------
    def assign_file(self, src: str | Path, dst: str | Path, crs: str = "EPSG:4326",
                    lon_field: str = "lon", lat_field: str = "lat",
                    progress: Callable[[int, int], None] | None = None) -> dict:
        """Add grid_code and zone_code to every row of a CSV or GeoJSON of points."""
        from .registry.assign import assign_file

        return assign_file(self.index, src, dst, crs_mod.parse_crs(crs), lon_field, lat_field,
                           threads=self.settings.threads or None, progress=progress)

    # -- export -----------------------------------------------------------------------------
    def export(self, dst: str | Path, level: Level | None = None, fmt: str | None = None,
               all_levels: bool = False) -> int:
        """Write units as GeoJSON (one level per file: grids unless told) or GeoPackage (a layer per level).

        A GeoJSON file holds one level, as GIS users expect of a layer: `level` (default grid), or
        every level mixed in one file with `all_levels`.
        """
        from .io import writers

        fmt = (fmt or Path(dst).suffix.lstrip(".")).lower()
        if fmt in ("geojson", "json"):
            level = None if all_levels else (level or Level.grid)
            units = self.store.units(level=level)
            if not units:
                raise NotFound(tr("nothing to export: no units") + (tr(" at level %(value)s (--level names another, --level all exports every level)", value=level.value) if level else ""))
            return writers.write_geojson(units, dst)
        if fmt == "gpkg":
            layers: dict[str, Sequence[Unit]] = {lv.value: self.store.units(level=lv) for lv in ([level] if level else list(Level))}
            return writers.write_geopackage(layers, dst)
        raise InputError(tr("cannot export to %(dst)s: use a .geojson or .gpkg file name (or --format)", dst=dst))

    def export_staff(self, dst: str | Path, bom: bool = False) -> int:
        """Write every role assignment with the person's name and phone as CSV."""
        from .io import writers

        units = {u.code: u for u in self.store.units()}
        return writers.write_staff_csv(self.store.people(), self.store.roles(), units, dst, bom=bom)

