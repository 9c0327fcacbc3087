"""Blueprint "printing": `/grids/<code>/patrol.pdf`, one grid's patrol map as a PDF.

The page shows staff names and phone numbers, so it needs a signed-in user or an API token;
staff users get only their own grids (or their zone's). Query options: paper=A4|A3,
orientation=portrait|landscape|auto, scale=N (1:N).
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request

from ..errors import Forbidden, InputError
from ..i18n import tr

bp = Blueprint("printing", __name__)


@bp.get("/grids/<code>/patrol.pdf")
def patrol_pdf(code: str):
    """The patrol map of one grid (application/pdf); 404 for an unknown grid code."""
    from .. import printing
    from .auth import require

    actor = require()
    services = current_app.extensions["gridmap"]
    loop = current_app.extensions["gridmap.incidents"]
    unit = services.store.unit(code)  # NotFound -> 404
    if actor.role == "staff" and not ({unit.code, unit.parent_code} & actor.units):
        raise Forbidden(tr("grid %(code)s is not one of yours", code=code))
    paper = (request.args.get("paper") or "").upper() or None
    orientation = request.args.get("orientation") or "auto"
    scale = request.args.get("scale")
    if paper not in (None, "A4", "A3"):
        raise InputError(tr("paper: %(paper)r is not A4 or A3", paper=paper))
    if orientation not in ("portrait", "landscape", "auto"):
        raise InputError(tr("orientation: %(orientation)r is not portrait, landscape or auto", orientation=orientation))
    if scale is not None:
        if not scale.isdigit() or int(scale) < 100:
            raise InputError(tr("scale: %(scale)r is not a whole number of at least 100 (for 1:N)", scale=scale))
        scale = int(scale)
    settings = services.settings
    base_url = getattr(settings, "public_url", "") or request.url_root
    book = printing.make_book(services, grid=code, incident_repo=loop.repo, taxonomy=loop.taxonomy,
                              base_url=base_url, paper=paper, orientation=orientation, scale=scale,
                              tiles=getattr(settings, "tile_url", "") or None)
    pdf = printing.patrol_pdf(book)
    return Response(pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="patrol-{unit.code}.pdf"',
                             "Cache-Control": "private, no-store"})
