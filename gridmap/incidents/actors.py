"""Who is acting, and what each role may see and do.

Roles: admin, planner, dispatcher, staff (grid or zone staff, scoped to their own units),
leader (领导: reads the dashboard, maps, metrics and board, acts on nothing and sees no personal
data of reporters), and the public (anonymous residents). A reporter proves ownership of a report with the
secret token returned when it was filed, to reopen or rate it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import Forbidden
from ..i18n import tr
from .model import Incident

ROLES = ("admin", "planner", "dispatcher", "staff", "leader")
ROLE_LABELS = {"admin": "管理员 admin", "planner": "规划员 planner", "dispatcher": "调度员 dispatcher",
               "staff": "网格员 staff", "leader": "领导 leader", "public": "公众 public"}
# Who may open which signed-in page (the pages say so to other roles instead of bouncing them).
PAGE_ROLES = {"board": ROLES, "dashboard": ROLES, "planner": ("planner", "admin")}
# Who needs which right, named as the refusal says it: "需要规划员权限".
RIGHT_NAMES = {"planner": "规划员 planner", "dispatcher": "调度员 dispatcher", "admin": "管理员 admin"}
READ_ONLY_ROLES = ("planner", "leader")  # see the queue, take no action on it
REPORTER_FIELDS = ("reporter_name", "reporter_phone")  # personal data a leader never sees
STAFF_ACTIONS = {"start", "handle", "escalate", "extend"}
REPORTER_ACTIONS = {"reopen", "rate"}


@dataclass(frozen=True)
class Actor:
    """The user behind a request. `units` are the unit codes a staff member serves."""

    name: str
    role: str  # admin | planner | dispatcher | staff | leader | public | system
    person_id: str | None = None
    units: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_public(self) -> bool:
        return self.role == "public"


PUBLIC = Actor("public", "public")
SYSTEM = Actor("system", "system")


def can_see(actor: Actor, inc: Incident) -> bool:
    """Full view (with personal data) of an incident: office roles, or staff of its grid/zone."""
    if actor.role in ("admin", "dispatcher", "planner", "system"):
        return True
    if actor.role == "staff":
        return bool({inc.grid_code, inc.zone_code} & actor.units)
    return False


def can_read(actor: Actor, inc: Incident) -> bool:
    """The office view of an incident: everyone who `can_see` it, and leaders without reporters' data."""
    return actor.role == "leader" or can_see(actor, inc)


def check_action(actor: Actor, inc: Incident, action: str, reporter_token_ok: bool = False) -> None:
    """Raise Forbidden unless this actor may take this action on this incident."""
    if actor.role in ("admin", "dispatcher", "system"):
        return
    if action in REPORTER_ACTIONS and reporter_token_ok:
        return
    if actor.role == "staff" and action in STAFF_ACTIONS:
        if can_see(actor, inc):
            return
        raise Forbidden(tr("incident %(id)s is not in your grids", id=inc.id))  # no other grid's code
    if actor.is_public and action in REPORTER_ACTIONS:
        raise Forbidden(tr("to %(action)s incident %(id)s give the reporter token you received when reporting it", action=action, id=inc.id))
    raise Forbidden(tr("a %(role)s may not %(action)s incidents", role=actor.role, action=action))
