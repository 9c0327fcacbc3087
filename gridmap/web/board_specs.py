"""What each board action asks for besides the version, and which actions need a confirmation.

The page draws its forms from these specs: a person chosen from the unit's staff (dispatch),
a grid chosen from a searchable list or on the map (transfer), a department chosen from the
taxonomy (escalate), and a confirmation step before the actions that end an incident's road.
"""

from __future__ import annotations

from typing import Any

from ..i18n import current_locale, label
from ..incidents.actors import REPORTER_ACTIONS
from ..incidents.dispatching import departments
from ..incidents.workflow import ACTIONS

# The page fills "person" options from /board/people.json and "grid" options from the grid layer.
_FIELDS: dict[str, list[dict[str, Any]]] = {
    "dispatch": [{"name": "assignee", "label": "承办人 Assign to", "type": "person", "required": False}],
    "transfer": [{"name": "grid_code", "label": "转至网格 To grid (搜索名称或编码, 或在地图上点选 search, or click the map)",
                  "type": "grid", "required": True}],
    "extend": [{"name": "hours", "label": "延期小时 Hours", "type": "number", "required": True}],
    "merge": [{"name": "into", "label": "并入事件 Into incident #", "type": "text", "required": True}],
}
_NOTE = {"name": "note", "label": "理由 Reason", "type": "text", "required": True}
CONFIRM = {
    "close": "确认结案？结案后事件离开在办队列，居民可以评价。 Close this incident for good?",
    "reject": "确认不予立案？居民会看到此结果。 Reject this report? The resident will see it.",
}


def _localised(field: dict[str, Any]) -> dict[str, Any]:
    """A field's bilingual label and option labels in the request's language (i18n.label)."""
    out = {**field, "label": label(field["label"])}
    if "options" in field:
        out["options"] = [[v, label(t)] for v, t in field["options"]]
    return out


def action_specs(taxonomy) -> dict[str, dict[str, Any]]:
    """Per action: its label, the inputs it needs (a reason, a person, a grid...) and any confirmation."""
    escalate = [{"name": "level", "label": "升级至 Level", "type": "select", "required": True,
                 "options": [["zone", "管区 zone"], ["department", "部门 department"]]},
                {"name": "department", "label": "部门 Department (升级至部门时 when to a department)", "type": "select",
                 "required": False,
                 "options": [["", "按分类默认 the category's department"]] + [[d, d] for d in departments(taxonomy)]}]
    fields = {**_FIELDS, "escalate": escalate}
    out = {}
    for name, act in ACTIONS.items():
        if name in REPORTER_ACTIONS:
            continue
        spec: dict[str, Any] = {"label": name.capitalize() if current_locale() == "en" else act.label,
                                "fields": [_localised(f) for f in fields.get(name, [])]
                                + ([_localised(_NOTE)] if act.needs_note else [])}
        if name in CONFIRM:
            spec["confirm"] = label(CONFIRM[name])
        out[name] = spec
    return out
