"""Reply templates per status and category, the auto-acknowledgement and the expected completion.

Templates (FixMyStreet's response templates) are [[reply]] tables of a TOML file: ``status``,
``category`` (a category code, or "*" for every category) and ``text`` with the placeholders
{id} {category} {expected} {grid}. The built-in file is replies.toml; the setting
``reply_templates`` names another. A template for the incident's category wins over "*".

The reply for ``reported`` is the auto-acknowledgement a reporter gets when filing. The
expected completion (Open311 ``expected_datetime``) is the incident's time limit once it is
dispatched (due_at), and before that an estimate: the category's time limit counted from the
report on the working calendar (the limit really starts at dispatch, so it is "about").
"""

from __future__ import annotations

import datetime as dt
import string
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..i18n import tr
from .model import FINAL_STATUSES, STATUSES, Incident

FIELDS = {"id", "category", "expected", "grid"}


@dataclass(frozen=True)
class Replies:
    """{(status, category or "*"): text}."""

    texts: dict[tuple[str, str], str]

    @classmethod
    def load(cls, path: str | Path | None = None, taxonomy=None) -> Replies:
        """Read a template file (None: the built-in replies.toml); InputError listing every problem."""
        if path:
            p = Path(path)
            if not p.is_file():
                raise InputError(tr("reply_templates: file %(p)s does not exist", p=p))
            text, source = p.read_text(encoding="utf-8"), str(p)
        else:
            res = resources.files("gridmap.incidents") / "replies.toml"
            text, source = res.read_text(encoding="utf-8"), "replies.toml"
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InputError(tr("%(source)s is not valid TOML: %(exc)s", source=source, exc=exc)) from None
        return cls.from_dict(data, source, taxonomy)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<dict>", taxonomy=None) -> Replies:
        problems = [f"unknown top-level key {k!r} (only [[reply]] tables)" for k in data if k != "reply"]
        texts: dict[tuple[str, str], str] = {}
        for n, r in enumerate(data.get("reply") or [], start=1):
            status, cat, body = r.get("status"), r.get("category", "*"), r.get("text")
            where = f"reply {n}"
            if status not in STATUSES:
                problems.append(tr("%(where)s: status %(status)r is not one of %(STATUSES)s", where=where, status=status, STATUSES=", ".join(STATUSES)))
            if cat != "*" and taxonomy is not None and cat not in taxonomy:
                problems.append(tr("%(where)s: category %(cat)r is not in the taxonomy", where=where, cat=cat))
            if not isinstance(body, str) or not body.strip():
                problems.append(tr("%(where)s: text is missing", where=where))
                continue
            try:
                names = {f for _, f, _, _ in string.Formatter().parse(body) if f is not None}
            except ValueError as exc:
                problems.append(tr("%(where)s: text: %(exc)s", where=where, exc=exc))
                continue
            if names - FIELDS:
                problems.append(tr("%(where)s: unknown placeholder(s) %(v)s; use %(FIELDS)s", where=where, v=sorted(names - FIELDS), FIELDS=sorted(FIELDS)))
            if (status, cat) in texts:
                problems.append(tr("%(where)s: a second template for status %(status)r, category %(cat)r", where=where, status=status, cat=cat))
            texts[(status, cat)] = body
        if problems:
            raise InputError(tr("%(source)s: bad reply templates:", source=source) + " " + "; ".join(problems))
        return cls(texts)

    def text(self, inc: Incident, category_name: str, expected: str) -> str | None:
        """The reply for the incident's status and category, filled in; None if no template fits."""
        body = self.texts.get((inc.status, inc.category)) or self.texts.get((inc.status, "*"))
        if body is None:
            return None
        return body.format(id=inc.id, category=category_name, expected=expected or "—", grid=inc.grid_code or "—")


def expected_at(inc: Incident, taxonomy, calendar) -> dt.datetime | None:
    """When the incident is expected done: due_at once set, else the category's limit from the report."""
    if inc.status in FINAL_STATUSES:
        return inc.closed_at if inc.status == "closed" else None
    if inc.due_at is not None:
        return inc.due_at
    if inc.category not in taxonomy:
        return None
    cat = taxonomy.get(inc.category)
    return calendar.deadline(inc.reported_at, float(cat.time_limit_hours), cat.time_mode)


def reply_for(inc: Incident, loop) -> dict[str, Any]:
    """{"text", "expected_at"} for the public: the template reply and the expected completion."""
    cat = loop.taxonomy.get(inc.category) if inc.category in loop.taxonomy else None
    when = expected_at(inc, loop.taxonomy, loop.calendar)
    local = when.astimezone(loop.tz) if when else None
    text = loop.replies.text(inc, cat.name if cat else inc.category, f"{local:%Y-%m-%d %H:%M}" if local else "")
    return {"text": text, "expected_at": local.isoformat() if local else None}
