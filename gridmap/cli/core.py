"""The core `gridmap` commands: init, load, export, check, locate, assign, demo, serve."""

from __future__ import annotations

import json
import sys

import click

from ..errors import InputError
from ..i18n import tr
from .context import LEVELS, Context, fail_cleanly, pass_ctx, progress


@click.command()
@pass_ctx
@fail_cleanly
def init(obj: Context) -> None:
    """Create the store (or migrate it to the newest schema)."""
    info = obj.services(create=True).store.info()
    click.echo(tr("store ready: %(url)s (%(backend)s, schema %(schema_revision)s)", url=info.url, backend=info.backend, schema_revision=info.schema_revision))


@click.command()
@pass_ctx
@fail_cleanly
def info(obj: Context) -> None:
    """Show what the store holds."""
    i = obj.services().store.info()
    click.echo(tr("store: %(url)s (%(backend)s, schema %(schema_revision)s, plan %(plan)s)", url=i.url, backend=i.backend, schema_revision=i.schema_revision, plan=i.plan))
    for key in LEVELS + ["people", "roles"]:
        if key in i.counts:
            click.echo(f"  {key:8s} {i.counts[key]:>8,}")


@click.command(name="import")
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
@fail_cleanly
def import_(obj: Context, path, level, code_field, name_field, parent_field, households_field, population_field,
            crs, layer, wkt_field, generate_codes, repair, replace, valid_from, dry_run) -> None:
    """Import one level of units from GeoJSON, GeoPackage, zipped Shapefile or CSV (WKT)."""
    from ..registry.model import Level
    from ..registry.validate import ImportSpec

    settings = obj.settings()
    spec = ImportSpec(Level(level), None if generate_codes else code_field, name_field, parent_field,
                      households_field, population_field, generate_codes, repair, replace,
                      settings.outside_tolerance_m2, valid_from.date() if valid_from else None)
    services = obj.services(create=not dry_run)
    try:
        rep = services.import_units(path, spec, crs=crs, layer=layer, wkt_field=wkt_field, dry_run=dry_run,
                                    progress=progress(tr("import"), unit="unit"))
    finally:
        services.store.close()  # a refused file leaves no PostGIS connection open either
    for line in rep.repairs:
        click.echo(tr("repaired: %(line)s", line=line))
    counts = {"count": rep.count, "level": rep.level, "path": path, "area_km2": format(rep.area_km2, ",.2f"),
              "households": format(rep.households, ",")}  # (one whole message each: a verb put into one stayed Chinese)
    said = (tr("imported %(count)s %(level)s units from %(path)s: %(area_km2)s km², %(households)s households", **counts)
            if rep.written else
            tr("dry run: would import %(count)s %(level)s units from %(path)s: %(area_km2)s km², %(households)s households", **counts))
    click.echo(said + ("" if rep.written else tr(" (nothing written)")))


@click.command(name="import-staff")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--replace", is_flag=True, help="Replace every role of the units the file names.")
@click.option("--dry-run", is_flag=True, help="Check and report; write nothing.")
@pass_ctx
@fail_cleanly
def import_staff(obj: Context, path, replace, dry_run) -> None:
    """Import staff and roles from CSV: person_id,name,phone,unit_code,role."""
    n_people, n_roles = obj.services().import_staff(path, replace=replace, dry_run=dry_run)
    counts = {"n_people": n_people, "n_roles": n_roles, "path": path}
    said = (tr("dry run: would import %(n_people)s people and %(n_roles)s roles from %(path)s", **counts) if dry_run
            else tr("imported %(n_people)s people and %(n_roles)s roles from %(path)s", **counts))
    click.echo(said + (tr(" (nothing written)") if dry_run else ""))


@click.command()
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--level", type=click.Choice(LEVELS + ["all"]),
              help="GeoJSON: the level in the file [default: grid]; `all` puts every level in one file. "
                   "GeoPackage: only this level's layer [default: a layer per level].")
@click.option("--format", "fmt", type=click.Choice(["geojson", "gpkg"]), help="Default: from the file name.")
@click.option("--staff", is_flag=True, help="Export staff and roles as CSV instead of units.")
@click.option("--bom", is_flag=True, help="Staff CSV: start with a UTF-8 BOM so Excel shows Chinese correctly.")
@pass_ctx
@fail_cleanly
def export(obj: Context, path, level, fmt, staff, bom) -> None:
    """Export units as GeoJSON (RFC 7946) or GeoPackage, or staff as CSV (--staff)."""
    from ..registry.model import Level

    services = obj.services()
    if staff:
        n = services.export_staff(path, bom=bom)
        click.echo(tr("wrote %(n)s role assignments to %(path)s", n=n, path=path))
        return
    one = Level(level) if level and level != "all" else None
    n = services.export(path, level=one, fmt=fmt, all_levels=level == "all")
    fmt_used = (fmt or str(path).rsplit(".", 1)[-1]).lower()
    what = (tr("every level") if level == "all" or (fmt_used == "gpkg" and not one)
            else tr("level %(level)s", level=(one or Level.grid).value))
    click.echo(tr("wrote %(n)s units (%(what)s) to %(path)s", n=n, what=what, path=path))


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the problems as JSON.")
@click.option("--coverage", is_flag=False, flag_value="", default=None, metavar="[CODE]",
              help="Check coverage instead: gaps, overlaps, outside pieces, invalid/multi-part units and slivers "
                   "of CODE's children (no CODE: every parent).")
@click.option("--geojson", "geojson_path", type=click.Path(dir_okay=False), help="With --coverage: write the problem shapes here.")
@click.option("--plan", type=int, help="With --coverage: check this plan version [default: the plan in force].")
@pass_ctx
@fail_cleanly
def check(obj: Context, as_json: bool, coverage: str | None, geojson_path: str | None, plan: int | None) -> None:
    """List every grid that breaks 1+1+N (and zones lacking secretary/director). Exit 1 if any."""
    if coverage is not None or geojson_path or plan is not None:
        from .analysis import coverage_check

        sys.exit(coverage_check(obj, coverage or None, as_json, geojson_path, plan))
    problems = obj.services().team_problems()
    if as_json:
        click.echo(json.dumps([p.__dict__ for p in problems], ensure_ascii=False, indent=2))
    else:
        for p in problems:
            click.echo(f"{p.code}  {p.name}  [{p.level}]: {p.problem}")
        click.echo(tr("%(n)s units break their team rule", n=len(problems)) if problems else tr("every unit has a full team"))
    sys.exit(1 if problems else 0)


@click.command()
@click.argument("lon", type=float)
@click.argument("lat", type=float)
@click.option("--crs", default="EPSG:4326", show_default=True, help="CRS of LON LAT (GCJ-02 / BD-09 for phone apps).")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
@fail_cleanly
def locate(obj: Context, lon: float, lat: float, crs: str, as_json: bool) -> None:
    """Which grid is the point LON LAT in (and its zone, town, county)."""
    from ..geo.lonlat import is_geographic, lonlat_problem

    problem = lonlat_problem(lon, lat) if is_geographic(crs) else None
    if problem:  # refused before the store is opened
        raise InputError(problem)
    from ..registry.locatequick import locate_quick

    quick = locate_quick(obj.settings(), lon, lat, crs)  # a SQLite store: the persisted index, no SQL layer
    if quick is None:
        services = obj.services()
        loc = services.locate(lon, lat, crs=crs)
        name = services.unit(loc.grid).name if loc.grid and not as_json else None
    else:
        loc, name = quick
    if as_json:
        click.echo(json.dumps(loc.__dict__, ensure_ascii=False))
        return
    if loc.grid:
        chain = ", ".join(f"{k} {v}" for k, v in loc.chain.items())
        click.echo(f"{loc.grid} {name}" + (f" ({chain})" if chain else ""))
        if len(loc.candidates) > 1:
            click.echo(tr("on the boundary of %(candidates)s: lowest code wins", candidates=", ".join(loc.candidates)))
    elif loc.nearest:
        click.echo(tr("outside every grid; nearest is %(nearest)s at %(distance_m)s m", nearest=loc.nearest, distance_m=format(loc.distance_m, ",.0f")))
    else:
        click.echo(tr("outside every grid, and none within nearest_max_m"))


@click.command()
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
@fail_cleanly
def assign(obj: Context, input_path, output, crs, lon_field, lat_field, engine, scheduler, partitions, workers) -> None:
    """Add grid_code and zone_code to every point of a CSV (lon,lat) or GeoJSON file."""
    if engine == "dask":
        from .assign_engines import run_dask_assign

        src = click.get_current_context().get_parameter_source("crs")
        given = None if src == click.core.ParameterSource.DEFAULT else crs
        return run_dask_assign(obj.services(), input_path, output, given, lon_field, lat_field, scheduler,
                               partitions, workers)
    from ..registry.assign import assign_with_settings

    # Not through obj.services(): the bulk path reads a SQLite store without SQLAlchemy.
    stats = assign_with_settings(obj.settings(), input_path, output, crs=crs, lon_field=lon_field,
                                 lat_field=lat_field, progress=progress(tr("assign")))
    click.echo(tr("wrote %(output)s: %(rows)s rows, %(assigned)s in a grid, %(outside)s outside every grid, %(no_coordinates)s without coordinates, %(out_of_range)s out of range", output=output, rows=format(stats["rows"], ","), assigned=format(stats["assigned"], ","), outside=format(stats["outside"], ","), no_coordinates=format(stats["no_coordinates"], ","), out_of_range=format(stats["out_of_range"], ",")), err=True)


@click.command()
@click.option("--data", type=click.Path(file_okay=False), help="Folder with the demo files [default: bundled geodata].")
@click.option("--out", "out_dir", default="demo-output", show_default=True, type=click.Path(file_okay=False),
              help="Where to write the demo's exports.")
@click.option("--force", is_flag=True, help="Rebuild even if the store holds other data (SQLite: replaces the file).")
@click.option("--today", type=click.DateTime(["%Y-%m-%d"]),
              help="The sample incidents are the year before this day [default: today]; 2026-11-01 reproduces the shipped files.")
@pass_ctx
@fail_cleanly
def demo(obj: Context, data, out_dir, force, today) -> None:
    """Build a store from the Lingcheng District demo data and run the main jobs on it."""
    from ..demo import run_demo

    run_demo(obj.settings(), data_dir=data, out_dir=out_dir, force=force, echo=click.echo,
             progress=progress, today=today.date() if today else None)


@click.command()
@click.option("--host", help="Address [default: setting host, 127.0.0.1].")
@click.option("--port", type=int, help="Port [default: setting port, 5000].")
@pass_ctx
@fail_cleanly
def serve(obj: Context, host, port) -> None:
    """Run the web app and API (development server; see README for gunicorn)."""
    import threading

    from ..app import create_app
    from ..web.maps_pages import warm_up

    settings = obj.settings(host=host, port=port)
    app = create_app(settings)
    # the map caches build while the server starts listening (the first /map then answers at once)
    threading.Thread(target=lambda: _warm(app, warm_up), name="gridmap-warm-up", daemon=True).start()
    click.echo(tr("gridmap on http://%(host)s:%(port)s/ (store %(db)s)", host=settings.host, port=settings.port, db=settings.db))
    app.run(host=settings.host, port=settings.port, debug=False, use_reloader=False)


def _warm(app, warm_up) -> None:
    try:
        click.echo(tr("map caches ready in %(v)s s", v=format(warm_up(app), ".1f")))
    except Exception as exc:  # an empty store: the first request builds them instead
        click.echo(tr("map caches not warmed up: %(exc)s", exc=exc), err=True)
