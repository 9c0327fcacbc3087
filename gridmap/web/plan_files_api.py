"""Blueprint "plan_files": block-assignment files and plan comparison, beside the plans API.

* `GET /api/v1/plans/<n>/blocks.csv` (any signed-in user or token): the plan as
  `unit_code,grid_code` of its micro-grids (plans/blocks.py), text/csv, UTF-8.
* `POST /api/v1/plans/blocks[?into=N&note=...]` (planner, admin): a block-assignment file as
  the body (text/csv) or as the multipart field "file"; builds the grids of draft N, or of a
  new draft copied from the newest published plan (201), as one undoable edit "blocks".
  A bad file is 422 naming its rows in "problems", and nothing is written.
* `GET /api/v1/plans/compare?a=M&b=N[&households=MIN-MAX]`: two plans side by side
  (plans/compare.py): the diff between them and the balance table of each. The page
  /planner/compare draws it (web/compare_page.py).
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from ..analysis import parse_range
from ..errors import InputError
from ..i18n import tr
from ..plans import blocks_io
from ..plans.compare import compare
from .auth import require
from .plans_api import WRITERS, plan_service

bp = Blueprint("plan_files", __name__)
MAX_FILE = 32 * 1024 * 1024


@bp.errorhandler(InputError)
def _bad_file(exc: InputError):
    from .errors import public_detail

    return jsonify({"status": 422, "title": "InputError", "detail": public_detail(exc),
                    "problems": exc.problems}), 422


@bp.get("/plans/<int:version>/blocks.csv")
def export_blocks(version: int):
    require()
    text = blocks_io.export(plan_service(), version)
    return Response(text.encode("utf-8"), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="plan-{version}-blocks.csv"'})


@bp.post("/plans/blocks")
def import_blocks():
    actor = require(*WRITERS)
    fs = request.files.get("file")
    raw = fs.read(MAX_FILE + 1) if fs is not None else request.get_data(cache=False)
    if not raw:
        raise InputError(tr("file: send a block-assignment CSV (unit_code,grid_code) as the body or field 'file'"))
    if len(raw) > MAX_FILE:
        raise InputError(tr("file: at most %(v)s MB", v=MAX_FILE // 2 ** 20))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(tr("file: the file must be UTF-8 text")) from None
    into = request.args.get("into")
    if into is not None:
        try:
            into = int(into)
        except ValueError:
            raise InputError(tr("into: a draft number, got %(into)r", into=into)) from None
    note = request.args.get("note") or (request.form.get("note") if fs is not None else None)
    out = blocks_io.import_(plan_service(), text, into=into, note=note, author=actor.name)
    return jsonify(out), 201 if out["created_draft"] else 200


@bp.get("/plans/compare")
def compare_plans():
    require()
    return jsonify(compare_data(request.args.get("a"), request.args.get("b"), request.args.get("households")))


def compare_data(a, b, households=None) -> dict:
    """The comparison of plans a and b (numbers as text from a query string)."""
    from ..analysis import default_households

    ps = plan_service()
    nums = []
    for name, value in (("a", a), ("b", b)):
        try:
            nums.append(int(value))
        except (TypeError, ValueError):
            raise InputError(tr("%(name)s: a plan number, got %(value)r", name=name, value=value)) from None
    return compare(ps, nums[0], nums[1], parse_range(households), default=default_households)
