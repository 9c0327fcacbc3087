"""`gridmap plan blocks-export|blocks-import|lock|compare`: block-assignment files, locks, comparison.

Block-assignment files are `unit_code,grid_code` CSV of a plan's micro-grids (plans/blocks.py),
the exchange format of redistricting tools.
"""

from __future__ import annotations

import sys

import click

from ..i18n import tr
from .context import Context, fail_cleanly, pass_ctx
from .plans import echo_json, open_plans, plan, report_edit, rev_option


@plan.command(name="blocks-export")
@click.argument("version", type=int)
@click.option("-o", "--out", "out_path", type=click.Path(dir_okay=False), help="Write here (default: stdout).")
@pass_ctx
@fail_cleanly
def blocks_export(obj: Context, version: int, out_path: str | None) -> None:
    """Write plan VERSION as unit_code,grid_code of its micro-grids."""
    from ..io.writers import atomic_path
    from ..plans import blocks_io

    with open_plans(obj) as svc:
        text = blocks_io.export(svc, version)
    if out_path is None:
        sys.stdout.write(text)
        return
    with atomic_path(out_path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
    click.echo(tr("%(v)s units of plan %(version)s written to %(out_path)s", v=text.count(chr(10)) - 1, version=version, out_path=out_path), err=True)


@plan.command(name="blocks-import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--into", type=int, help="The draft to build (default: a new draft from the newest published plan).")
@click.option("--note", help="The new draft's note.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
@fail_cleanly
def blocks_import(obj: Context, path: str, into: int | None, note: str | None, as_json: bool) -> None:
    """Build a draft's grids from a block-assignment CSV (unit_code,grid_code); all or nothing."""
    from ..errors import InputError
    from ..plans import blocks_io

    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            text = fh.read()
    except UnicodeDecodeError:
        raise InputError(tr("%(path)s: the file must be UTF-8 text", path=path)) from None
    with open_plans(obj) as svc:
        out = blocks_io.import_(svc, text, into=into, note=note)
    if as_json:
        return echo_json(out)
    made = tr("new draft") if out["created_draft"] else tr("draft")
    click.echo(tr("%(made)s %(plan)s rev %(rev)s (from plan %(based_on)s): %(rows)s rows, %(grids)s grids; created %(v)s; changed %(v2)s; removed %(v3)s", made=made, plan=out["plan"], rev=out["rev"], based_on=out["based_on"], rows=out["rows"], grids=out["grids"], v=", ".join(out["created"]) or "-", v2=", ".join(out["changed"]) or "-", v3=", ".join(out["removed"]) or "-"))


@plan.command()
@click.argument("version", type=int)
@click.argument("codes", nargs=-1, required=True)
@click.option("--unlock", is_flag=True, help="Unlock them instead.")
@rev_option
@pass_ctx
@fail_cleanly
def lock(obj: Context, version: int, codes: tuple[str, ...], unlock: bool, rev: int | None) -> None:
    """Lock grids of a draft (split, merge, reshape and move then refuse them; snap leaves them out)."""
    with open_plans(obj) as svc:
        report_edit(svc.edit(version, "lock", {"codes": list(codes), "locked": not unlock}, rev=rev))


@plan.command()
@click.argument("a", type=int)
@click.argument("b", type=int)
@click.option("--households", help="Target MIN-MAX (default: the median ±25 %).")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
@fail_cleanly
def compare(obj: Context, a: int, b: int, households: str | None, as_json: bool) -> None:
    """Plans A and B side by side: what changed, and the household balance of each."""
    from ..analysis import default_households, parse_range
    from ..plans.compare import compare as compare_plans

    with open_plans(obj) as svc:
        out = compare_plans(svc, a, b, parse_range(households), default=default_households)
    if as_json:
        return echo_json(out)
    s = out["diff"]["summary"]
    click.echo(tr("plan %(a)s -> %(b)s: ", a=a, b=b) + ", ".join((f'{k} {v}' for k, v in s.items())))
    click.echo(tr("target %(households)s", households=out["targets"]["households"]))
    for side in ("a", "b"):
        c = out[side]["balance"]["counts"]
        click.echo(tr("  %(version)s: %(n)s grids; ", version=out[side]["plan"]["version"], n=len(out[side]["balance"]["grids"])) + ", ".join((f'{k} {v}' for k, v in c.items())))
