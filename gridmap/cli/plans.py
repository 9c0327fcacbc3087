"""`gridmap plan ...`: versioned grid plans. Thin commands over gridmap.plans.PlanService.

Drawn shapes are GeoJSON files in EPSG:4326 lon/lat (a geometry, a Feature, or a
FeatureCollection of one feature).
"""

from __future__ import annotations

import json
from contextlib import contextmanager

import click

from .context import Context, fail_cleanly, pass_ctx


@contextmanager
def open_plans(obj: Context):
    """A PlanService over the store named by --db, closed (connections released) afterwards."""

    svc = obj.services().plans
    try:
        yield svc
    finally:
        svc.store.close()


def echo_json(data) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


def _geojson(path: str):
    from ..plans.shapes import read_geojson

    return read_geojson(path)


def report_edit(out: dict) -> None:
    parts = [f"{k} {', '.join(out[k])}" for k in ("created", "changed", "removed") if out[k]]
    click.echo(f"draft {out['plan']} rev {out['rev']}: {out['op']}" + (": " + "; ".join(parts) if parts else ""))
    for note in out["notes"]:
        click.echo(f"  note: {note}")


rev_option = click.option("--rev", type=int, help="The draft revision you loaded: refuse if it changed since.")


@click.group()
def plan() -> None:
    """Grid plans: drafts, edits, diff, impact and publishing."""


@plan.command(name="list")
@pass_ctx
@fail_cleanly
def list_plans(obj: Context) -> None:
    """Every plan: version, status, effective date, edits, note."""
    with open_plans(obj) as svc:
        current, plans = svc.store.current_plan(), svc.plans()
    for p in plans:
        mark = "*" if p.version == current else " "
        eff = p.effective_from.isoformat() if p.effective_from else "-"
        base = f" from {p.base_version}" if p.base_version else ""
        click.echo(f"{mark} {p.version:>4}  {p.status:<9}  {eff:<10}  rev {p.rev:<3}  {p.edits} edits{base}"
                   + (f"  {p.note}" if p.note else ""))


@plan.command()
@click.argument("version", type=int)
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
@fail_cleanly
def show(obj: Context, version: int, as_json: bool) -> None:
    """One plan with its edit log."""
    with open_plans(obj) as svc:
        data = {**svc.plan(version).as_dict(), "edit_log": [e.as_dict() for e in svc.repo.edits(version)]}
    if as_json:
        return echo_json(data)
    for key in ("version", "status", "effective_from", "created_at", "published_at", "base_version", "author",
                "rev", "note"):
        click.echo(f"{key}: {data[key]}")
    for e in data["edit_log"]:
        click.echo(f"  edit {e['seq']}: {e['op']} by {e['author'] or '-'} at {e['at']}: "
                   f"{', '.join(e['before_codes'])} -> {', '.join(e['after_codes'])}")


@plan.command()
@click.option("--note", help="What the draft is for.")
@pass_ctx
@fail_cleanly
def new(obj: Context, note: str | None) -> None:
    """Start a draft: a copy of the plan in force."""
    with open_plans(obj) as svc:
        rec = svc.create(note=note)
    click.echo(f"draft {rec.version} created from plan {rec.base_version}")


@plan.command()
@click.argument("version", type=int)
@pass_ctx
@fail_cleanly
def drop(obj: Context, version: int) -> None:
    """Delete a draft."""
    with open_plans(obj) as svc:
        svc.drop(version)
    click.echo(f"draft {version} dropped")


@plan.command()
@click.argument("version", type=int)
@rev_option
@pass_ctx
@fail_cleanly
def undo(obj: Context, version: int, rev: int | None) -> None:
    """Undo the last edit of a draft."""
    with open_plans(obj) as svc:
        out = svc.undo(version, rev=rev)
    u = out["undone"]
    click.echo(f"draft {version} rev {out['rev']}: undid edit {u['seq']} ({u['op']})")


@plan.command()
@click.argument("a", type=int)
@click.argument("b", type=int)
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
@fail_cleanly
def diff(obj: Context, a: int, b: int, as_json: bool) -> None:
    """What changed from plan A to plan B (grids)."""
    with open_plans(obj) as svc:
        d = svc.diff(a, b)
    if as_json:
        return echo_json(d)
    for x in d["added"]:
        src = ", ".join(f"{f['code']} {f['area_m2']:,.0f} m²" for f in x["from"])
        click.echo(f"added     {x['code']}  {x['area_m2']:,.0f} m²" + (f"  (from {src})" if src else ""))
    for x in d["removed"]:
        dst = ", ".join(f"{f['code']} {f['area_m2']:,.0f} m²" for f in x["to"])
        click.echo(f"removed   {x['code']}  {x['area_m2']:,.0f} m²" + (f"  (to {dst})" if dst else ""))
    for x in d["reshaped"]:
        click.echo(f"reshaped  {x['code']}  {x['area_change_m2']:+,.0f} m²  ({x['area_before_m2']:,.0f} -> "
                   f"{x['area_after_m2']:,.0f}; {x['changed_area_m2']:,.0f} m² changed hands)")
    for x in d["renamed"]:
        click.echo(f"renamed   {x['code']}  {x['name_before']} -> {x['name_after']}")
    click.echo(f"unchanged {len(d['unchanged'])} grids")


@plan.command()
@click.argument("version", type=int)
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
@fail_cleanly
def impact(obj: Context, version: int, as_json: bool) -> None:
    """What publishing a draft would move: households, open incidents, staff; teams; coverage."""
    with open_plans(obj) as svc:
        r = svc.impact(version)
    if as_json:
        return echo_json(r)
    d = r["diff"]
    click.echo(f"plan {version} against plan {r['against']}: {d['added']} added, {d['removed']} removed, "
               f"{d['reshaped']} reshaped, {d['unchanged']} unchanged")
    h = r["households"]
    click.echo(f"households moving: about {h['households']:,} (by area share)")
    for f in h["flows"]:
        click.echo(f"  {f['from']} -> {f['to']}: {f['households']:,} households, {f['area_m2']:,.0f} m²")
    click.echo(f"open incidents moving: {len(r['incidents']['moving'])} of {r['incidents']['open']}")
    for m in r["incidents"]["moving"]:
        click.echo(f"  #{m['id']} {m['category']}: {m['from']} -> {m['to']}, assignee {m['assignee'] or 'nobody'}")
    for s in r["staff_on_removed_grids"]:
        where = f"placed in {', '.join(s['placed_in'])}" if s["placed_in"] else "not placed yet"
        click.echo(f"staff on a removed grid: {s['person_id']} {s['name']} ({s['role']} of {s['unit_code']}), "
                   f"offered to {', '.join(s['successors']) or '-'}; {where}")
    for t in r["teams"]:
        blocks = f"; {t['open_incidents']} open incident(s): blocks publishing" if t["blocks_publish"] else ""
        click.echo(f"team incomplete: {t['code']}{' (new grid)' if t['new_grid'] else ''}: {t['problem']}{blocks}")
    for code, team in r["new_and_changed_teams"].items():
        click.echo(f"team of {code}: leader {', '.join(team['leader']) or '-'}, instructor "
                   f"{', '.join(team['instructor']) or '-'}, workers {', '.join(team['worker']) or '-'}")
    for p in r["coverage"]:
        click.echo(f"coverage: {p['kind']} {','.join(p['codes']) or p['parent']} {p['area_m2']:,} m²")


@plan.command()
@click.argument("version", type=int)
@click.option("--effective", required=True, help="Date the plan takes effect, YYYY-MM-DD.")
@click.option("--force", is_flag=True, help="Publish despite coverage problems or staffing gaps (they are listed).")
@click.option("--reason", help="Why: required with --force when grids with open incidents lack a full team.")
@pass_ctx
@fail_cleanly
def publish(obj: Context, version: int, effective: str, force: bool, reason: str | None) -> None:
    """Publish a draft from a date; open incidents are re-routed in the same transaction.

    Refused while a grid with open incidents lacks a full 1+1+N team (see `plan impact`)
    unless --force with --reason.
    """
    with open_plans(obj) as svc:
        out = svc.publish(version, effective, force=force, reason=reason)
    click.echo(f"plan {version} published, in force from {out['effective_from']}"
               + ("" if out["in_force"] else " (later: run `gridmap incidents reroute` on that day)"))
    for r in out["rerouted"]:
        click.echo(f"  re-routed #{r['id']}: {r['from']} -> {r['to']}, assignee {r['assignee'] or 'nobody'}")
    for s in out["staff_on_removed_grids"]:
        click.echo(f"  staff on a removed grid: {s['person_id']} {s['name']} ({s['role']} of {s['unit_code']})")
    if out["forced"]:
        click.echo(f"  published with {len(out['coverage'])} coverage problem(s) and {len(out['staffing_gaps'])} "
                   f"staffing gap(s) (--force{': ' + out['reason'] if out['reason'] else ''})")


# -- edits ---------------------------------------------------------------------------------------
@plan.command()
@click.argument("version", type=int)
@click.argument("code")
@click.option("--line", "line_file", type=click.Path(dir_okay=False), help="GeoJSON LineString crossing the grid.")
@click.option("--parts", type=int, help="Split into this many strips of equal area.")
@rev_option
@pass_ctx
@fail_cleanly
def split(obj: Context, version: int, code: str, line_file: str | None, parts: int | None, rev: int | None) -> None:
    """Split a grid of a draft by a drawn line or into K parts."""
    params = {"code": code, "line": _geojson(line_file) if line_file else None, "parts": parts}
    with open_plans(obj) as svc:
        out = svc.edit(version, "split", params, rev=rev)
    report_edit(out)


@plan.command()
@click.argument("version", type=int)
@click.argument("codes", nargs=-1, required=True)
@rev_option
@pass_ctx
@fail_cleanly
def merge(obj: Context, version: int, codes: tuple[str, ...], rev: int | None) -> None:
    """Merge adjacent grids of a draft into the first one named."""
    with open_plans(obj) as svc:
        out = svc.edit(version, "merge", {"codes": list(codes)}, rev=rev)
    report_edit(out)


@plan.command()
@click.argument("version", type=int)
@click.argument("code")
@click.option("--geometry", "geometry_file", required=True, type=click.Path(dir_okay=False),
              help="GeoJSON Polygon: the grid's new outline.")
@click.option("--neighbour", help="Only this neighbour may change.")
@click.option("--repair", is_flag=True, help="Repair a self-intersecting outline instead of refusing it.")
@rev_option
@pass_ctx
@fail_cleanly
def reshape(obj: Context, version: int, code: str, geometry_file: str, neighbour: str | None, repair: bool,
            rev: int | None) -> None:
    """Give a grid a new outline; its neighbours change with it (no gap, no overlap)."""
    params = {"code": code, "geometry": _geojson(geometry_file), "neighbour": neighbour, "repair": repair}
    with open_plans(obj) as svc:
        out = svc.edit(version, "reshape", params, rev=rev)
    report_edit(out)


@plan.command()
@click.argument("version", type=int)
@click.option("--from", "src", required=True, help="The grid giving up the area.")
@click.option("--to", "dst", required=True, help="The neighbouring grid receiving it.")
@click.option("--area", "area_file", type=click.Path(dir_okay=False), help="GeoJSON Polygon to move.")
@click.option("--points", "points_file", type=click.Path(dir_okay=False),
              help="Household points to move: GeoJSON points or a CSV with lon,lat columns.")
@click.option("--repair", is_flag=True, help="Repair a self-intersecting area instead of refusing it.")
@rev_option
@pass_ctx
@fail_cleanly
def move(obj: Context, version: int, src: str, dst: str, area_file: str | None, points_file: str | None,
         repair: bool, rev: int | None) -> None:
    """Move a drawn area or a set of households from one grid to its neighbour."""
    from ..plans.shapes import read_points

    params = {"from": src, "to": dst, "repair": repair, "area": _geojson(area_file) if area_file else None,
              "points": read_points(points_file) if points_file else None}
    with open_plans(obj) as svc:
        out = svc.edit(version, "move", params, rev=rev)
    report_edit(out)


@plan.command()
@click.argument("version", type=int)
@click.option("--tolerance-m", "tolerance_m", type=float, required=True, help="Snap edges closer than this (m).")
@click.option("--level", default="grid", show_default=True, type=click.Choice(["grid", "micro"]))
@click.option("--parent", help="Only the children of this unit.")
@rev_option
@pass_ctx
@fail_cleanly
def snap(obj: Context, version: int, tolerance_m: float, level: str, parent: str | None, rev: int | None) -> None:
    """Snap near-coincident edges of a draft's grids together (imported layers)."""
    params = {"tolerance_m": tolerance_m, "level": level, "parent": parent}
    with open_plans(obj) as svc:
        out = svc.edit(version, "snap", params, rev=rev)
    report_edit(out)


@plan.command()
@click.argument("version", type=int)
@click.argument("code")
@click.argument("name")
@rev_option
@pass_ctx
@fail_cleanly
def rename(obj: Context, version: int, code: str, name: str, rev: int | None) -> None:
    """Rename a grid of a draft (its code stays)."""
    with open_plans(obj) as svc:
        out = svc.edit(version, "rename", {"code": code, "name": name}, rev=rev)
    report_edit(out)


@plan.command()
@click.argument("version", type=int)
@click.argument("code")
@click.option("--leader", help="person_id of the grid leader (网格长).")
@click.option("--instructor", help="person_id of the grid instructor (网格指导员).")
@click.option("--worker", "workers", multiple=True, help="person_id of a grid worker (网格员); repeat for each.")
@rev_option
@pass_ctx
@fail_cleanly
def staff(obj: Context, version: int, code: str, leader: str | None, instructor: str | None,
          workers: tuple[str, ...], rev: int | None) -> None:
    """Assign or move the 1+1+N team of a grid in a draft (roles given are replaced; others kept)."""
    params = {"code": code, "leader": leader, "instructor": instructor, "workers": list(workers) or None}
    with open_plans(obj) as svc:
        out = svc.edit(version, "staff", params, rev=rev)
    report_edit(out)
