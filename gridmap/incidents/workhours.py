"""Working-hours calendar for incident time limits (时限), counted from dispatch.

"Exposed rubbish: 4 working hours" means 4 hours of the calendar's working periods on working
days; holidays are skipped and makeup working days (调休) count. Emergencies may instead count
plain round-the-clock hours (mode "calendar"). Arithmetic is done in UTC, so DST never skews it;
results are given in the calendar's time zone.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from dataclasses import dataclass
from typing import Iterable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..errors import InputError
from ..i18n import tr

UTC = dt.timezone.utc
MODES = ("working", "calendar")
ONE_DAY = dt.timedelta(days=1)
ONE_HOUR = dt.timedelta(hours=1)
DEFAULT_TZ = "Asia/Shanghai"
DEFAULT_PERIODS = ((dt.time(8, 30), dt.time(12, 0)), (dt.time(13, 30), dt.time(17, 30)))
DEFAULT_WEEKDAYS = frozenset({1, 2, 3, 4, 5})  # ISO weekdays: 1 = Monday … 7 = Sunday

Interval = tuple[dt.datetime, dt.datetime]


@dataclass(frozen=True)
class WorkCalendar:
    """Working periods per day, working weekdays, holidays (days off) and makeup working days."""

    tz: str = DEFAULT_TZ
    periods: tuple[tuple[dt.time, dt.time], ...] = DEFAULT_PERIODS  # local wall-clock [start, end)
    weekdays: frozenset[int] = DEFAULT_WEEKDAYS  # ISO numbering, 1 = Monday
    holidays: frozenset[dt.date] = frozenset()  # days off, even on a working weekday
    workdays: frozenset[dt.date] = frozenset()  # makeup working days (调休), even on a weekend

    def __post_init__(self) -> None:
        object.__setattr__(self, "periods", tuple(sorted(tuple(p) for p in self.periods)))
        for name in ("weekdays", "holidays", "workdays"):
            object.__setattr__(self, name, frozenset(getattr(self, name)))
        problems = _calendar_problems(self)
        if problems:
            raise InputError(tr("invalid working-hours calendar"), problems=problems)

    @classmethod
    def from_settings(cls, tz: str = DEFAULT_TZ, periods: str = "08:30-12:00,13:30-17:30",
                      weekdays: str | Iterable[int] = "1-5", holidays: str | Iterable[str | dt.date] = (),
                      workdays: str | Iterable[str | dt.date] = ()) -> WorkCalendar:
        """Build from text: periods "08:30-12:00,13:30-17:30", weekdays "1-5", ISO dates or ranges "a..b"."""
        problems: list[str] = []
        parsed_periods = _parse_periods(periods, problems)
        parsed_weekdays = _parse_weekdays(weekdays, problems)
        parsed_holidays = _parse_dates(holidays, "holidays", problems)
        parsed_workdays = _parse_dates(workdays, "workdays", problems)
        if problems:
            raise InputError(tr("invalid working-hours calendar settings"), problems=problems)
        return cls(tz, parsed_periods, parsed_weekdays, parsed_holidays, parsed_workdays)

    @property
    def zone(self) -> ZoneInfo:
        """The calendar's time zone."""
        return ZoneInfo(self.tz)

    def is_workday(self, day: dt.date) -> bool:
        """True if the local date has working periods (makeup days yes, holidays no)."""
        if day in self.workdays:
            return True
        return day.isoweekday() in self.weekdays and day not in self.holidays

    def is_working(self, t: dt.datetime) -> bool:
        """True if t falls inside a working period (start inclusive, end exclusive)."""
        moment = _utc(t, "t")
        return any(s <= moment < e for s, e in self._intervals(moment.astimezone(self.zone).date()))

    def add_working_hours(self, start: dt.datetime, hours: float) -> dt.datetime:
        """The moment `hours` working hours after start; the clock starts at the next working moment."""
        cur, remaining = _utc(start, "start"), _duration(hours)
        day = cur.astimezone(self.zone).date()
        while True:  # terminates: weekdays is never empty, so working time always lies ahead
            for s, e in self._intervals(day):
                if e <= cur:
                    continue
                begin = max(cur, s)
                if remaining <= e - begin:
                    return (begin + remaining).astimezone(self.zone)
                remaining -= e - begin
                cur = e
            day += ONE_DAY

    def next_working_moment(self, t: dt.datetime) -> dt.datetime:
        """t itself if working, else the start of the next working period."""
        return self.add_working_hours(t, 0)

    def working_hours_between(self, a: dt.datetime, b: dt.datetime) -> float:
        """Working hours elapsed from a to b (0 if b <= a)."""
        lo, hi = _utc(a, "a"), _utc(b, "b")
        if hi <= lo:
            return 0.0
        total = dt.timedelta()
        day, last = lo.astimezone(self.zone).date(), hi.astimezone(self.zone).date()
        while day <= last:
            for s, e in self._intervals(day):
                total += max(dt.timedelta(), min(e, hi) - max(s, lo))
            day += ONE_DAY
        return total / ONE_HOUR

    def deadline(self, start: dt.datetime, hours: float, mode: str = "working") -> dt.datetime:
        """Due time: `hours` working hours (mode "working") or plain hours (mode "calendar") after start."""
        if _mode(mode) == "working":
            return self.add_working_hours(start, hours)
        return (_utc(start, "start") + _duration(hours)).astimezone(self.zone)

    def elapsed_hours(self, a: dt.datetime, b: dt.datetime, mode: str = "working") -> float:
        """Hours from a to b counted the way `mode` counts them (0 if b <= a)."""
        if _mode(mode) == "working":
            return self.working_hours_between(a, b)
        return max(dt.timedelta(), _utc(b, "b") - _utc(a, "a")) / ONE_HOUR

    def _intervals(self, day: dt.date) -> list[Interval]:
        """The day's working periods as UTC intervals (empty on a day off)."""
        if not self.is_workday(day):
            return []
        zone, out = self.zone, []
        for start, end in self.periods:
            s = dt.datetime.combine(day, start, zone).astimezone(UTC)
            e = dt.datetime.combine(day, end, zone).astimezone(UTC)
            if e > s:  # a period swallowed by a DST gap is skipped
                out.append((s, e))
        return out


def deadline(start: dt.datetime, hours: float, mode: str = "working",
             calendar: WorkCalendar | None = None) -> dt.datetime:
    """Due time for a limit of `hours` from start; the default calendar unless one is given."""
    return (calendar or _default_calendar()).deadline(start, hours, mode)


@functools.cache
def _default_calendar() -> WorkCalendar:
    return WorkCalendar()


def _utc(t: dt.datetime, name: str) -> dt.datetime:
    if not isinstance(t, dt.datetime):
        raise TypeError(f"{name} must be a datetime, got {type(t).__name__}")
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {t.isoformat()}")
    return t.astimezone(UTC)


def _duration(hours: float) -> dt.timedelta:
    if isinstance(hours, bool) or not isinstance(hours, (int, float)):
        raise TypeError(f"hours must be a number, got {hours!r}")
    if not math.isfinite(hours) or hours < 0:
        raise ValueError(f"hours must be a finite number >= 0, got {hours!r}")
    return dt.timedelta(hours=hours)


def _mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    return mode


def _calendar_problems(cal: WorkCalendar) -> list[str]:
    problems = []
    try:
        ZoneInfo(cal.tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        problems.append(tr("unknown time zone %(tz)r (expected an IANA name such as Asia/Shanghai)", tz=cal.tz))
    problems += _period_problems(cal.periods)
    if not cal.weekdays or not cal.weekdays <= set(range(1, 8)):
        problems.append(tr("weekdays must be a non-empty set of ISO weekdays 1-7, got %(weekdays)s", weekdays=sorted(cal.weekdays)))
    both = sorted(cal.holidays & cal.workdays)
    if both:
        problems.append(tr("dates both holiday and makeup working day: %(dates)s", dates=", ".join(d.isoformat() for d in both)))
    return problems


def _period_problems(periods: tuple[tuple[dt.time, dt.time], ...]) -> list[str]:
    if not periods:
        return ["at least one working period is needed (use mode 'calendar' for round-the-clock limits)"]
    problems = []
    for start, end in periods:
        if start.tzinfo is not None or end.tzinfo is not None:
            problems.append(tr("period %(start)s-%(end)s: times must be local wall-clock times without a zone", start=start, end=end))
        elif not start < end:
            problems.append(tr("period %(start)s-%(end)s must end after it starts, on the same day", start=format(start, "%H:%M"), end=format(end, "%H:%M")))
    for (_, end), (start, _) in zip(periods, periods[1:]):
        if start < end:
            problems.append(tr("periods overlap around %(start)s-%(end)s", start=format(start, "%H:%M"), end=format(end, "%H:%M")))
    return problems


def _parse_periods(text: str, problems: list[str]) -> tuple[tuple[dt.time, dt.time], ...]:
    out = []
    for part in (p.strip() for p in text.split(",")):
        start, sep, end = part.partition("-")
        try:
            if not sep:
                raise ValueError
            out.append((_parse_time(start), _parse_time(end)))
        except ValueError:
            problems.append(tr("periods: %(part)r is not HH:MM-HH:MM", part=part))
    return tuple(out)


def _parse_time(text: str) -> dt.time:
    value = dt.time.fromisoformat(text.strip())
    if value.tzinfo is not None:
        raise ValueError(text)
    return value


def _parse_weekdays(value: str | Iterable[int], problems: list[str]) -> frozenset[int]:
    if not isinstance(value, str):
        return frozenset(value)
    out: set[int] = set()
    for part in (p.strip() for p in value.split(",") if p.strip()):
        lo, _, hi = part.partition("-")
        try:
            out.update(range(int(lo), int(hi or lo) + 1))
        except ValueError:
            problems.append(tr("weekdays: %(part)r is not an ISO weekday 1-7 or a range such as 1-5", part=part))
    return frozenset(out)


def _parse_dates(value: str | Iterable[str | dt.date], name: str, problems: list[str]) -> frozenset[dt.date]:
    items = value.split(",") if isinstance(value, str) else value
    out: set[dt.date] = set()
    for item in items:
        if isinstance(item, dt.date) and not isinstance(item, dt.datetime):
            out.add(item)
        elif isinstance(item, str) and item.strip():
            out.update(_date_range(item.strip(), name, problems))
        elif not isinstance(item, str):
            problems.append(tr("%(name)s: %(item)r is not a date", name=name, item=item))
    return frozenset(out)


def _date_range(text: str, name: str, problems: list[str]) -> list[dt.date]:
    first, sep, last = text.partition("..")
    try:
        lo = dt.date.fromisoformat(first.strip())
        hi = dt.date.fromisoformat(last.strip()) if sep else lo
    except ValueError:
        problems.append(tr("%(name)s: %(text)r is not an ISO date (YYYY-MM-DD) or range (YYYY-MM-DD..YYYY-MM-DD)", name=name, text=text))
        return []
    if hi < lo:
        problems.append(tr("%(name)s: range %(text)r ends before it starts", name=name, text=text))
        return []
    return [lo + dt.timedelta(days=i) for i in range((hi - lo).days + 1)]


def calendar_from_settings(settings) -> WorkCalendar:
    """The calendar the settings describe: time zone, work_hours and holidays ('days off|make-up days')."""
    off, _, makeup = (settings.holidays or "").partition("|")
    return WorkCalendar.from_settings(tz=settings.timezone, periods=settings.work_hours,
                                      holidays=[d for d in off.split(",") if d.strip()],
                                      workdays=[d for d in makeup.split(",") if d.strip()])
