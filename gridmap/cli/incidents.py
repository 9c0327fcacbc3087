"""`gridmap incidents ...` and `gridmap users ...`: thin commands over the incident service."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..i18n import tr
from .context import Context, fail_cleanly, pass_ctx, progress


def _loop(obj: Context, create: bool = False):
    return obj.services(create=create).incidents


@click.group()
def incidents() -> None:
    """Incidents: bulk import, lists, supervision, re-routing, metrics."""


@incidents.command(name="import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--skip-bad", is_flag=True, help="Import the good rows and report the bad ones (default: all or nothing).")
@click.option("--errors", "errors_path", type=click.Path(dir_okay=False), help="Write the per-row error report here.")
@click.option("--dry-run", is_flag=True)
@pass_ctx
@fail_cleanly
def import_incidents(obj: Context, path, skip_bad, errors_path, dry_run) -> None:
    """Bulk import historical or hotline records from CSV (category, lon, lat, reported_at, ...).

    Streamed in batches (memory flat in the file's length) inside one transaction: a bad row
    without --skip-bad, an error or a killed process leaves nothing written.
    """
    import contextlib

    from ..errors import InputError
    from ..incidents.bulk import count_rows, import_csv
    from ..incidents.model import Event
    from ..store.bulkload import MIN_ROWS

    svc = _loop(obj, create=True)
    name = Path(path).name

    details = {"file": name}  # one object for every event: stored as one JSON text (store.bulk._json_same)

    def items(good):
        return [(i, Event("", i.reported_at, "import", "import", None, i.status, "", details), None) for i in good]

    with contextlib.ExitStack() as stack:
        fh = stack.enter_context(open(path, encoding="utf-8-sig", newline=""))
        opened: list = []

        def errors(problems: list[str]) -> None:  # the file is written only if some row is bad
            if not opened:
                opened.append(stack.enter_context(open(errors_path, "w", encoding="utf-8")))
            opened[0].write("\n".join(problems) + "\n")

        total = count_rows(path)
        write = None if dry_run else stack.enter_context(svc.repo.writer(expected=total))
        result = import_csv(svc, fh, None if write is None else (lambda good: write(items(good))),
                            total=total, progress=progress(tr("import"), unit="row"),
                            errors=errors if errors_path else None)
        if result.bad and not skip_bad:  # raised inside the transaction: it rolls back
            raise InputError(tr("%(path)s: %(bad)s of %(rows)s rows are bad; nothing was written (fix them, or pass --skip-bad)", path=path, bad=format(result.bad, ","), rows=format(result.rows, ",")), result.problems)
        if write is not None and result.good >= MIN_ROWS and click.get_text_stream("stderr").isatty():
            # the bar is full, the commit is not: indexes, roll-ups and statistics take their time
            click.echo(tr("Finishing the import (indexes, roll-ups and statistics: about a minute for 1,000,000 rows)..."), err=True)
    counts = {"good": format(result.good, ","), "path": path, "bad": format(result.bad, ",")}
    said = (tr("dry run: would import %(good)s incidents from %(path)s; %(bad)s bad rows", **counts) if dry_run
            else tr("imported %(good)s incidents from %(path)s; %(bad)s bad rows", **counts))
    click.echo(said + (tr(" (see %(errors_path)s)", errors_path=errors_path) if errors_path and result.bad else ""))


@incidents.command(name="prune-photos")
@click.option("--older-than-hours", default=1.0, show_default=True,
              help="Only files older than this: a report being filed now is never touched.")
@click.option("--dry-run", is_flag=True, help="List what would be removed and remove nothing.")
@pass_ctx
@fail_cleanly
def prune_photos(obj: Context, older_than_hours, dry_run) -> None:
    """Remove photo files no incident names (a process killed mid-report leaves them) from the photo folder."""
    from ..incidents.photo_intake import prune

    svc = _loop(obj)
    try:
        gone = prune(svc.services.settings, svc.repo, older_than_hours * 3600, dry_run=dry_run)
    finally:
        svc.services.store.close()
    for f in gone:
        click.echo(f)
    click.echo(tr("would remove %(n)s file(s)", n=len(gone)) if dry_run else tr("removed %(n)s file(s)", n=len(gone)))


@incidents.command(name="list")
@click.option("--status", default="open", show_default=True, help="open, or comma-separated statuses.")
@click.option("--grid", help="Only this grid.")
@click.option("--limit", default=50, show_default=True)
@pass_ctx
@fail_cleanly
def list_incidents(obj: Context, status, grid, limit) -> None:
    """List incidents, newest first."""
    from ..incidents.model import OPEN_STATUSES

    svc = _loop(obj)
    statuses = list(OPEN_STATUSES) if status == "open" else status.split(",")
    for i in svc.repo.query(status=statuses, grid_codes=[grid] if grid else None, limit=limit):
        due = f" due {i.due_at.astimezone(svc.tz):%m-%d %H:%M}" if i.due_at else ""
        click.echo(f"{i.id:>7} {i.reported_at.astimezone(svc.tz):%Y-%m-%d %H:%M} {i.status:11s} {i.grid_code or '-':15s} "
                   f"{i.category}{due}")


@incidents.command()
@pass_ctx
@fail_cleanly
def supervise(obj: Context) -> None:
    """Escalate every open incident past its time limit (run it from cron)."""
    done = _loop(obj).supervise()
    click.echo(tr("escalated %(n)s overdue incidents", n=len(done)) + (": " + ", ".join((i.id for i in done)) if done else ""))


@incidents.command()
@pass_ctx
@fail_cleanly
def reroute(obj: Context) -> None:
    """After a grid plan change: move open incidents to the grids now containing them.

    A plan published for a later date brings its 1+1+N teams into force first, so the
    re-routed incidents go to the new teams.
    """

    for version in obj.services().plans.apply_due_teams():
        click.echo(tr("teams of plan %(version)s in force", version=version))
    moved = _loop(obj).reroute_open()
    for inc, old in moved:
        click.echo(f"{inc.id}: {old} -> {inc.grid_code}")
    click.echo(tr("re-routed %(n)s open incidents", n=len(moved)))


@incidents.command()
@click.option("--by", type=click.Choice(["grid", "zone", "town", "worker", "category", "all", "month"]), default="zone",
              show_default=True, help="Group by (month: YYYY-MM of the report, local time).")
@click.option("--from", "start", required=True, type=click.DateTime(["%Y-%m-%d"]))
@click.option("--to", "end", required=True, type=click.DateTime(["%Y-%m-%d"]))
@click.option("--history", type=click.Path(exists=True, file_okay=False),
              help="Compute on Dask over this folder of Parquet partitions (see `incidents export-history`) "
                   "instead of the store: for histories too large for one machine.")
@click.option("--scheduler", help="With --history: Dask scheduler address (default: DASK_SCHEDULER_ADDRESS, else a local cluster).")
@click.option("--workers", type=int, help="With --history and no scheduler: local workers (default: one per core).")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
@fail_cleanly
def metrics(obj: Context, by, start, end, history, scheduler, workers, as_json) -> None:
    """结案率, 按期结案率, 返工率, 延期率, time to close, satisfaction and the hotline's 三率 per group."""
    from ..errors import InputError
    from ..incidents.metrics import rank_zones

    settings = obj.settings()
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(settings.timezone)
    start, end = start.replace(tzinfo=tz), end.replace(tzinfo=tz)
    if not start < end:
        raise InputError(tr("--from %(start)s must be before --to %(end)s", start=format(start, "%Y-%m-%d"), end=format(end, "%Y-%m-%d")))
    hotline = None
    if history:
        from ..scale.cluster import dask_client
        from ..scale.dask_metrics import BY, compute_metrics, read_history

        if by not in BY:
            raise InputError(tr("--by %(by)s is not available with --history (one of %(BY)s)", by=by, BY=", ".join(BY)))
        with dask_client(scheduler, workers, processes=False):
            rows = compute_metrics(read_history(history), by, start, end, tz=settings.timezone)
    else:
        from ..incidents.metrics_db import compute_db

        # the database computes the sums: nothing is loaded into Python, and no web app is imported
        repo = obj.services().store.incidents
        rows, hotline = compute_db(repo, by, start, end, tz=tz,
                                   response_limit_hours=settings.response_limit_hours)
    if as_json:
        out = [r.__dict__ | ({k: v for k, v in h.__dict__.items() if k != "key"} if hotline else {})
               for r, h in zip(rows, hotline or rows)]
        click.echo(json.dumps(out, ensure_ascii=False, default=str, indent=1))
        return
    pct = lambda v: "   -" if v is None else f"{v * 100:3.0f}%"
    heads = (tr("count"), tr("due"), tr("closed"), tr("on time"), tr("rework"), tr("extended"), tr("rating"))
    three = (" " + " ".join(f"{h:>4}" for h in (tr("response"), tr("resolved"), tr("satisfied")))) if hotline else ""
    click.echo(f"{by:16s} {heads[0]:>6} {heads[1]:>5} {heads[2]:>5} {heads[3]:>5} {heads[4]:>5} {heads[5]:>5} "
               f"{'p90 h':>6} {heads[6]:>5}" + three)
    for r, h in zip(rows, hotline or [None] * len(rows)):
        p90 = "-" if r.p90_hours_to_close is None else f"{r.p90_hours_to_close:.1f}"
        sat = "-" if r.satisfaction is None else f"{r.satisfaction:.2f}"
        rates = (f" {pct(h.response_rate):>6} {pct(h.resolution_rate):>6} {pct(h.satisfaction_rate):>6}"
                 if h is not None else "")
        click.echo(f"{str(r.key):16s} {r.count:6d} {r.due:5d} {pct(r.closure_rate):>6} {pct(r.on_time_rate):>6} "
                   f"{pct(r.rework_rate):>6} {pct(r.extension_rate):>6} {p90:>6} {sat:>6}" + rates)
    if by == "zone":
        flagged = [z["key"] for z in rank_zones(rows) if z["flag_lowest_satisfaction"]]
        if flagged:
            click.echo(tr("lowest satisfaction: %(flagged)s", flagged=", ".join(flagged)))


@incidents.command(name="export-history")
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--rows-per-partition", type=int, default=1_000_000, show_default=True)
@pass_ctx
@fail_cleanly
def export_history(obj: Context, out, rows_per_partition) -> None:
    """Write every incident as GeoParquet partitions for `incidents metrics --history` on Dask."""
    from ..scale.dask_metrics import export_history as export

    parts = export(obj.services().store, out, rows_per_partition)
    click.echo(tr("wrote %(parts)s partitions to %(out)s", parts=parts, out=out))
