"""Planner tools on the command line: `check --coverage`, `balance`, `propose`, `networks`.

Thin commands over gridmap.analysis.service.PlanningService: parse, call, print.
"""

from __future__ import annotations

import json

import click

from ..i18n import tr
from .context import Context, fail_cleanly, pass_ctx


def _planning(obj: Context):

    return obj.services().analysis


def _write_json(path: str, doc) -> None:
    from ..io.writers import atomic_path

    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, ensure_ascii=False, separators=(",", ":"))


def _echo_json(doc) -> None:
    click.echo(json.dumps(doc, ensure_ascii=False, indent=2))


def coverage_check(obj: Context, code: str | None, as_json: bool, geojson_path: str | None, plan: int | None) -> int:
    """`gridmap check --coverage [CODE]`: print the problems; the exit status (1 if any)."""
    from ..analysis.coverage import problems_geojson, problems_json

    problems = _planning(obj).coverage(code, plan=plan)
    if geojson_path:
        _write_json(geojson_path, problems_geojson(problems))
    if as_json:
        _echo_json(problems_json(problems))
    else:
        for p in problems:
            where = f"{p.lon:.6f},{p.lat:.6f}" if p.to_dict()["location"] else "-"
            click.echo(tr("%(kind)s %(area_m2)s m²  %(codes)s  at %(where)s  %(detail)s", kind=format(p.kind, "9s"), area_m2=format(p.area_m2, ">14,.1f"), codes=" ".join(p.codes), where=where, detail=p.detail))
        if code:
            click.echo(tr("%(n)s coverage problems under %(scope)s", n=len(problems), scope=code) if problems else
                       tr("coverage is exact under %(scope)s: no gap, overlap or stray piece above the tolerance",
                          scope=code))
        else:
            click.echo(tr("%(n)s coverage problems under every parent", n=len(problems)) if problems else
                       tr("coverage is exact under every parent: no gap, overlap or stray piece above the tolerance"))
        if geojson_path:
            click.echo(tr("wrote %(n)s problem shapes to %(geojson_path)s", n=len(problems), geojson_path=geojson_path))
    return 1 if problems else 0


def _range(text: str | None, name: str, integer: bool = True):
    from ..analysis import parse_range

    return parse_range(text, name, integer)


@click.command()
@click.option("--parent", help="Only the grids under this unit (zone, town or county) [default: every grid].")
@click.option("--households", help="Target households per grid, MIN-MAX (e.g. 10-15 for micro-grids, 200-400).")
@click.option("--population", help="Target population per grid, MIN-MAX.")
@click.option("--area", help="Target area per grid in km², MIN-MAX (e.g. 0.1-2.5).")
@click.option("--min-compactness", type=float, help="Flag grids less compact than this (Polsby-Popper, 0-1).")
@click.option("--level", type=click.Choice(["grid", "micro"]), help="Which units to score [default: grid].")
@click.option("--plan", type=int, help="Plan version [default: the plan in force].")
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), help="Incidents from this day [default: a year ago].")
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), help="Incidents before this day [default: now].")
@click.option("--json", "as_json", is_flag=True)
@click.option("--geojson", "geojson_path", type=click.Path(dir_okay=False), help="Write the grids with their figures and colours.")
@pass_ctx
@fail_cleanly
def balance(obj: Context, parent, households, population, area, min_compactness, level, plan, start, end, as_json,
            geojson_path) -> None:
    """Households, people, area, incidents/year, staff per 100 households, compactness per grid; flag misses."""
    import datetime as dt

    from ..analysis.balance import Targets, balance_geojson
    from ..registry.model import Level

    targets = Targets(_range(households, "households"), _range(population, "population"),
                      _range(area, "area", integer=False), min_compactness)
    tz = dt.timezone.utc
    units, rows, summ = _planning(obj).balance(parent, targets, Level(level) if level else None, plan,
                                               start.replace(tzinfo=tz) if start else None,
                                               end.replace(tzinfo=tz) if end else None)
    if geojson_path:
        _write_json(geojson_path, balance_geojson(units, rows))
    if as_json:
        _echo_json({"summary": summ, "grids": [r.to_dict() for r in rows]})
        return
    cols = (tr("code"), tr("households"), tr("people"), "km²", tr("inc/yr"), tr("staff/100hh"), tr("compact"))
    click.echo(f"{cols[0]:18s} {cols[1]:>10s} {cols[2]:>7s} {cols[3]:>7s} {cols[4]:>7s} {cols[5]:>11s} {cols[6]:>7s}  "
               + tr("flags"))
    for r in rows:
        spc = f"{r.staff_per_100_households:.1f}" if r.staff_per_100_households is not None else "-"
        click.echo(f"{r.code:18s} {_n(r.households):>10s} {_n(r.population):>7s} {r.area_km2:7.3f} "
                   f"{r.incidents_per_year:7.1f} {spc:>11s} {r.compactness:7.2f}  {'; '.join(r.flags)}")
    click.echo(tr("%(grids)s grids, %(flagged)s outside the targets; households mean %(households_mean)s, min %(households_min)s, max %(households_max)s, CV %(households_cv)s", grids=summ["grids"], flagged=summ["flagged"], households_mean=summ["households_mean"], households_min=summ["households_min"], households_max=summ["households_max"], households_cv=summ["households_cv"]))


def _n(v) -> str:
    return "-" if v is None else f"{v:,}"


@click.command()
@click.argument("zone")
@click.option("--points", "points_path", required=True, type=click.Path(dir_okay=False),
              help="Household or building points: CSV (lon,lat[,households]) or GeoJSON/GeoPackage.")
@click.option("--barriers", "barriers_path", type=click.Path(dir_okay=False), help="Roads, rivers: lines grids may not straddle.")
@click.option("--households", help="Households per grid, MIN-MAX (e.g. 90-110).")
@click.option("--grids", type=int, help="Number of new grids (instead of --households).")
@click.option("--lock", multiple=True, help="A grid of the zone to keep as it is (repeat, or comma-separated).")
@click.option("--method", type=click.Choice(["bisect", "skater", "maxp"]), default="bisect", show_default=True,
              help="bisect: gridmap's own; skater / maxp: PySAL spopt.")
@click.option("--crs", help="CRS of the points and barriers (CSV needs one: EPSG:4326, GCJ-02...).")
@click.option("--weight-field", help="Column with households per point [default: households if present, else 1].")
@click.option("--plan", type=int, help="Read the zone from this plan [default: the plan in force].")
@click.option("--draft", type=int, help="Save the proposal into this draft plan (replacing the zone's grids; undoable).")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), help="Write the proposed grids as GeoJSON.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
@fail_cleanly
def propose(obj: Context, zone, points_path, barriers_path, households, grids, lock, method, crs, weight_field, plan,
            draft, out_path, as_json) -> None:
    """Cut ZONE into contiguous, compact grids that each meet a household range."""
    from ..errors import InputError

    if households and grids:
        raise InputError(tr("give --households MIN-MAX or --grids K, not both"))
    locks = [c.strip() for item in lock for c in item.split(",") if c.strip()]
    svc = _planning(obj)
    prop = svc.propose(zone, points_path, crs=crs, weight_field=weight_field, barriers_path=barriers_path,
                       households=_range(households, "households"), grids=grids, lock=locks, method=method,
                       plan=draft if draft is not None else plan, fresh_codes=draft is not None)
    if out_path:
        _write_json(out_path, prop.geojson())
    saved = svc.save_proposal(prop, draft) if draft is not None else None
    if as_json:
        _echo_json(prop.to_dict() | ({"saved": saved} if saved else {}))
        return
    for g in prop.to_dict()["grids"]:
        click.echo(tr("%(code)s %(households)s households %(area_km2)s km² compactness %(compactness)s", code=format(g["code"], "18s"), households=format(g["households"], ">6,"), area_km2=format(g["area_km2"], "8.3f"), compactness=format(g["compactness"], ".2f")) + (tr("  (locked)") if g["locked"] else ""))
    s = prop.stats
    click.echo(tr("%(grids)s new grids by %(method)s in %(seconds)s s: households %(households_min)s-%(households_max)s (CV %(households_cv)s), compactness mean %(compactness_mean)s, %(v)s", grids=s["grids"], method=prop.method, seconds=format(prop.seconds, ".1f"), households_min=s["households_min"], households_max=s["households_max"], households_cv=s["households_cv"], compactness_mean=s["compactness_mean"], v=tr("all contiguous") if s["contiguous"] else tr("NOT all contiguous")) + (tr(", %(within_range)s/%(grids)s within the range", within_range=s["within_range"], grids=s["grids"]) if "within_range" in s else "") + (tr("; %(points_dropped)s points outside the free area ignored", points_dropped=prop.points_dropped) if prop.points_dropped else ""))
    if saved:
        click.echo(tr("saved into draft %(plan)s (rev %(rev)s): %(n)s grids created, %(n2)s removed", plan=saved["plan"], rev=saved["rev"], n=len(saved["created"]), n2=len(saved["removed"])))


@click.command()
@click.argument("layers", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--code-field", default="code", show_default=True, help="Field with each grid's code (every layer).")
@click.option("--crs", help="CRS of layers that declare none (CSV).")
@click.option("--min-layers", default=2, show_default=True, help="Keep a boundary that at least this many layers draw.")
@click.option("--snap-m", default=5.0, show_default=True, help="Pieces thinner than this (m) are the same line drawn twice.")
@click.option("--min-area-m2", default=2000.0, show_default=True, help="Pieces smaller than this (m²) join a neighbour.")
@click.option("--parent", help="Number the merged grids under this unit in the national style [default: M001...].")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), help="Write the merged layer as GeoJSON.")
@click.option("--json", "as_json", is_flag=True, help="Print the overlap report (and merge summary) as JSON.")
@click.option("--repair", is_flag=True, help="Make invalid polygons valid (make_valid) instead of refusing them.")
@pass_ctx
@fail_cleanly
def networks(obj: Context, layers, code_field, crs, min_layers, snap_m, min_area_m2, parent, out_path, as_json,
             repair) -> None:
    """多网合一: how grid layers overlap, and one merged layer following their shared boundaries."""
    from ..analysis.service import PlanningService

    svc = _planning(obj) if parent else PlanningService(None)  # comparing files needs no store
    report, merged = svc.networks(list(layers), code_field=code_field, crs=crs, min_layers=min_layers,
                                             snap_m=snap_m, min_area_m2=min_area_m2, parent=parent, repair=repair)
    if out_path:
        _write_json(out_path, merged.geojson())
    if as_json:
        _echo_json(report | {"merge": merged.stats})
        return
    for p in report["pairs"]:
        click.echo(tr("%(layer)s in %(other)s: %(within_one_95)s/%(grids)s grids lie ≥95%% in one grid; best cover averages %(mean_best_pct)s%%", layer=p["layer"], other=p["other"], within_one_95=p["within_one_95"], grids=p["grids"], mean_best_pct=p["mean_best_pct"]))
    s = merged.stats
    click.echo(tr("merged: %(grids_out)s grids from %(v)s (%(faces)s overlay pieces, %(small_or_thin_dissolved)s small or thin pieces dissolved)", grids_out=s["grids_out"], v=" + ".join(map(str, s["grids_in"])), faces=s["faces"], small_or_thin_dissolved=s["small_or_thin_dissolved"]) + (tr("; wrote %(out_path)s", out_path=out_path) if out_path else ""))
