"""Block-assignment files of a plan (plans/blocks.py) through a PlanService: export, and import into a draft.

`export(ps, n)`: the CSV of plan n. `import_(ps, text, into=None)`: the file checked against the
plan it applies to (draft `into`, else the newest published plan, copied into a new draft only
once the whole file is right), then written as one edit "blocks" of that draft.
"""

from __future__ import annotations

from ..errors import Conflict
from ..i18n import tr
from . import blocks


def export(ps, version: int) -> str:
    """`unit_code,grid_code` of plan `version`'s micro-grids."""
    ps.repo.get(version)
    return blocks.export_csv(ps.store.units(plan=version))


def import_(ps, text: str, into: int | None = None, note: str | None = None, author: str | None = None) -> dict:
    """Build a draft's grids from a block-assignment file; {"plan", "rev", "created_draft", "summary", ...}."""
    rows = blocks.read_csv(text)
    if into is not None:
        rec = ps.repo.get(into)
        if rec.status != "draft":
            raise Conflict(tr("plan %(into)s is published: import a block file into a draft (or leave out into)", into=into))
        source = into
    else:
        source = ps._latest_published()
    units = ps.store.units(plan=source)
    result, summary = blocks.build(units, rows)  # every check before anything is written
    created_draft = into is None
    version = ps.create(note=note or "分块文件导入 block-assignment import", author=author).version if created_draft else into
    revs = ps.repo.unit_revs(version)
    touched = {u.code for u in result.upserts} | set(result.deletes)
    try:
        rev = ps.repo.get(version).rev
        if touched:
            rev = ps.repo.apply_edit(version, "blocks", {"rows": len(rows)}, result.upserts, result.deletes,
                                     {c: revs[c] for c in touched if c in revs}, author=author)
    except Exception:
        if created_draft:
            ps.drop(version)  # nothing half-written: the new draft goes with the failed edit
        raise
    ps.services.forget_plan(version)
    return {"plan": version, "rev": rev, "created_draft": created_draft, "based_on": source, **summary,
            "notes": result.notes}
