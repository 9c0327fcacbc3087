"""The closed loop as a state machine: which action may move an incident from which status.

reported → filed (or rejected / merged as a duplicate) → dispatched → in_progress → handled
→ verified → closed; handled → in_progress when verification returns it for rework; closed →
dispatched when the reporter reopens it. Transfer, escalate and extend keep the status.
An impossible action raises Conflict (HTTP 409) before anything changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import Conflict
from ..i18n import tr


@dataclass(frozen=True)
class Action:
    """An action, the statuses it may start from, and the status it leads to (None: unchanged)."""

    name: str
    label: str
    sources: tuple[str, ...]
    target: str | None
    needs_note: bool = False  # a reason is required (reject, transfer, rework...)


ACTIONS: dict[str, Action] = {a.name: a for a in [
    Action("file", "立案", ("reported",), "filed"),
    Action("reject", "不予立案", ("reported",), "rejected", needs_note=True),
    Action("merge", "合并重复", ("reported", "filed"), "merged"),
    Action("dispatch", "派遣", ("filed",), "dispatched"),
    Action("start", "开始处置", ("dispatched",), "in_progress"),
    Action("handle", "处置完成", ("in_progress",), "handled"),
    Action("verify", "核查通过", ("handled",), "verified"),
    Action("rework", "返工", ("handled",), "in_progress", needs_note=True),
    Action("close", "结案", ("verified",), "closed"),
    Action("reopen", "重新打开", ("closed",), "dispatched", needs_note=True),
    Action("transfer", "转派", ("filed", "dispatched", "in_progress"), None, needs_note=True),
    Action("escalate", "上报升级", ("reported", "filed", "dispatched", "in_progress"), None),
    Action("extend", "延期", ("dispatched", "in_progress"), None, needs_note=True),
    Action("rate", "评价", ("closed",), None),
]}


def next_status(status: str, action: str) -> str:
    """The status after `action`; Conflict if the action is unknown here or not allowed from `status`."""
    act = ACTIONS.get(action)
    if act is None:
        raise Conflict(tr("unknown action %(action)r; actions: %(ACTIONS)s", action=action, ACTIONS=", ".join(ACTIONS)))
    if status not in act.sources:
        raise Conflict(tr("cannot %(action)s an incident that is %(status)s; %(action)s is allowed only from %(sources)s", action=action, status=status, sources=", ".join(act.sources)))
    return act.target or status


def allowed_actions(status: str) -> list[str]:
    """Actions that may be taken from `status`, in workflow order."""
    return [name for name, act in ACTIONS.items() if status in act.sources]
