"""Least privilege (issue #15): which role sees which class of data, as one table.

The serialisers and views ask `sees()` / `level()`; the README's table is `markdown_table()`
(a test checks the README holds exactly it), and a table-driven test requests every data
class as every role and compares what comes back with this table.

Levels: "all" (every record), "own" (only the records of the actor's own grids / zone, or
their own person: a grid worker's own metrics row), "none" (refused, or the fields left out).
A role not in a row sees nothing of it. The read-only `leader` reads the dashboard, maps, metrics
and board, acts on nothing and sees no personal data of reporters.
"""

from __future__ import annotations

from typing import Iterable

from .i18n import current_locale, tr

ALL, OWN, NONE = "all", "own", "none"

# the columns of the table; "reporter" is the public holding the token of their own report
ROLES = ("public", "reporter", "staff", "dispatcher", "planner", "leader", "admin")

# data class: (中文, English, where it shows)
DATA: dict[str, tuple[str, str, str]] = {
    "incident_public": ("事件公开信息", "an incident's category, status, place and times",
                        "`/api/v1/incidents/<id>`, `/status/<id>`, Open311, OGC API"),
    "incident_internal": ("事件处置信息", "assignee, handling level, department, audit log",
                          "`/api/v1/incidents` (signed in), `/board`, `/api/v1/incidents/<id>/events`"),
    "reporter_personal": ("报事人个人信息", "the reporter's name and phone, Open311 e-mail and device",
                          "`/api/v1/incidents`, `/api/v1/incidents/<id>`, `/board`"),
    "metrics_units": ("网格、管区考核指标", "metrics by grid, zone, town, category, month",
                      "`/api/v1/metrics?by=grid`, `zone`, `town`, `category`, `month`, `all`"),
    "metrics_workers": ("网格员个人考核指标", "metrics per worker", "`/api/v1/metrics?by=worker`"),
    "roster": ("值班表", "the duty roster: who is on shift where", "`GET /api/v1/roster`"),
    "staff_phones": ("网格员电话", "grid staff's phones; their names are public, as on the street's 公示牌",
                     "`/map`, `/grids/<code>` and their `.json`"),
}

MATRIX: dict[str, dict[str, str]] = {
    #                     public reporter staff dispatcher planner leader admin
    "incident_public": dict(zip(ROLES, (ALL, ALL, ALL, ALL, ALL, ALL, ALL))),
    "incident_internal": dict(zip(ROLES, (NONE, NONE, OWN, ALL, ALL, ALL, ALL))),
    "reporter_personal": dict(zip(ROLES, (NONE, NONE, OWN, ALL, NONE, NONE, ALL))),
    "metrics_units": dict(zip(ROLES, (NONE, NONE, OWN, ALL, ALL, ALL, ALL))),
    "metrics_workers": dict(zip(ROLES, (NONE, NONE, OWN, ALL, NONE, ALL, ALL))),
    "roster": dict(zip(ROLES, (NONE, NONE, OWN, ALL, NONE, ALL, ALL))),
    "staff_phones": dict(zip(ROLES, (NONE, NONE, ALL, ALL, ALL, ALL, ALL))),
}

def level(role: str, data: str) -> str:
    """The level of access `role` has to `data` ("none" for a role or a class the table lacks)."""
    if role == "system":  # the CLI and cron jobs
        return ALL
    return MATRIX.get(data, {}).get(role, NONE)


def sees(actor, data: str, units: Iterable[str | None] = (), person: str | None = None) -> bool:
    """Whether `actor` sees a record of `data` belonging to `units` (its grid, zone, town) or `person`."""
    lv = level(actor.role, data)
    if lv == ALL:
        return True
    if lv == OWN:
        return bool(set(u for u in units if u) & set(actor.units)) or (person is not None and person == actor.person_id)
    return False


def require_level(actor, data: str) -> str:
    """The actor's level for `data`; Forbidden (Unauthorized for the public) when it is "none"."""
    from .errors import Forbidden, Unauthorized

    lv = level(actor.role, data)
    if lv == NONE:
        zh, en, _where = DATA[data]
        if actor.role == "public":
            raise Unauthorized(tr("log in to see %(what)s", what=en if current_locale() == "en" else zh))
        raise Forbidden(tr("a %(role)s may not see %(what)s", role=actor.role, what=en if current_locale() == "en" else zh))
    return lv


def markdown_table() -> str:
    """The README's table (roles × data classes)."""
    head = "| data 数据 | where | " + " | ".join(ROLES) + " |"
    rule = "| --- | --- | " + " | ".join("---" for _ in ROLES) + " |"
    rows = [f"| {zh} ({en}) | {where} | " + " | ".join(MATRIX[name][r] for r in ROLES) + " |"
            for name, (zh, en, where) in DATA.items()]
    return "\n".join([head, rule, *rows])
