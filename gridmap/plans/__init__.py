"""Versioned grid plans: drafts, edits (split, merge, reshape, move, snap), undo, diff, impact, publishing.

Modules: `shapes` (drawn input), `edits` (pure geometry edits), `checks` (the publish
coverage gate), `diff`, `impact`, `staffing` (who inherits a redrawn grid's team), `teams` (a draft's
roster), and `service` (PlanService, the use cases).
"""

from .refusals import CoverageRefused, StaffingRefused
from .service import PlanService

__all__ = ["PlanService", "CoverageRefused", "StaffingRefused"]
