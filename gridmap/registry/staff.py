"""Staff files and the 1+1+N rule (one leader, one instructor, at least one worker per grid)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..errors import InputError
from ..i18n import tr
from .model import GRID_ROLES, ROLE_LABELS, ROLE_LEVELS, ZONE_ROLES, Level, Person, Role

STAFF_COLUMNS = ["person_id", "name", "phone", "unit_code", "role"]
_ROLE_BY_LABEL = {label: key for key, label in ROLE_LABELS.items()}
_PHONE = re.compile(r"^\+?[\d\- ]{5,20}$")


@dataclass(frozen=True)
class TeamProblem:
    """A unit whose team breaks its rule, e.g. a grid without an instructor."""

    code: str
    name: str
    level: str
    problem: str
    counts: dict[str, int]


def read_staff_csv(path: str | Path, levels: dict[str, Level]) -> tuple[list[Person], list[Role]]:
    """Parse and validate a staff CSV against the store's units; InputError lists every bad row."""
    path = Path(path)
    if not path.exists():
        raise InputError(tr("%(path)s: no such file", path=path))
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(tr("%(path)s is not a readable UTF-8 CSV file: %(exc)s", path=path, exc=exc)) from None
    missing = [c for c in STAFF_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(tr("%(path)s lacks column(s) %(missing)s; a staff file has %(STAFF_COLUMNS)s", path=path, missing=', '.join(missing), STAFF_COLUMNS=', '.join(STAFF_COLUMNS)))
    problems: list[str] = []
    people: dict[str, Person] = {}
    roles: dict[tuple[str, str, str], Role] = {}
    for i, rec in enumerate(table[STAFF_COLUMNS].to_dict(orient="records"), start=2):
        pid, name, phone = rec["person_id"].strip(), rec["name"].strip(), rec["phone"].strip()
        code, role = rec["unit_code"].strip(), rec["role"].strip()
        role = _ROLE_BY_LABEL.get(role, role)
        where = f"row {i} ({pid or 'no id'})"
        if not pid or not name:
            problems.append(tr("%(where)s: person_id and name are required", where=where))
            continue
        if phone and not _PHONE.match(phone):
            problems.append(tr("%(where)s: phone %(phone)r is not a phone number", where=where, phone=phone))
        known = people.get(pid)
        if known and (known.name != name or (phone and known.phone and known.phone != phone)):
            problems.append(tr("%(where)s: person %(pid)s appears with different name/phone (%(name)s %(phone)s)", where=where, pid=pid, name=known.name, phone=known.phone))
        people.setdefault(pid, Person(pid, name, phone or None))
        if not code and not role:
            continue  # a person with no role yet
        if role not in ROLE_LEVELS:
            problems.append(tr("%(where)s: unknown role %(role)r; use one of %(ROLE_LEVELS)s", where=where, role=role, ROLE_LEVELS=', '.join(ROLE_LEVELS)))
        elif code not in levels:
            problems.append(tr("%(where)s: unit %(code)r is not in the store", where=where, code=code))
        elif levels[code] not in ROLE_LEVELS[role]:
            problems.append(tr("%(where)s: role %(role)s belongs to a %(v)s, but %(code)s is a %(value)s", where=where, role=role, v="/".join((lv.value for lv in ROLE_LEVELS[role])), code=code, value=levels[code].value))
        elif (pid, code, role) in roles:
            problems.append(tr("%(where)s: %(pid)s is listed twice as %(role)s of %(code)s", where=where, pid=pid, role=role, code=code))
        else:
            roles[(pid, code, role)] = Role(pid, code, role)
    if problems:
        raise InputError(tr("%(path)s: %(problems)s problems; nothing was written", path=path, problems=len(problems)), problems)
    return list(people.values()), list(roles.values())


def team_problems(units: list[tuple[str, str, Level]], roles: list[Role]) -> list[TeamProblem]:
    """Grids breaking 1+1+N, and zones lacking a secretary or a director.

    `units` is (code, name, level) of every grid, micro-grid and zone to check.
    """
    counts: dict[str, dict[str, int]] = {}
    for r in roles:
        c = counts.setdefault(r.unit_code, {})
        c[r.role] = c.get(r.role, 0) + 1
    out = []
    for code, name, level in units:
        c = counts.get(code, {})
        if level in (Level.grid, Level.micro):
            shown = {k: c.get(k, 0) for k in GRID_ROLES}
            msgs = []
            if shown["leader"] != 1:
                msgs.append(f"{shown['leader']} leaders (网格长), needs exactly 1")
            if shown["instructor"] != 1:
                msgs.append(f"{shown['instructor']} instructors (网格指导员), needs exactly 1")
            if shown["worker"] < 1:
                msgs.append("no workers (网格员), needs at least 1")
        elif level == Level.zone:
            shown = {k: c.get(k, 0) for k in ZONE_ROLES}
            msgs = [f"no {k} ({ROLE_LABELS[k]})" for k in ("zone_secretary", "zone_director") if shown[k] < 1]
        else:
            continue
        if msgs:
            out.append(TeamProblem(code, name, level.value, "; ".join(msgs), shown))
    return out
