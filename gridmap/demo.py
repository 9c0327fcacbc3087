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
from .i18n import tr
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
        raise InputError(tr("demo data folder %(path)s lacks %(missing)s", path=path, missing=", ".join(missing)))
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
    echo(tr("building the demo store from %(data)s", data=data))
    for level, fname, parent in LEVEL_FILES:
        spec = ImportSpec(Level(level), "code", "name", parent, outside_tolerance_m2=settings.outside_tolerance_m2)
        rep = services.import_units(data / fname, spec)
        echo(tr("  imported %(count)s %(level)s units from %(fname)s: %(area_km2)s km², %(households)s households", count=format(rep.count, ">4"), level=format(level, "6s"), fname=fname, area_km2=format(rep.area_km2, "9,.1f"), households=format(rep.households, ",")))
    n_people, n_roles = services.import_staff(data / "staff.csv")
    echo(tr("  imported %(n_people)s people in %(n_roles)s roles from staff.csv", n_people=n_people, n_roles=n_roles))
    if target:
        services.store.close()
        for suffix in ("-wal", "-shm"):
            Path(str(target) + suffix).unlink(missing_ok=True)
        os.replace(build_db, target)
        services = Services(open_store(target, create=True, today=local_today(settings.timezone)), settings)
    echo(tr("store ready: %(url)s", url=services.store.info().url))

    problems = services.team_problems()
    echo(tr("\n1+1+N check: %(n)s units break their team rule", n=len(problems)))
    for p in problems:
        echo(f"  {p.code} {p.name}: {p.problem}")

    loc = services.locate(*SAMPLE_POINT)
    if loc.grid:
        echo(tr("\nlocate %(v)s %(v2)s -> %(grid)s %(name)s", v=SAMPLE_POINT[0], v2=SAMPLE_POINT[1], grid=loc.grid, name=services.unit(loc.grid).name))

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    incidents = data / "incidents.csv"
    if incidents.exists():
        dst = out / "incidents_assigned.csv"
        stats = services.assign_file(incidents, dst, progress=progress(tr("assign")) if progress else None)
        echo(tr("\nassigned %(rows)s sample incidents -> %(dst)s: %(assigned)s in a grid, %(outside)s outside the district", rows=format(stats["rows"], ","), dst=dst, assigned=format(stats["assigned"], ","), outside=format(stats["outside"], ",")))
        import csv

        with open(dst, encoding="utf-8") as fh:
            busiest = Counter(r["grid_code"] for r in csv.DictReader(fh) if r["grid_code"]).most_common(3)
        for code, n in busiest:
            echo(tr("  busiest grid %(code)s %(name)s: %(n)s incidents", code=code, name=services.unit(code).name, n=n))
        today = today or services.today()
        shift = history_shift(today)
        n_inc, escalated = _load_incidents(services, incidents, shift, today)
        echo(tr("loaded %(n_inc)s sample incidents into the dispatch queue (`gridmap incidents list`), the year before %(v)s (history moved %(days)s days)", n_inc=format(n_inc, ","), v=today.isoformat(), days=shift.days))
        echo(tr("supervise (`gridmap incidents supervise`): %(escalated)s overdue incidents escalated", escalated=escalated))
    places = data / "places.csv"
    if places.exists():
        from .registry.places import import_places

        got = import_places(services, places, crs="EPSG:4326", replace=True)
        echo(tr("gazetteer: %(n)s places from %(name)s (town seats, service centres) for the search box", n=len(got), name=places.name))
    _planner_summary(services, echo)
    n = services.export(out / "lingcheng.gpkg")
    echo(tr("\nexported %(n)s units to %(v)s (open it in QGIS)", n=n, v=out / "lingcheng.gpkg"))
    services.export_staff(out / "staff.csv")
    echo(tr("\nnext: `gridmap locate 116.58 37.33`, `gridmap check`, `gridmap serve`"))
    return services


def _planner_summary(services: Services, echo) -> None:
    """What a planner sees first: does the plan cover the district exactly, and how even are the grids."""
    from .analysis.balance import Targets

    analysis = services.analysis
    problems = analysis.coverage()
    kinds = Counter(p.kind for p in problems)
    echo(tr("\ncoverage check (`gridmap check --coverage`): ") + (", ".join((f'{n} {k}' for k, n in sorted(kinds.items()))) if problems else tr("every unit covered exactly once")))
    _, rows, summary = analysis.balance(targets=Targets(households=(300, 600)))
    echo(tr("balance (`gridmap balance --households 300-600`): %(grids)s grids, %(households_min)s-%(households_max)s households (mean %(households_mean)s), %(v)s within 300-600; planner page: `gridmap serve`, /planner", grids=summary["grids"], households_min=summary["households_min"], households_max=summary["households_max"], households_mean=format(summary["households_mean"], ",.0f"), v=summary.get("within_households_target", 0)))


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
        raise Conflict(tr("%(db)s already holds other data; pass --db to build the demo elsewhere, or --force to replace it", db=settings.db))
    if target is None and levels:
        raise Conflict(tr("%(display_url)s is not empty: the demo builds only into an empty PostgreSQL database", display_url=store.display_url))


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
        raise InputError(tr("%(path)s: demo incidents do not load", path=path), problems)
    svc.repo.add_many([(i, Event("", i.reported_at, "demo", "import", None, i.status), None) for i in good])
    start = dt.datetime.combine(today, dt.time(), ZoneInfo(services.settings.timezone))
    clock = svc.clock()
    now = clock if clock.astimezone(start.tzinfo).date() == today else start  # an injected day: as of its start
    return len(good), len(svc.supervise(now))
