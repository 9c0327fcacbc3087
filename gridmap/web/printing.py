"""Blueprint "printing": `/grids/<code>/patrol.pdf`, one grid's patrol map as a PDF.

The page shows staff names and phone numbers, so it needs a signed-in user or an API token;
staff users get only their own grids (or their zone's). The public (a resident following the
link on a grid page) gets a page saying why, with a sign-in link that comes back here. Query options: paper=A4|A3,
orientation=portrait|landscape|auto, scale=N (1:N). Without `public_url`, a request to
localhost prints QR codes nobody else can open: the response then carries a `Warning` header.
"""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request, url_for

from ..errors import Forbidden, InputError
from ..i18n import tr
from . import services

bp = Blueprint("printing", __name__)


@bp.get("/grids/<code>/patrol.pdf")
def patrol_pdf(code: str):
    """The patrol map of one grid (application/pdf); 404 for an unknown grid code."""
    from .. import printing
    from ..printing.localurl import local_qr_header
    from .auth import current_actor, require

    if current_actor().is_public:  # a friendly page with a sign-in link, not a bare 401
        return render_template("signin_needed.html", what_zh="巡查图含网格员姓名和电话，仅工作人员可以打开",
                               what_en="The patrol map shows the grid staff's names and phone numbers: staff only.",
                               login=url_for("pages.login", next=request.full_path.rstrip("?")),
                               back=url_for("maps.grid_page", code=code)), 401
    actor = require()
    svc = services()
    loop = svc.incidents
    unit = svc.store.unit(code)  # NotFound -> 404
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
    settings = svc.settings
    base_url = settings.public_url or request.url_root
    book = printing.make_book(svc, grid=code, incident_repo=loop.repo, taxonomy=loop.taxonomy,
                              base_url=base_url, paper=paper, orientation=orientation, scale=scale,
                              tiles=settings.tile_url or None)
    pdf = printing.patrol_pdf(book)
    headers = {"Content-Disposition": f'inline; filename="patrol-{unit.code}.pdf"', "Cache-Control": "private, no-store"}
    if book.qr_local_host:  # the page says so under the QR code too; the grid page says so by its link
        headers["Warning"] = local_qr_header(book.qr_local_host)
    return Response(pdf, mimetype="application/pdf", headers=headers)
