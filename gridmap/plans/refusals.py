"""Why a publish was refused: coverage problems and staffing gaps, each a Conflict (HTTP 409) listing them."""

from __future__ import annotations

from ..errors import Conflict
from ..i18n import tr


class CoverageRefused(Conflict):
    """Publishing refused: the plan has gaps, overlaps or other coverage problems (HTTP 409)."""

    def __init__(self, plan: int, problems: list[dict], gaps: list[dict] | None = None):
        self.problems = problems
        self.gaps = list(gaps or [])  # staffing gaps found too (see StaffingRefused)
        lines = ["  - " + tr("%(kind)s %(where)s: %(area)s m² at lon %(lon)s, lat %(lat)s", kind=p["kind"],
                             where=",".join(p["codes"]) or p["parent"], area=p["area_m2"], lon=p["location"]["lon"],
                             lat=p["location"]["lat"]) + (f" ({p['detail']})" if p.get("detail") else "")
                 for p in problems[:50]]
        more = "\n  " + tr("... and %(n)s more", n=len(problems) - 50) if len(problems) > 50 else ""
        staffing = ("\n  " + tr("and %(n)s grid(s) with open incidents lack a full 1+1+N team: %(codes)s", n=len(self.gaps),
                                codes=", ".join(g["code"] for g in self.gaps[:20]))) if self.gaps else ""
        super().__init__(tr("plan %(plan)s has %(n)s coverage problem(s); fix them or publish with force:",
                            plan=plan, n=len(problems)) + "\n" + "\n".join(lines) + more + staffing)


class StaffingRefused(Conflict):
    """Publishing refused: grids with open incidents lack a full 1+1+N team (HTTP 409)."""

    def __init__(self, plan: int, gaps: list[dict]):
        self.gaps = gaps
        lines = ["  - " + tr("%(code)s %(name)s: %(n)s open incident(s); %(problem)s", code=g["code"], name=g["name"],
                             n=g["open_incidents"], problem=g["problem"]) for g in gaps]
        super().__init__(tr("plan %(plan)s: %(n)s grid(s) with open incidents lack a full team; staff them "
                            "(gridmap plan staff) or publish with force and a reason:", plan=plan, n=len(gaps))
                         + "\n" + "\n".join(lines))
