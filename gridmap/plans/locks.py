"""Locked grids of a draft: kept as they are by every geometry edit (and by the automatic proposal).

A lock is the unit property "locked": true, written by the edit op "lock" ({"codes": [...],
"locked": true | false}), so it is in the edit log, undone by undo and checked by the unit
revisions like any other edit. Split, merge, reshape and move refuse to change a locked grid
(422 naming it); snap leaves locked grids out; rename and staffing are allowed.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Iterable, Mapping, Sequence

from ..errors import InputError
from ..i18n import tr
from ..registry.model import Unit
from .edits import EditResult

GEOMETRY_OPS = ("split", "merge", "reshape", "move")
MAX_CODES = 20000


def is_locked(unit: Unit) -> bool:
    return bool((unit.properties or {}).get("locked"))


def lock_codes(p: Mapping) -> tuple[list[str], bool]:
    """The codes and the wanted state of a lock edit (InputError naming what is wrong)."""
    codes, locked = p.get("codes"), p.get("locked", True)
    if not isinstance(codes, list) or not codes or not all(isinstance(c, str) and c for c in codes):
        raise InputError(tr("lock: codes must list the grids to lock or unlock"))
    if len(codes) > MAX_CODES:
        raise InputError(tr("lock: at most %(MAX_CODES)s codes in one edit, got %(n)s", MAX_CODES=MAX_CODES, n=len(codes)))
    if not isinstance(locked, bool):
        raise InputError(tr("lock: locked must be true (lock) or false (unlock)"))
    return list(dict.fromkeys(codes)), locked


def lock(units: Sequence[Unit], codes: Sequence[str], locked: bool) -> EditResult:
    """Set or clear the lock of the given units; units already in that state are left alone."""
    found = {u.code for u in units}
    missing = [c for c in codes if c not in found]
    if missing:
        raise InputError(tr("lock: no such grid in the draft: %(v)s", v=", ".join(missing[:10])) + (f' (+{len(missing) - 10})' if len(missing) > 10 else ""))
    out = []
    for u in units:
        if is_locked(u) == locked:
            continue
        props = dict(u.properties or {})
        if locked:
            props["locked"] = True
        else:
            props.pop("locked", None)
        out.append(replace(u, properties=props))
    word = "锁定 locked" if locked else "解锁 unlocked"
    return EditResult(upserts=out, notes=[f"{word}: {len(out)} 个网格 grid(s)"
                                          + (f"; {len(codes) - len(out)} 个本已如此 already so" if len(codes) > len(out) else "")])


def refuse_locked(op: str, before: Iterable[Unit]) -> None:
    """InputError if a geometry edit would change or remove a locked grid."""
    if op not in GEOMETRY_OPS:
        return
    hit = sorted(u.code for u in before if is_locked(u))
    if hit:
        raise InputError(tr("Grid %(hit)s is locked: unlock it before redrawing it.", hit=", ".join(hit)))
