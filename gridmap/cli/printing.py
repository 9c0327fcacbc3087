"""`gridmap print`: a patrol map PDF for one grid, or a map book for a zone, a town or everything."""

from __future__ import annotations

import click

from ..i18n import ntr, tr
from .context import Context, fail_cleanly, pass_ctx


@click.command(name="print")
@click.option("--grid", "grid_code", metavar="CODE", help="One grid: a single page.")
@click.option("--zone", "zone_code", metavar="CODE", help="Every grid of a zone: a map book.")
@click.option("--town", "town_code", metavar="CODE", help="Every grid of a town: a map book.")
@click.option("--all", "all_grids", is_flag=True, help="Every grid in the store: a map book.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="The PDF file to write.")
@click.option("--scale", type=click.IntRange(min=100), metavar="N",
              help="A fixed scale 1:N for every page, e.g. 10000 [default: each grid fills its page].")
@click.option("--paper", type=click.Choice(["A4", "A3"], case_sensitive=False),
              help="Paper of every page [default: A4; a single very elongated grid gets A3].")
@click.option("--orientation", type=click.Choice(["portrait", "landscape", "auto"]), default="auto",
              show_default=True, help="auto: whichever shows the grid largest.")
@click.option("--base-url", metavar="URL",
              help="Address of the web app, for the QR code to the report page [default: http://127.0.0.1:5000].")
@click.option("--roads", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help="GeoJSON road lines: the patrol route by road distance instead of straight lines.")
@click.option("--sites", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help="GeoJSON points: key sites (property name) and households (kind=household).")
@click.option("--tiles", metavar="TEMPLATE",
              help="Basemap tile source, a URL or path with {z}/{x}/{y} [default: none, a clean page].")
@click.option("--tiles-attribution", default="", metavar="TEXT", help="Credit line for the basemap.")
@click.option("--date", "date", type=click.DateTime(["%Y-%m-%d"]),
              help="Print date and first day of the roster week [default: today].")
@pass_ctx
@fail_cleanly
def print_(obj: Context, grid_code, zone_code, town_code, all_grids, out, scale, paper, orientation, base_url, roads,
           sites, tiles, tiles_attribution, date) -> None:
    """Patrol maps as a vector PDF: one grid (--grid), or a map book (--zone, --town, --all)."""
    from .. import printing

    services = obj.services()
    try:
        loop = services.incidents
        settings = services.settings
        book = printing.make_book(
            services, grid=grid_code, zone=zone_code, town=town_code, all_grids=all_grids,
            incident_repo=loop.repo, taxonomy=loop.taxonomy,
            base_url=base_url or settings.public_url or printing.DEFAULT_BASE_URL,
            paper=paper.upper() if paper else None, orientation=orientation, scale=scale,
            roads=printing.read_lines(roads) if roads else None,
            sites=printing.read_sites(sites) if sites else (),
            tiles=tiles or settings.tile_url or None, tile_attribution=tiles_attribution,
            today=date.date() if date else None,
        )
        size = printing.write_pdf(book, out)
    finally:
        services.store.close()
    for note in book.notes:
        click.echo(tr("warning: %(note)s", note=note), err=True)
    pages = len(book.sheets) + printing.overview_page_count(book)
    plan = tr("plan v%(version)s", version=book.plan_version) if book.plan_version is not None else tr("no plan")
    click.echo(tr("wrote %(out)s: %(pages)s, %(grids)s, %(kb)s KB (%(plan)s)", out=out, pages=ntr("%(n)s page", "%(n)s pages", pages), grids=ntr("%(n)s grid", "%(n)s grids", len(book.sheets)), kb=format(size / 1024, ",.0f"), plan=plan))
