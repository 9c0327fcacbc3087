"""Incident records and their audit events. Pure data, no I/O.

Times are timezone-aware datetimes (stored in UTC, shown in the configured zone).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

# The closed loop (national digital urban-management workflow, DOMAIN.md):
# reported → filed (or rejected / merged) → dispatched → in_progress → handled → verified → closed
STATUSES = ("reported", "filed", "rejected", "merged", "dispatched", "in_progress", "handled", "verified", "closed")
OPEN_STATUSES = ("reported", "filed", "dispatched", "in_progress", "handled", "verified")
FINAL_STATUSES = ("rejected", "merged", "closed")
STATUS_LABELS = {
    "reported": "已上报", "filed": "已立案", "rejected": "不予立案", "merged": "已合并", "dispatched": "已派遣",
    "in_progress": "处置中", "handled": "已处置", "verified": "已核查", "closed": "已结案",
}


@dataclass
class Incident:
    """One reported incident and where it stands. lon/lat are EPSG:4326."""

    id: str
    category: str
    lon: float
    lat: float
    reported_at: dt.datetime
    status: str = "reported"
    description: str = ""
    source: str = "api"
    severity: int = 1
    reporter_name: str | None = None  # personal data: never shown publicly
    reporter_phone: str | None = None  # personal data: never shown publicly
    grid_code: str | None = None
    zone_code: str | None = None
    town_code: str | None = None
    plan: int | None = None  # grid plan version used for the assignment
    assignment: str = "inside"  # inside | nearest | town_queue | unassigned
    distance_m: float | None = None  # to the grid, when assigned as nearest
    assignee: str | None = None  # person_id the incident is routed to
    handling_level: str = "grid"  # grid | zone | department
    department: str | None = None
    escalated: bool = False
    dispatched_at: dt.datetime | None = None
    due_at: dt.datetime | None = None
    handled_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None
    rework_count: int = 0
    reopen_count: int = 0
    extended: bool = False  # 延期: the time limit was extended
    rating: int | None = None
    merged_into: str | None = None
    version: int = 1  # optimistic lock: an update naming an older version is refused (stale)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def closed_on_time(self) -> bool | None:
        """True/False once closed with a deadline; None otherwise."""
        if self.closed_at is None or self.due_at is None:
            return None
        return self.closed_at <= self.due_at


@dataclass(frozen=True)
class Event:
    """One line of the audit log: who did what to which incident, when."""

    incident_id: str
    at: dt.datetime
    actor: str
    action: str
    from_status: str | None
    to_status: str
    note: str = ""
    data: dict[str, Any] = field(default_factory=dict)
