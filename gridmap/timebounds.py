"""The range of dates a query may name: 1970 to 2199 (anything else is a mistake or a probe).

Dates at the edges of Python's range (0001-01-01, 9999-12-31) overflowed when a view shifted
them by a time zone or a window ("90 days before", "12 months before") and answered 500.
Every date or time taken from a request goes through `check_day` / `check_moment` first.
"""

from __future__ import annotations

import datetime as dt

from .errors import InputError
from .i18n import tr

EARLIEST = dt.date(1970, 1, 1)
LATEST = dt.date(2199, 12, 31)


def check_day(day: dt.date, name: str) -> dt.date:
    """`day` if within EARLIEST..LATEST, else InputError naming the parameter."""
    d = day.date() if isinstance(day, dt.datetime) else day
    if not EARLIEST <= d <= LATEST:
        raise InputError(tr("%(name)s: %(day)s is outside %(earliest)s..%(latest)s", name=name, day=d.isoformat(),
                            earliest=EARLIEST.isoformat(), latest=LATEST.isoformat()))
    return day


def check_moment(t: dt.datetime, name: str) -> dt.datetime:
    """`t` if its date is within EARLIEST..LATEST (as written, before any time-zone shift), else InputError."""
    check_day(t.date(), name)
    return t
