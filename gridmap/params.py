"""One parser for request arguments and JSON fields: numbers, dates, times, text, code lists, levels.

Every web view and service that takes a value from outside reads it through these functions,
so a bad value always gets the same kind of message, naming the parameter and what it got:

    'limit': must be a whole number, got 'ten'

Each takes the raw value (a query-string text, a form field or a JSON value) and the
parameter's name; an absent value (None or "") gives the default.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from .errors import InputError
from .i18n import tr
from .timebounds import check_day, check_moment

SQL_INT_MAX = 2**31 - 1  # the databases' INTEGER: a bigger number would fail in SQL (a 500)


def _absent(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and raw.strip() == "")


def _bad(name: str, what: str, raw: Any) -> InputError:
    return InputError(tr("%(name)r: must be %(what)s, got %(raw)r", name=name, what=what, raw=raw))


def integer(raw: Any, name: str, default: int | None = None, minimum: int | None = None,
            maximum: int = SQL_INT_MAX) -> int | None:
    """A whole number (text or JSON int; not a bool, not 1.5) within minimum..maximum."""
    if _absent(raw):
        return default
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        raise _bad(name, "a whole number", raw)
    try:
        value = int(raw)
    except ValueError:
        raise _bad(name, "a whole number", raw) from None
    if minimum is not None and value < minimum:
        raise _bad(name, f"at least {minimum}", raw)
    if abs(value) > maximum:
        raise _bad(name, f"at most {maximum}", raw)
    return value


def number(raw: Any, name: str, default: float | None = None) -> float | None:
    """A finite number."""
    if _absent(raw):
        return default
    if isinstance(raw, bool):
        raise _bad(name, "a number", raw)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise _bad(name, "a number", raw) from None
    if not math.isfinite(value):
        raise _bad(name, "a finite number", raw)
    return value


def required_number(raw: Any, name: str) -> float:
    """A finite number that must be given."""
    value = number(raw, name)
    if value is None:
        raise _bad(name, "a number", raw)
    return value


def day(raw: Any, name: str) -> dt.date | None:
    """A date YYYY-MM-DD within the range a query may name (timebounds)."""
    if isinstance(raw, dt.date) and not isinstance(raw, dt.datetime):
        return check_day(raw, name)
    if _absent(raw):
        return None
    try:
        value = dt.date.fromisoformat(str(raw).strip())
    except ValueError:
        raise _bad(name, "a date YYYY-MM-DD", raw) from None
    return check_day(value, name)


def moment(raw: Any, name: str, tz: dt.tzinfo) -> dt.datetime | None:
    """An ISO 8601 date or date-time as an aware datetime (a date is its midnight in `tz`, a naive time is in `tz`)."""
    if _absent(raw):
        return None
    text = str(raw).strip()
    try:
        if len(text) == 10:
            return dt.datetime.combine(check_day(dt.date.fromisoformat(text), name), dt.time(), tz)
        t = dt.datetime.fromisoformat(text)
    except ValueError:
        raise _bad(name, "an ISO 8601 date (2026-11-01) or date-time", raw) from None
    check_moment(t, name)
    return t if t.tzinfo else t.replace(tzinfo=tz)


def text(raw: Any, name: str, required: bool = False) -> str | None:
    """A string (None if absent; InputError if required and absent)."""
    if raw is None or raw == "":
        if required:
            raise InputError(tr("%(name)r: is required", name=name))
        return None
    if not isinstance(raw, str):
        raise _bad(name, "text", raw)
    return raw


def text_list(raw: Any, name: str) -> list[str] | None:
    """A comma-separated text or a JSON list of strings, as a list without empty items (None if absent)."""
    if _absent(raw):
        return None
    if isinstance(raw, str):
        return [x.strip() for x in raw.split(",") if x.strip()]
    if isinstance(raw, list) and all(isinstance(x, str) for x in raw):
        return list(raw)
    raise _bad(name, "a list of codes or a comma-separated text", raw)


def level(raw: Any, name: str = "level"):
    """A unit level by name (county, town, zone, grid, micro) or None."""
    from .registry.model import Level

    if _absent(raw):
        return None
    try:
        return Level.parse(raw)
    except ValueError as exc:
        raise InputError(f"{name!r}: {exc}") from None
