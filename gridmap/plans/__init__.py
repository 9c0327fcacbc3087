"""Versioned grid plans: drafts, edits (split, merge, reshape, move, snap), undo, diff, impact, publishing.

Modules: `shapes` (drawn input), `edits` (pure geometry edits), `checks` (the publish
coverage gate), `diff`, `impact`, and `service` (PlanService, the use cases).
"""

from .service import CoverageRefused, PlanService

__all__ = ["PlanService", "CoverageRefused"]
