"""Why a publish was refused: coverage problems and staffing gaps, each a Conflict (HTTP 409) listing them."""

from __future__ import annotations

from ..errors import Conflict


class CoverageRefused(Conflict):
    """Publishing refused: the plan has gaps, overlaps or other coverage problems (HTTP 409)."""

    def __init__(self, plan: int, problems: list[dict], gaps: list[dict] | None = None):
        self.problems = problems
        self.gaps = list(gaps or [])  # staffing gaps found too (see StaffingRefused)
        lines = [f"  - {p['kind']} {','.join(p['codes']) or p['parent']}: {p['area_m2']} m² at "
                 f"lon {p['location']['lon']}, lat {p['location']['lat']}" + (f" ({p['detail']})" if p.get("detail") else "")
                 for p in problems[:50]]
        more = f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else ""
        staffing = (f"\n  and {len(self.gaps)} grid(s) with open incidents lack a full 1+1+N team: "
                    + ", ".join(g["code"] for g in self.gaps[:20])) if self.gaps else ""
        super().__init__(f"plan {plan} has {len(problems)} coverage problem(s); fix them or publish with force:\n"
                         + "\n".join(lines) + more + staffing)


class StaffingRefused(Conflict):
    """Publishing refused: grids with open incidents lack a full 1+1+N team (HTTP 409)."""

    def __init__(self, plan: int, gaps: list[dict]):
        self.gaps = gaps
        lines = [f"  - {g['code']} {g['name']}: {g['open_incidents']} open incident(s); {g['problem']}" for g in gaps]
        super().__init__(f"网格缺少完整的1+1+N队伍，不能发布 / plan {plan}: {len(gaps)} grid(s) with open incidents lack "
                         "a full team; staff them (gridmap plan staff) or publish with force and a reason:\n"
                         + "\n".join(lines))
