"""How incidents are shown: the private view (office and own-grid staff) and the public one."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..i18n import current_locale
from ..incidents.actors import READ_ONLY_ROLES
from ..incidents.model import STATUS_LABELS, Event, Incident
from ..incidents.privacy import public_description, public_point, text_withheld
from ..incidents.workflow import allowed_actions
from .photos import photo_view, photo_withheld


def _iso(t: dt.datetime | None, tz) -> str | None:
    return t.astimezone(tz).isoformat() if t else None


def public_incident(inc: Incident, taxonomy, tz) -> dict[str, Any]:
    """What anyone may see (incidents/privacy.py): text once filed, the point rounded, nobody's name."""
    cat = taxonomy.get(inc.category) if inc.category in taxonomy else None
    lon, lat = public_point(inc.lon, inc.lat)
    return {
        "id": inc.id, "category": inc.category, "category_name": cat.name if cat else inc.category,
        "status": inc.status, "status_label": (inc.status.replace("_", " ") if current_locale() == "en"
                         else STATUS_LABELS.get(inc.status, inc.status)),
        "description": public_description(inc), "text_withheld": text_withheld(inc), "lon": lon, "lat": lat,
        "grid_code": inc.grid_code, "zone_code": inc.zone_code, "town_code": inc.town_code,
        "reported_at": _iso(inc.reported_at, tz), "due_at": _iso(inc.due_at, tz),
        "closed_at": _iso(inc.closed_at, tz), "rating": inc.rating, "merged_into": inc.merged_into,
        "photo": photo_view(inc, public=True), "photo_withheld": photo_withheld(inc),
    }


def incident_view(actor, inc: Incident, taxonomy, tz) -> dict[str, Any]:
    """What `actor` may see of an incident, by the role × data table (gridmap/policy.py): the
    public fields, the handling fields, and the reporter's personal data, each only if allowed."""
    from ..policy import sees

    own = (inc.grid_code, inc.zone_code)
    if not sees(actor, "incident_internal", own):
        return public_incident(inc, taxonomy, tz)
    out = private_incident(inc, taxonomy, tz)
    if not sees(actor, "reporter_personal", own):
        for key in PERSONAL_FIELDS:
            out.pop(key, None)
    if actor.role in READ_ONLY_ROLES:  # planners and leaders read the queue and act on nothing
        out["actions"] = []
    return out


PERSONAL_FIELDS = ("reporter_name", "reporter_phone", "extra")  # extra: Open311 e-mail, device_id, account_id


def private_incident(inc: Incident, taxonomy, tz) -> dict[str, Any]:
    """Everything, for dispatchers and the staff of the incident's grid."""
    out = public_incident(inc, taxonomy, tz)
    out.update({
        "description": inc.description, "text_withheld": False, "lon": round(inc.lon, 6), "lat": round(inc.lat, 6),
        "reporter_name": inc.reporter_name, "reporter_phone": inc.reporter_phone, "source": inc.source,
        "severity": inc.severity, "assignment": inc.assignment, "distance_m": inc.distance_m,
        "assignee": inc.assignee, "handling_level": inc.handling_level, "department": inc.department,
        "escalated": inc.escalated, "plan": inc.plan, "dispatched_at": _iso(inc.dispatched_at, tz),
        "handled_at": _iso(inc.handled_at, tz), "rework_count": inc.rework_count,
        "reopen_count": inc.reopen_count, "extended": inc.extended, "version": inc.version,
        "extra": inc.extra, "actions": allowed_actions(inc.status),
        "photo": photo_view(inc, public=False), "photo_withheld": False,
    })
    return out


def event_json(e: Event, tz) -> dict[str, Any]:
    """One audit-log line."""
    return {"at": _iso(e.at, tz), "actor": e.actor, "action": e.action, "from": e.from_status,
            "to": e.to_status, "note": e.note, "data": e.data}
