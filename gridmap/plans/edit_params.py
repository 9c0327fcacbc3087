"""Checking the parameters of a plan edit: which units it names, the revisions the planner loaded, numbers, points, dates."""

from __future__ import annotations

import datetime as dt
from typing import Any, Mapping

import numpy as np

from .. import params
from ..errors import Conflict, InputError
from ..i18n import tr
from ..store.plan_records import PlanRecord


def named_codes(op: str, p: Mapping) -> list[str]:
    if op == "lock":
        return [str(c) for c in (p.get("codes") or []) if isinstance(c, str)]
    if op in ("split", "reshape", "rename", "staff"):
        return [str(p.get("code"))] + ([str(p["neighbour"])] if p.get("neighbour") else [])
    if op == "merge":
        return [str(c) for c in (p.get("codes") or [])]
    if op == "move":
        return [str(p.get("from")), str(p.get("to"))]
    return []


def check_revs(version: int, rec: PlanRecord, rev, named: list[str], revs: Mapping[str, int]) -> None:
    if rev is None:
        return
    if isinstance(rev, bool) or not isinstance(rev, (int, Mapping)):
        raise InputError(tr("rev: the draft's revision (a number) or {code: revision} of the units you loaded"))
    if isinstance(rev, int):
        if rev != rec.rev:
            raise Conflict(tr("draft %(version)s was changed by another planner (rev %(rev)s, you had %(rev2)s): reload and try again", version=version, rev=rec.rev, rev2=rev))
        return
    missing = [c for c in named if c not in rev]
    if missing:
        raise InputError(tr("rev: give the revision you loaded of %(missing)s", missing=", ".join(missing)))
    for code, have in rev.items():
        if code in revs and revs[code] != have:
            raise Conflict(tr("unit %(code)s was changed in draft %(version)s by another planner (rev %(v)s, you had %(have)s): reload and try again", code=code, version=version, v=revs[code], have=have))
        if code not in revs:
            raise Conflict(tr("unit %(code)s is no longer in draft %(version)s (another edit removed it): reload", code=code, version=version))


def loggable(p: Mapping) -> dict:
    """The edit's parameters for the log (drawn shapes kept: they document the edit)."""
    return {k: v for k, v in p.items() if k not in ("rev", "op")}


def whole_number(value: Any, name: str) -> int:
    out = params.integer(value, name)
    if out is None:
        raise InputError(tr("%(name)s: must be a whole number, got %(value)r", name=name, value=value))
    return out


def lonlat_points(value: Any) -> list[tuple[float, float]]:
    try:
        pts = [(float(x), float(y)) for x, y in value]
    except (TypeError, ValueError):
        raise InputError(tr("points: a list of [lon, lat] pairs")) from None
    if not all(np.isfinite(c) for xy in pts for c in xy):
        raise InputError(tr("points: coordinates must be finite numbers"))
    return pts


def effective_date(value: dt.date | str) -> dt.date:
    out = params.day(value, "effective_from")
    if out is None:
        raise InputError(tr("effective_from: must be a date YYYY-MM-DD, got ''"))
    return out
