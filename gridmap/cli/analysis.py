"""Planner tools on the command line: `check --coverage`, `balance`, `propose`, `networks`.

Thin commands over gridmap.analysis.service.PlanningService: parse, call, print.
"""

from __future__ import annotations

import json

import click

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
            click.echo(f"{p.kind:9s} {p.area_m2:>14,.1f} m²  {' '.join(p.codes)}  at {where}  {p.detail}")
        scope = code or "every parent"
        click.echo(f"{len(problems)} coverage problems under {scope}" if problems
                   else f"coverage is exact under {scope}: no gap, overlap or stray piece above the tolerance")
        if geojson_path:
            click.echo(f"wrote {len(problems)} problem shapes to {geojson_path}")
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
    click.echo(f"{'code':18s} {'households':>10s} {'people':>7s} {'km²':>7s} {'inc/yr':>7s} {'staff/100hh':>11s} "
               f"{'compact':>7s}  flags")
    for r in rows:
        spc = f"{r.staff_per_100_households:.1f}" if r.staff_per_100_households is not None else "-"
        click.echo(f"{r.code:18s} {_n(r.households):>10s} {_n(r.population):>7s} {r.area_km2:7.3f} "
                   f"{r.incidents_per_year:7.1f} {spc:>11s} {r.compactness:7.2f}  {'; '.join(r.flags)}")
    click.echo(f"{summ['grids']} grids, {summ['flagged']} outside the targets; households mean "
               f"{summ['households_mean']}, min {summ['households_min']}, max {summ['households_max']}, "
               f"CV {summ['households_cv']}")


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
        raise InputError("give --households MIN-MAX or --grids K, not both")
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
        click.echo(f"{g['code']:18s} {g['households']:>6,} households {g['area_km2']:8.3f} km² "
                   f"compactness {g['compactness']:.2f}" + ("  (locked)" if g["locked"] else ""))
    s = prop.stats
    click.echo(f"{s['grids']} new grids by {prop.method} in {prop.seconds:.1f} s: households {s['households_min']}-"
               f"{s['households_max']} (CV {s['households_cv']}), compactness mean {s['compactness_mean']}, "
               f"{'all contiguous' if s['contiguous'] else 'NOT all contiguous'}"
               + (f", {s['within_range']}/{s['grids']} within the range" if "within_range" in s else "")
               + (f"; {prop.points_dropped} points outside the free area ignored" if prop.points_dropped else ""))
    if saved:
        click.echo(f"saved into draft {saved['plan']} (rev {saved['rev']}): {len(saved['created'])} grids created, "
                   f"{len(saved['removed'])} removed")


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
        click.echo(f"{p['layer']} in {p['other']}: {p['within_one_95']}/{p['grids']} grids lie ≥95% in one grid; "
                   f"best cover averages {p['mean_best_pct']}%")
    s = merged.stats
    click.echo(f"merged: {s['grids_out']} grids from {' + '.join(map(str, s['grids_in']))} "
               f"({s['faces']} overlay pieces, {s['small_or_thin_dissolved']} small or thin pieces dissolved)"
               + (f"; wrote {out_path}" if out_path else ""))
