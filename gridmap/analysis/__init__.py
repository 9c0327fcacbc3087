"""Planner tools: coverage check, balance, automatic proposals, merging networks (多网合一).

The analysis modules are pure functions over `Unit`s (any plan version: the caller picks the
units), so they work on a published plan, a draft, or units read from a file. Geometry is
worked in metres in a local equal-area frame (`geo.frame.MetricFrame`): areas are true ellipsoidal m²
(Lambert azimuthal equal-area on WGS84), never square degrees; results go back to lon/lat.
"""

from __future__ import annotations

import statistics

import numpy as np

from ..errors import InputError
from ..i18n import tr


def polsby_popper(area_m2, perimeter_m):
    """Compactness 4πA/P² (1 for a disc, ~0.785 for a square, near 0 for a sliver); metres."""
    area = np.asarray(area_m2, float)
    per = np.asarray(perimeter_m, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(per > 0, 4 * np.pi * area / (per * per), 0.0)


def parse_range(text: str | None, name: str = "households", integer: bool = True) -> tuple[float, float] | None:
    """'10-15' -> (10, 15); None/'' -> None; InputError naming the problem otherwise."""
    if text is None or str(text).strip() == "":
        return None
    raw = str(text).strip()
    parts = raw.split("-") if raw.count("-") == 1 else raw.split("..")
    try:
        lo, hi = (int(p) if integer else float(p) for p in (s.strip() for s in parts))
    except ValueError:
        raise InputError(tr("%(name)s range %(raw)r is not MIN-MAX (e.g. 10-15)", name=name, raw=raw)) from None
    if lo < 0 or hi <= 0:
        raise InputError(tr("%(name)s range %(raw)r: both ends must be positive", name=name, raw=raw))
    if lo > hi:
        raise InputError(tr("%(name)s range %(raw)r: the minimum %(lo)s is above the maximum %(hi)s (did you mean %(hi)s-%(lo)s?)", name=name, raw=raw, lo=lo, hi=hi))
    return (lo, hi)


def default_households(values) -> tuple[int, int] | None:
    """Median households ±25 %, rounded to 5: a starting target the planner then sets."""
    known = [v for v in values if v is not None]
    if not known:
        return None
    mid = statistics.median(known)
    lo, hi = 5 * round(mid * 0.75 / 5), 5 * round(mid * 1.25 / 5)
    return (max(lo, 1), max(hi, lo + 1, 2))
