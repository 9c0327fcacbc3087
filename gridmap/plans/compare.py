"""Two plans side by side: the diff between them (grids), and the household balance of each.

`compare(ps, a, b, households)` is the data of /planner/compare (and its .json twin):
{"a": side, "b": side, "diff": plan diff a -> b (plans/diff.py), "status": {"a": {code: kind},
"b": {code: kind}}, "targets": {"households": [min, max]}}, where a side is {"plan": record,
"balance": {"counts": {under, within, over, unknown}, "grids": [{code, name, parent_code,
households, balance, change}]}} and kind is removed | reshaped | renamed | unchanged on a's side,
added | reshaped | renamed | unchanged on b's. The balance rule is the planner page's
(min <= households <= max; default the median of both plans' grids ±25 %).
"""

from __future__ import annotations

from ..registry.model import Level
from .diff import diff_units

KINDS = ("under", "within", "over", "unknown")


def classify(households: int | None, rng) -> str:
    """under / within / over the households range (both ends within), unknown without a figure."""
    if households is None or rng is None:
        return "unknown"
    return "under" if households < rng[0] else ("over" if households > rng[1] else "within")


def compare(ps, a: int, b: int, households: tuple[float, float] | None = None, default=None) -> dict:
    """`default(households values) -> range`: the target when none is given (the planner page's)."""
    ra, rb = ps.repo.get(a), ps.repo.get(b)
    ua, ub = ps.store.units(level=Level.grid, plan=a), ps.store.units(level=Level.grid, plan=b)
    d = diff_units(ua, ub)
    rng = households or (default([u.households for u in ua + ub]) if default else None)
    sa, sb = {c: "unchanged" for c in d["unchanged"]}, {c: "unchanged" for c in d["unchanged"]}
    for r in d["removed"]:
        sa[r["code"]] = "removed"
    for r in d["added"]:
        sb[r["code"]] = "added"
    for kind in ("reshaped", "renamed"):  # a grid both reshaped and renamed shows as reshaped
        for r in d[kind]:
            sa.setdefault(r["code"], kind)
            sb.setdefault(r["code"], kind)

    def side(rec, units, status):
        rows = [{"code": u.code, "name": u.name, "parent_code": u.parent_code, "households": u.households,
                 "balance": classify(u.households, rng), "change": status.get(u.code, "unchanged")} for u in units]
        counts = {k: sum(1 for r in rows if r["balance"] == k) for k in KINDS}
        return {"plan": rec.as_dict(), "balance": {"counts": counts, "grids": rows}}

    return {"a": side(ra, ua, sa), "b": side(rb, ub, sb), "diff": {"from": a, "to": b, "level": "grid", **d},
            "status": {"a": sa, "b": sb},
            "targets": {"households": list(rng) if rng else None, "default": households is None}}
