"""`gridmap plan ...`: versioned grid plans. Thin commands over gridmap.plans.PlanService.

Drawn shapes are GeoJSON files in EPSG:4326 lon/lat (a geometry, a Feature, or a
FeatureCollection of one feature).
"""

from __future__ import annotations

import json
from contextlib import contextmanager

import click

from ..i18n import tr
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
    click.echo(tr("draft %(plan)s rev %(rev)s: %(op)s", plan=out["plan"], rev=out["rev"], op=out["op"]) + (": " + "; ".join(parts) if parts else ""))
    for note in out["notes"]:
        click.echo(tr("  note: %(note)s", note=note))


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
        click.echo(tr("%(mark)s %(version)s  %(status)s  %(eff)s  rev %(rev)s  %(edits)s edits%(base)s", mark=mark, version=format(p.version, ">4"), status=format(p.status, "<9"), eff=format(eff, "<10"), rev=format(p.rev, "<3"), edits=p.edits, base=base) + (f'  {p.note}' if p.note else ""))


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
        click.echo(tr("  edit %(seq)s: %(op)s by %(v)s at %(at)s: %(v2)s -> %(v3)s", seq=e["seq"], op=e["op"], v=e["author"] or "-", at=e["at"], v2=", ".join(e["before_codes"]), v3=", ".join(e["after_codes"])))


@plan.command()
@click.option("--note", help="What the draft is for.")
@pass_ctx
@fail_cleanly
def new(obj: Context, note: str | None) -> None:
    """Start a draft: a copy of the plan in force."""
    with open_plans(obj) as svc:
        rec = svc.create(note=note)
    click.echo(tr("draft %(version)s created from plan %(base_version)s", version=rec.version, base_version=rec.base_version))


@plan.command()
@click.argument("version", type=int)
@pass_ctx
@fail_cleanly
def drop(obj: Context, version: int) -> None:
    """Delete a draft."""
    with open_plans(obj) as svc:
        svc.drop(version)
    click.echo(tr("draft %(version)s dropped", version=version))


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
    click.echo(tr("draft %(version)s rev %(rev)s: undid edit %(seq)s (%(op)s)", version=version, rev=out["rev"], seq=u["seq"], op=u["op"]))


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
        click.echo(tr("added     %(code)s  %(area_m2)s m²", code=x["code"], area_m2=format(x["area_m2"], ",.0f")) + (tr("  (from %(src)s)", src=src) if src else ""))
    for x in d["removed"]:
        dst = ", ".join(f"{f['code']} {f['area_m2']:,.0f} m²" for f in x["to"])
        click.echo(tr("removed   %(code)s  %(area_m2)s m²", code=x["code"], area_m2=format(x["area_m2"], ",.0f")) + (tr("  (to %(dst)s)", dst=dst) if dst else ""))
    for x in d["reshaped"]:
        click.echo(tr("reshaped  %(code)s  %(area_change_m2)s m²  (%(area_before_m2)s -> %(area_after_m2)s; %(changed_area_m2)s m² changed hands)", code=x["code"], area_change_m2=format(x["area_change_m2"], "+,.0f"), area_before_m2=format(x["area_before_m2"], ",.0f"), area_after_m2=format(x["area_after_m2"], ",.0f"), changed_area_m2=format(x["changed_area_m2"], ",.0f")))
    for x in d["renamed"]:
        click.echo(tr("renamed   %(code)s  %(name_before)s -> %(name_after)s", code=x["code"], name_before=x["name_before"], name_after=x["name_after"]))
    click.echo(tr("unchanged %(n)s grids", n=len(d["unchanged"])))


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
    click.echo(tr("plan %(version)s against plan %(against)s: %(added)s added, %(removed)s removed, %(reshaped)s reshaped, %(unchanged)s unchanged", version=version, against=r["against"], added=d["added"], removed=d["removed"], reshaped=d["reshaped"], unchanged=d["unchanged"]))
    h = r["households"]
    click.echo(tr("households moving: about %(households)s (by area share)", households=format(h["households"], ",")))
    for f in h["flows"]:
        click.echo(tr("  %(src)s -> %(to)s: %(households)s households, %(area_m2)s m²", src=f["from"], to=f["to"], households=format(f["households"], ","), area_m2=format(f["area_m2"], ",.0f")))
    click.echo(tr("open incidents moving: %(n)s of %(open)s", n=len(r["incidents"]["moving"]), open=r["incidents"]["open"]))
    for m in r["incidents"]["moving"]:
        click.echo(tr("  #%(id)s %(category)s: %(src)s -> %(to)s, assignee %(v)s", id=m["id"], category=m["category"], src=m["from"], to=m["to"], v=m["assignee"] or tr("nobody")))
    for s in r["staff_on_removed_grids"]:
        where = tr("placed in %(units)s", units=", ".join(s["placed_in"])) if s["placed_in"] else tr("not placed yet")
        click.echo(tr("staff on a removed grid: %(person_id)s %(name)s (%(role)s of %(unit_code)s), offered to %(v)s; %(where)s", person_id=s["person_id"], name=s["name"], role=s["role"], unit_code=s["unit_code"], v=", ".join(s["successors"]) or "-", where=where))
    for t in r["teams"]:
        what = dict(code=t["code"], problem=t["problem"], n=t["open_incidents"])
        if t["blocks_publish"]:
            click.echo(tr("team incomplete: %(code)s (new grid): %(problem)s; %(n)s open incident(s): blocks publishing", **what)
                       if t["new_grid"] else
                       tr("team incomplete: %(code)s: %(problem)s; %(n)s open incident(s): blocks publishing", **what))
        else:
            del what["n"]
            click.echo(tr("team incomplete: %(code)s (new grid): %(problem)s", **what) if t["new_grid"]
                       else tr("team incomplete: %(code)s: %(problem)s", **what))
    for code, team in r["new_and_changed_teams"].items():
        click.echo(tr("team of %(code)s: leader %(v)s, instructor %(v2)s, workers %(v3)s", code=code, v=", ".join(team["leader"]) or "-", v2=", ".join(team["instructor"]) or "-", v3=", ".join(team["worker"]) or "-"))
    for p in r["coverage"]:
        click.echo(tr("coverage: %(kind)s %(v)s %(area_m2)s m²", kind=p["kind"], v=",".join(p["codes"]) or p["parent"], area_m2=format(p["area_m2"], ",")))


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
    click.echo(tr("plan %(version)s published, in force from %(effective_from)s", version=version, effective_from=out["effective_from"]) + ("" if out["in_force"] else tr(" (later: run `gridmap incidents reroute` on that day)")))
    for r in out["rerouted"]:
        click.echo(tr("  re-routed #%(id)s: %(src)s -> %(to)s, assignee %(v)s", id=r["id"], src=r["from"], to=r["to"], v=r["assignee"] or tr("nobody")))
    for s in out["staff_on_removed_grids"]:
        click.echo(tr("  staff on a removed grid: %(person_id)s %(name)s (%(role)s of %(unit_code)s)", person_id=s["person_id"], name=s["name"], role=s["role"], unit_code=s["unit_code"]))
    if out["forced"]:
        click.echo(tr("  published with %(n)s coverage problem(s) and %(n2)s staffing gap(s) (--force%(v)s)", n=len(out["coverage"]), n2=len(out["staffing_gaps"]), v=": " + out["reason"] if out["reason"] else ""))


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
