"""Writing an automatic proposal into a draft: the zone's grids replaced by the proposal's, one undoable edit.

Called through `PlanService.replace_zone`, so a proposal is written like every other plan edit:
drafts only (409 for a published plan), the unit revisions read are checked again inside the
store's transaction, the index of the draft is forgotten afterwards.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Sequence

from ..errors import Conflict
from ..i18n import tr
from ..registry.model import Unit

if TYPE_CHECKING:
    from .service import PlanService


def replace_zone(plans: "PlanService", version: int, zone: str, units: Sequence[Unit], keep: Sequence[str],
                 params: Mapping[str, Any], author: str | None = None) -> dict:
    """Replace the grids under `zone` in draft `version` by `units`; codes in `keep` stay as they are."""
    rec = plans.repo.get(version)
    if rec.status != "draft":
        raise Conflict(tr("plan %(version)s is published: edits go to a draft (gridmap plan new)", version=version))
    kept = set(keep)
    old = [u.code for u in plans.store.units(plan=version) if u.parent_code == zone]
    new = [u for u in units if u.code not in kept]
    deletes = [c for c in old if c not in kept]
    revs = plans.repo.unit_revs(version)
    touched = set(deletes) | {u.code for u in new}
    rev = plans.repo.apply_edit(version, "propose", dict(params), new, deletes,
                                {c: revs[c] for c in touched if c in revs}, author=author)
    plans.services.forget_plan(version)
    plans.services.refresh()
    return {"plan": version, "rev": rev, "created": sorted(u.code for u in new), "removed": sorted(deletes)}
