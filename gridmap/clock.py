"""The calendar the store and the services agree on: "today" in the jurisdiction's time zone.

Plans take effect on dates, so "today" must be the jurisdiction's local date, not the server's
(a server on UTC is a day behind Beijing until 08:00). The clock is passed to `open_store`; tests
pass a fixed one.
"""

from __future__ import annotations

import datetime as dt
from typing import Callable
from zoneinfo import ZoneInfo

DEFAULT_TIMEZONE = "Asia/Shanghai"

Today = Callable[[], dt.date]


def local_today(timezone: str = DEFAULT_TIMEZONE) -> Today:
    """A clock giving today's date in `timezone`."""
    zone = ZoneInfo(timezone)
    return lambda: dt.datetime.now(zone).date()
