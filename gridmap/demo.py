"""`gridmap demo`: build the Lingcheng District store from the shipped files and run the main jobs.

It goes through the same service calls as the CLI commands a user would type, so it is
both the quick start and an end-to-end check of the registry.
"""

from __future__ import annotations

import datetime as dt
import os
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Callable

from .clock import local_today
from .errors import Conflict, InputError
from .registry.model import Level
from .services import Services
from .settings import Settings
from .store import normalise_url, open_store

DEMO_COUNTY = "371403"
LEVEL_FILES = [("county", "county.geojson", None), ("town", "towns.geojson", "parent_code"),
               ("zone", "zones.geojson", "parent_code"), ("grid", "grids.geojson", "parent_code")]
SAMPLE_POINT = (116.5767, 37.3337)  # Lingcheng district seat area (WGS84)
# geodata/incidents.csv describes the year before this day (local time): every time in it is earlier.
HISTORY_AS_OF = dt.date(2026, 11, 1)
HISTORY_TIMES = ("reported_at", "dispatched_at", "due_at", "handled_at", "closed_at")


def demo_data_dir(data_dir: str | Path | None = None) -> Path:
    """The folder of demo files: the one given, else the copy installed with the package."""
    if data_dir is not None:
        path = Path(data_dir)
    else:
        try:
            path = Path(str(resources.files("gridmap.geodata")))
        except ModuleNotFoundError:
            path = Path(__file__).resolve().parent.parent / "geodata"
    missing = [f for _, f, _ in LEVEL_FILES if not (path / f).exists()]
    if missing:
        raise InputError(f"demo data folder {path} lacks {', '.join(missing)}")
    return path


def run_demo(settings: Settings, data_dir=None, out_dir="demo-output", force: bool = False,
             echo: Callable[[str], None] = print, progress=None, today: dt.date | None = None) -> Services:
    """Import the demo, check teams, locate and assign sample incidents, export; return the services.

    The sample incidents are the year before `today` (default: today in the jurisdiction's time
    zone): the shipped history is moved by whole weeks, so weekdays and working-hour time limits
    keep their shape, and `supervise` then escalates what is overdue as of `today`.
    """
    from .registry.validate import ImportSpec

    data = demo_data_dir(data_dir)
    url = normalise_url(settings.db)
    target = Path(url[len("sqlite:///"):]) if url.startswith("sqlite:///") else None
    _refuse_foreign_store(settings, target, force)
    # SQLite: build into a temporary file and move it into place, so a failed demo leaves no
    # half-built store behind; PostgreSQL: each import is its own transaction.
    build_db = str(target.with_name(f".{target.name}.demo-build")) if target else settings.db
    if target:
        for suffix in ("", "-wal", "-shm"):
            Path(build_db + suffix).unlink(missing_ok=True)
    from dataclasses import replace

    services = Services(open_store(build_db, create=True, today=local_today(settings.timezone)), replace(settings, db=build_db))
    echo(f"building the demo store from {data}")
    for level, fname, parent in LEVEL_FILES:
        spec = ImportSpec(Level(level), "code", "name", parent, outside_tolerance_m2=settings.outside_tolerance_m2)
        rep = services.import_units(data / fname, spec)
        echo(f"  imported {rep.count:>4} {level:6s} units from {fname}: {rep.area_km2:9,.1f} km², "
             f"{rep.households:,} households")
    n_people, n_roles = services.import_staff(data / "staff.csv")
    echo(f"  imported {n_people} people in {n_roles} roles from staff.csv")
    if target:
        services.store.close()
        for suffix in ("-wal", "-shm"):
            Path(str(target) + suffix).unlink(missing_ok=True)
        os.replace(build_db, target)
        services = Services(open_store(target, create=True, today=local_today(settings.timezone)), settings)
    echo(f"store ready: {services.store.info().url}")

    problems = services.team_problems()
    echo(f"\n1+1+N check: {len(problems)} units break their team rule")
    for p in problems:
        echo(f"  {p.code} {p.name}: {p.problem}")

    loc = services.locate(*SAMPLE_POINT)
    if loc.grid:
        echo(f"\nlocate {SAMPLE_POINT[0]} {SAMPLE_POINT[1]} -> {loc.grid} {services.unit(loc.grid).name}")

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    incidents = data / "incidents.csv"
    if incidents.exists():
        dst = out / "incidents_assigned.csv"
        stats = services.assign_file(incidents, dst, progress=progress("assign") if progress else None)
        echo(f"\nassigned {stats['rows']:,} sample incidents -> {dst}: {stats['assigned']:,} in a grid, "
             f"{stats['outside']:,} outside the district")
        import csv

        with open(dst, encoding="utf-8") as fh:
            busiest = Counter(r["grid_code"] for r in csv.DictReader(fh) if r["grid_code"]).most_common(3)
        for code, n in busiest:
            echo(f"  busiest grid {code} {services.unit(code).name}: {n} incidents")
        today = today or services.today()
        shift = history_shift(today)
        n_inc, escalated = _load_incidents(services, incidents, shift, today)
        echo(f"loaded {n_inc:,} sample incidents into the dispatch queue (`gridmap incidents list`), "
             f"the year before {today.isoformat()} (history moved {shift.days} days)")
        echo(f"supervise (`gridmap incidents supervise`): {escalated} overdue incidents escalated")
    places = data / "places.csv"
    if places.exists():
        from .registry.places import import_places

        got = import_places(services, places, crs="EPSG:4326", replace=True)
        echo(f"gazetteer: {len(got)} places from {places.name} (town seats, service centres) for the search box")
    _planner_summary(services, echo)
    n = services.export(out / "lingcheng.gpkg")
    echo(f"\nexported {n} units to {out / 'lingcheng.gpkg'} (open it in QGIS)")
    services.export_staff(out / "staff.csv")
    echo("\nnext: `gridmap locate 116.58 37.33`, `gridmap check`, `gridmap serve`")
    return services


def _planner_summary(services: Services, echo) -> None:
    """What a planner sees first: does the plan cover the district exactly, and how even are the grids."""
    from .analysis.balance import Targets

    analysis = services.analysis
    problems = analysis.coverage()
    kinds = Counter(p.kind for p in problems)
    echo("\ncoverage check (`gridmap check --coverage`): " + (
        ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) if problems else "every unit covered exactly once"))
    _, rows, summary = analysis.balance(targets=Targets(households=(300, 600)))
    echo(f"balance (`gridmap balance --households 300-600`): {summary['grids']} grids, "
         f"{summary['households_min']}-{summary['households_max']} households (mean {summary['households_mean']:,.0f}), "
         f"{summary.get('within_households_target', 0)} within 300-600; planner page: `gridmap serve`, /planner")


def _refuse_foreign_store(settings: Settings, target: Path | None, force: bool) -> None:
    if target is not None and not target.exists():
        return
    store = open_store(settings.db, create=True)
    try:
        levels = store.unit_levels()
    finally:
        store.close()
    if not levels:
        if target is None:
            return
    elif not force and DEMO_COUNTY not in levels:
        raise Conflict(f"{settings.db} already holds other data; pass --db to build the demo elsewhere, "
                       "or --force to replace it")
    if target is None and levels:
        raise Conflict(f"{store.display_url} is not empty: the demo builds only into an empty PostgreSQL database")


def history_shift(today: dt.date) -> dt.timedelta:
    """How far to move the shipped history so it ends in the week before `today`: whole weeks
    (same weekdays, so working-hour limits stay right), never into the future."""
    return dt.timedelta(days=(today - HISTORY_AS_OF).days // 7 * 7)


def shifted(row: dict[str, str], shift: dt.timedelta) -> dict[str, str]:
    """A CSV row of the history with every time moved by `shift` (empty times stay empty)."""
    out = dict(row)
    for name in HISTORY_TIMES:
        if out.get(name):
            out[name] = (dt.datetime.fromisoformat(out[name]) + shift).isoformat()
    return out


def _load_incidents(services: Services, path: Path, shift: dt.timedelta, today: dt.date) -> tuple[int, int]:
    """Put the sample incidents (moved by `shift`) into the store through the bulk import, then
    supervise as of `today` (its start, local time); return (incidents, escalated)."""
    import csv
    from zoneinfo import ZoneInfo

    from .incidents.model import Event
    from .incidents.service import import_rows

    svc = services.incidents
    with open(path, encoding="utf-8", newline="") as fh:
        good, problems = import_rows(svc, [shifted(r, shift) for r in csv.DictReader(fh)])
    if problems:
        raise InputError(f"{path}: demo incidents do not load", problems)
    svc.repo.add_many([(i, Event("", i.reported_at, "demo", "import", None, i.status), None) for i in good])
    start = dt.datetime.combine(today, dt.time(), ZoneInfo(services.settings.timezone))
    clock = svc.clock()
    now = clock if clock.astimezone(start.tzinfo).date() == today else start  # an injected day: as of its start
    return len(good), len(svc.supervise(now))
