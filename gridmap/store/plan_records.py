"""What the plan repository hands out: a plan's record and one edit of a draft (store/plans.py)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

UTC = dt.timezone.utc


@dataclass(frozen=True)
class PlanRecord:
    """One plan of the history. `rev` counts the edits (and undos) applied to a draft."""

    version: int
    status: str  # "published" | "draft"
    effective_from: dt.date | None
    created_at: dt.datetime
    published_at: dt.datetime | None
    note: str | None
    base_version: int | None
    author: str | None
    rev: int
    edits: int = 0
    publish_reason: str | None = None  # why a publish was forced past staffing gaps

    def as_dict(self) -> dict:
        """JSON-ready."""
        return {
            "version": self.version, "status": self.status,
            "effective_from": self.effective_from.isoformat() if self.effective_from else None,
            "created_at": _iso(self.created_at), "published_at": _iso(self.published_at),
            "note": self.note, "base_version": self.base_version, "author": self.author,
            "rev": self.rev, "edits": self.edits, "publish_reason": self.publish_reason,
        }


@dataclass(frozen=True)
class EditRecord:
    """One entry of a draft's edit log."""

    seq: int
    op: str
    author: str | None
    at: dt.datetime
    params: dict
    before_codes: list[str]
    after_codes: list[str]

    def as_dict(self) -> dict:
        """JSON-ready."""
        return {"seq": self.seq, "op": self.op, "author": self.author, "at": _iso(self.at),
                "params": self.params, "before_codes": self.before_codes, "after_codes": self.after_codes}


def _iso(t: dt.datetime | None) -> str | None:
    if t is None:
        return None
    if t.tzinfo is None:  # SQLite hands back naive datetimes; they were written in UTC
        t = t.replace(tzinfo=UTC)
    return t.isoformat()
