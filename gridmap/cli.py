"""The `gridmap` command line. Commands parse options, call services and print; no logic here."""

from __future__ import annotations

import json
import sys
from functools import wraps

import click

from .errors import GridmapError, InputError
from .i18n import tr

LEVELS = ["county", "town", "zone", "grid", "micro"]


def _fail_cleanly(fn):
    """Print a GridmapError as a one-paragraph message (no traceback) and exit with its code."""

    @wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except GridmapError as exc:
            click.echo(tr("error: %(message)s", message=exc), err=True)
            sys.exit(exc.exit_code)

    return wrapper


class _Ctx:
    def __init__(self, db: str | None, config: str | None):
        self.db, self.config = db, config

    def settings(self, **overrides):
        from .settings import Settings

        return Settings.load({"db": self.db, **overrides}, config=self.config)

    def services(self, create: bool = False):
        from .services import Services

        return Services.open(self.settings(), create=create)


pass_ctx = click.make_pass_decorator(_Ctx)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", envvar="GRIDMAP_DB", help="Store: SQLite file path or postgresql:// URL [default: gridmap.db].")
@click.option("--config", type=click.Path(dir_okay=False), help="Settings file [default: gridmap.toml if present].")
@click.version_option(package_name="gridmap")
@click.pass_context
def main(ctx: click.Context, db: str | None, config: str | None) -> None:
    """gridmap: grids, staff and incidents for grid governance (网格化管理)."""
    ctx.obj = _Ctx(db, config)
    _choose_locale(config)


def _choose_locale(config: str | None) -> None:
    """Messages in the language of LC_ALL / LC_MESSAGES / LANG when they name zh or en, else the `locale` setting."""
    import os

    from .i18n import environ_locale, set_process_locale

    chosen = environ_locale(os.environ)
    if chosen is None:
        from .settings import Settings

        try:
            chosen = Settings.load(config=config).locale
        except GridmapError:
            chosen = None  # the command itself reports a broken settings file, in the default language
    set_process_locale(chosen or "zh_CN")


def _progress(label: str, unit: str = "pt"):
    """A tqdm bar on a terminal (nothing when output is piped), as a (done, total) callback."""
    from tqdm import tqdm

    bar = {}

    def update(done: int, total: int) -> None:
        if "bar" not in bar:
            bar["bar"] = tqdm(total=total, desc=label, unit=unit, unit_scale=True, disable=None, leave=False)
        bar["bar"].update(done - bar["bar"].n)
        if done >= total:
            bar["bar"].close()

    return update


@main.command()
@pass_ctx
@_fail_cleanly
def init(obj: _Ctx) -> None:
    """Create the store (or migrate it to the newest schema)."""
    info = obj.services(create=True).store.info()
    click.echo(f"store ready: {info.url} ({info.backend}, schema {info.schema_revision})")


@main.command()
@pass_ctx
@_fail_cleanly
def info(obj: _Ctx) -> None:
    """Show what the store holds."""
    i = obj.services().store.info()
    click.echo(f"store: {i.url} ({i.backend}, schema {i.schema_revision}, plan {i.plan})")
    for key in LEVELS + ["people", "roles"]:
        if key in i.counts:
            click.echo(f"  {key:8s} {i.counts[key]:>8,}")


@main.command(name="import")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--level", type=click.Choice(LEVELS), required=True, help="Level of every feature in the file.")
@click.option("--code-field", default="code", show_default=True, help="Field with the unit code.")
@click.option("--name-field", default="name", show_default=True, help="Field with the unit name.")
@click.option("--parent-field", help="Field with the parent unit's code (omit for top-level units).")
@click.option("--households-field", default="households", show_default=True)
@click.option("--population-field", default="population", show_default=True)
@click.option("--crs", help="Input CRS: EPSG:4326, EPSG:4490, a projected EPSG code, GCJ-02 or BD-09. "
              "Needed when the file declares none (CSV).")
@click.option("--layer", help="GeoPackage layer to read.")
@click.option("--wkt-field", help="CSV: column holding WKT polygons [default: wkt/geometry].")
@click.option("--generate-codes", is_flag=True, help="Make national-style codes: parent code + 3-digit serial "
              "in reading order (north→south rows, west→east).")
@click.option("--repair", is_flag=True, help="Fix invalid (self-intersecting) polygons with make_valid; each fix is reported.")
@click.option("--replace", is_flag=True, help="Overwrite units whose code is already in the store.")
@click.option("--valid-from", type=click.DateTime(["%Y-%m-%d"]), help="Date the units take effect [default: today].")
@click.option("--dry-run", is_flag=True, help="Check and report; write nothing.")
@pass_ctx
@_fail_cleanly
def import_(obj: _Ctx, path, level, code_field, name_field, parent_field, households_field, population_field,
            crs, layer, wkt_field, generate_codes, repair, replace, valid_from, dry_run) -> None:
    """Import one level of units from GeoJSON, GeoPackage, zipped Shapefile or CSV (WKT)."""
    from .model import Level
    from .validate import ImportSpec

    settings = obj.settings()
    spec = ImportSpec(Level(level), None if generate_codes else code_field, name_field, parent_field,
                      households_field, population_field, generate_codes, repair, replace,
                      settings.outside_tolerance_m2, valid_from.date() if valid_from else None)
    services = obj.services(create=not dry_run)
    rep = services.import_units(path, spec, crs=crs, layer=layer, wkt_field=wkt_field, dry_run=dry_run,
                                progress=_progress("import", unit="unit"))
    for line in rep.repairs:
        click.echo(f"repaired: {line}")
    verb = "imported" if rep.written else "dry run: would import"
    click.echo(f"{verb} {rep.count} {rep.level} units from {path}: {rep.area_km2:,.2f} km², "
               f"{rep.households:,} households" + ("" if rep.written else " (nothing written)"))


@main.command(name="import-staff")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--replace", is_flag=True, help="Replace every role of the units the file names.")
@click.option("--dry-run", is_flag=True, help="Check and report; write nothing.")
@pass_ctx
@_fail_cleanly
def import_staff(obj: _Ctx, path, replace, dry_run) -> None:
    """Import staff and roles from CSV: person_id,name,phone,unit_code,role."""
    n_people, n_roles = obj.services().import_staff(path, replace=replace, dry_run=dry_run)
    verb = "imported" if not dry_run else "dry run: would import"
    click.echo(f"{verb} {n_people} people and {n_roles} roles from {path}" + (" (nothing written)" if dry_run else ""))


@main.command()
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--level", type=click.Choice(LEVELS + ["all"]),
              help="GeoJSON: the level in the file [default: grid]; `all` puts every level in one file. "
                   "GeoPackage: only this level's layer [default: a layer per level].")
@click.option("--format", "fmt", type=click.Choice(["geojson", "gpkg"]), help="Default: from the file name.")
@click.option("--staff", is_flag=True, help="Export staff and roles as CSV instead of units.")
@click.option("--bom", is_flag=True, help="Staff CSV: start with a UTF-8 BOM so Excel shows Chinese correctly.")
@pass_ctx
@_fail_cleanly
def export(obj: _Ctx, path, level, fmt, staff, bom) -> None:
    """Export units as GeoJSON (RFC 7946) or GeoPackage, or staff as CSV (--staff)."""
    from .model import Level

    services = obj.services()
    if staff:
        n = services.export_staff(path, bom=bom)
        click.echo(f"wrote {n} role assignments to {path}")
        return
    one = Level(level) if level and level != "all" else None
    n = services.export(path, level=one, fmt=fmt, all_levels=level == "all")
    fmt_used = (fmt or str(path).rsplit(".", 1)[-1]).lower()
    what = "every level" if level == "all" or (fmt_used == "gpkg" and not one) else f"level {(one or Level.grid).value}"
    click.echo(f"wrote {n} units ({what}) to {path}")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the problems as JSON.")
@click.option("--coverage", is_flag=False, flag_value="", default=None, metavar="[CODE]",
              help="Check coverage instead: gaps, overlaps, outside pieces, invalid/multi-part units and slivers "
                   "of CODE's children (no CODE: every parent).")
@click.option("--geojson", "geojson_path", type=click.Path(dir_okay=False), help="With --coverage: write the problem shapes here.")
@click.option("--plan", type=int, help="With --coverage: check this plan version [default: the plan in force].")
@pass_ctx
@_fail_cleanly
def check(obj: _Ctx, as_json: bool, coverage: str | None, geojson_path: str | None, plan: int | None) -> None:
    """List every grid that breaks 1+1+N (and zones lacking secretary/director). Exit 1 if any."""
    if coverage is not None or geojson_path or plan is not None:
        from .cli_planning import coverage_check

        sys.exit(coverage_check(obj, coverage or None, as_json, geojson_path, plan))
    problems = obj.services().team_problems()
    if as_json:
        click.echo(json.dumps([p.__dict__ for p in problems], ensure_ascii=False, indent=2))
    else:
        for p in problems:
            click.echo(f"{p.code}  {p.name}  [{p.level}]: {p.problem}")
        click.echo(f"{len(problems)} units break their team rule" if problems else "every unit has a full team")
    sys.exit(1 if problems else 0)


@main.command()
@click.argument("lon", type=float)
@click.argument("lat", type=float)
@click.option("--crs", default="EPSG:4326", show_default=True, help="CRS of LON LAT (GCJ-02 / BD-09 for phone apps).")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
@_fail_cleanly
def locate(obj: _Ctx, lon: float, lat: float, crs: str, as_json: bool) -> None:
    """Which grid is the point LON LAT in (and its zone, town, county)."""
    from .lonlat import is_geographic, lonlat_problem

    problem = lonlat_problem(lon, lat) if is_geographic(crs) else None
    if problem:  # refused before the store is opened
        raise InputError(problem)
    services = obj.services()
    loc = services.locate(lon, lat, crs=crs)
    if as_json:
        click.echo(json.dumps(loc.__dict__, ensure_ascii=False))
        return
    if loc.grid:
        unit = services.unit(loc.grid)
        chain = ", ".join(f"{k} {v}" for k, v in loc.chain.items())
        click.echo(f"{loc.grid} {unit.name}" + (f" ({chain})" if chain else ""))
        if len(loc.candidates) > 1:
            click.echo(f"on the boundary of {', '.join(loc.candidates)}: lowest code wins")
    elif loc.nearest:
        click.echo(f"outside every grid; nearest is {loc.nearest} at {loc.distance_m:,.0f} m")
    else:
        click.echo("outside every grid, and none within nearest_max_m")


@main.command()
@click.argument("input_path", metavar="INPUT", type=click.Path())
@click.option("--out", "output", required=True, type=click.Path(), help="Output file (same format).")
@click.option("--crs", default="EPSG:4326", show_default=True, help="CRS of the input points.")
@click.option("--lon-field", default="lon", show_default=True)
@click.option("--lat-field", default="lat", show_default=True)
@click.option("--engine", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="dask: INPUT and --out are (Geo)Parquet directories of partitions, run on a Dask cluster.")
@click.option("--scheduler", help="dask: scheduler address (tcp://host:8786) [default: DASK_SCHEDULER_ADDRESS, "
              "else a local cluster].")
@click.option("--partitions", type=int, help="dask: repartition the input into N partitions.")
@click.option("--workers", type=int, help="dask: workers of the local cluster [default: one per core].")
@pass_ctx
@_fail_cleanly
def assign(obj: _Ctx, input_path, output, crs, lon_field, lat_field, engine, scheduler, partitions, workers) -> None:
    """Add grid_code and zone_code to every point of a CSV (lon,lat) or GeoJSON file."""
    if engine == "dask":
        from .scale.cli_assign import run_dask_assign

        src = click.get_current_context().get_parameter_source("crs")
        given = None if src == click.core.ParameterSource.DEFAULT else crs
        return run_dask_assign(obj.services(), input_path, output, given, lon_field, lat_field, scheduler,
                               partitions, workers)
    from .assign import assign_with_settings

    # Not through obj.services(): the bulk path reads a SQLite store without SQLAlchemy.
    stats = assign_with_settings(obj.settings(), input_path, output, crs=crs, lon_field=lon_field,
                                 lat_field=lat_field, progress=_progress("assign"))
    click.echo(f"wrote {output}: {stats['rows']:,} rows, {stats['assigned']:,} in a grid, "
               f"{stats['outside']:,} outside every grid, {stats['no_coordinates']:,} without coordinates, "
               f"{stats['out_of_range']:,} out of range", err=True)


@main.command()
@click.option("--data", type=click.Path(file_okay=False), help="Folder with the demo files [default: bundled geodata].")
@click.option("--out", "out_dir", default="demo-output", show_default=True, type=click.Path(file_okay=False),
              help="Where to write the demo's exports.")
@click.option("--force", is_flag=True, help="Rebuild even if the store holds other data (SQLite: replaces the file).")
@click.option("--today", type=click.DateTime(["%Y-%m-%d"]),
              help="The sample incidents are the year before this day [default: today]; 2026-11-01 reproduces the shipped files.")
@pass_ctx
@_fail_cleanly
def demo(obj: _Ctx, data, out_dir, force, today) -> None:
    """Build a store from the Lingcheng District demo data and run the main jobs on it."""
    from .demo import run_demo

    run_demo(obj.settings(), data_dir=data, out_dir=out_dir, force=force, echo=click.echo,
             progress=_progress, today=today.date() if today else None)


@main.command()
@click.option("--host", help="Address [default: setting host, 127.0.0.1].")
@click.option("--port", type=int, help="Port [default: setting port, 5000].")
@pass_ctx
@_fail_cleanly
def serve(obj: _Ctx, host, port) -> None:
    """Run the web app and API (development server; see README for gunicorn)."""
    import threading

    from .app import create_app
    from .web.maps_pages import warm_up

    settings = obj.settings(host=host, port=port)
    app = create_app(settings)
    # the map caches build while the server starts listening (the first /map then answers at once)
    threading.Thread(target=lambda: _warm(app, warm_up), name="gridmap-warm-up", daemon=True).start()
    click.echo(f"gridmap on http://{settings.host}:{settings.port}/ (store {settings.db})")
    app.run(host=settings.host, port=settings.port, debug=False, use_reloader=False)


def _warm(app, warm_up) -> None:
    try:
        click.echo(f"map caches ready in {warm_up(app):.1f} s")
    except Exception as exc:  # an empty store: the first request builds them instead
        click.echo(f"map caches not warmed up: {exc}", err=True)


from . import (  # noqa: E402  (after main: each module registers its commands on it)
    cli_incidents,  # noqa: E402,F401  (registers `incidents` and `users`)
    cli_places,  # noqa: E402,F401  (registers `places`)
    cli_planning,  # noqa: E402,F401  (registers `balance`, `propose`, `networks`)
    cli_plans,  # noqa: E402,F401  (registers `plan`)
    cli_print,  # noqa: E402,F401  (registers `print`)
    cli_users,  # noqa: E402,F401  (registers `users list|disable|enable|passwd|revoke-token`)
)

if __name__ == "__main__":  # pragma: no cover  (use `python -m gridmap`)
    from gridmap.cli import main as _main

    _main()
