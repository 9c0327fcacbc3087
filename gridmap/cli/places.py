"""`gridmap places import FILE`: named points for the search box (the offline gazetteer)."""

from __future__ import annotations

import click

from ..i18n import tr
from .context import Context, fail_cleanly, pass_ctx


@click.group()
def places() -> None:
    """The offline gazetteer behind the report page's and the map's search box."""


@places.command(name="import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--crs", help="CRS of the file (CSV needs one; GCJ-02 and BD-09 accepted; overrides GeoJSON's WGS84).")
@click.option("--name-field", default="name", show_default=True, help="Column with the place name.")
@click.option("--kind-field", default="kind", show_default=True, help="Column with the kind (village, poi, ...), if any.")
@click.option("--code-field", default="code", show_default=True, help="Column with a code, if any.")
@click.option("--kind", "default_kind", default="place", show_default=True, help="Kind of places without one.")
@click.option("--replace", is_flag=True, help="First drop the places imported earlier from a file of this name.")
@click.option("--dry-run", is_flag=True, help="Check the file and write nothing.")
@pass_ctx
@fail_cleanly
def import_(obj: Context, path, crs, name_field, kind_field, code_field, default_kind, replace, dry_run) -> None:
    """Import named points from GeoJSON, GeoPackage, Shapefile or CSV (lon,lat) in any CRS; all or nothing."""
    from ..registry.places import import_places

    services = obj.services(create=True)
    try:
        got = import_places(services, path, crs=crs, name_field=name_field, kind_field=kind_field,
                            code_field=code_field, default_kind=default_kind, replace=replace, dry_run=dry_run)
    finally:
        services.store.close()
    click.echo(tr("%(v)s %(n)s places from %(path)s", v=tr("would import") if dry_run else tr("imported"), n=len(got), path=path))
