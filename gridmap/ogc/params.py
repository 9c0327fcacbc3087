"""Query parameters of OGC API – Features items requests, checked; each error names its parameter."""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass

from ..errors import GridmapError
from ..i18n import tr

DEFAULT_LIMIT = 10
MAX_LIMIT = 10_000
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class BadParameter(GridmapError):
    """A query parameter that is missing its form or range (HTTP 400, as OGC API requires)."""

    http_status = 400

    def __init__(self, name: str, message: str):
        self.parameter = name
        super().__init__(f"{name}: {message}")


@dataclass(frozen=True)
class Interval:
    """A closed time interval; None at either end means open (RFC 3339 `..`)."""

    start: dt.datetime | None
    end: dt.datetime | None
    instant: bool = False


def parse_bbox(raw: str | None, lat_first: bool = False) -> tuple[float, float, float, float] | None:
    """`minx,miny,maxx,maxy` or with heights `minx,miny,minz,maxx,maxy,maxz` -> CRS84 lon/lat, degrees.

    `lat_first`: the numbers are in a latitude-first CRS's order (bbox-crs EPSG:4326 or 4490).
    minx > maxx is a box crossing the antimeridian, as OGC allows; miny > maxy is an error.
    """
    if raw is None:
        return None
    parts = raw.split(",")
    if len(parts) not in (4, 6):
        raise BadParameter("bbox", tr("give 4 or 6 comma-separated numbers, got %(n)s", n=len(parts)))
    try:
        nums = [float(p) for p in parts]
    except ValueError:
        raise BadParameter("bbox", tr("%(raw)r is not a list of numbers", raw=raw)) from None
    if not all(math.isfinite(n) for n in nums):
        raise BadParameter("bbox", tr("numbers must be finite"))
    x0, y0, x1, y1 = (nums[0], nums[1], nums[3], nums[4]) if len(nums) == 6 else nums
    if lat_first:
        x0, y0, x1, y1 = y0, x0, y1, x1
    if not (-180 <= x0 <= 180 and -180 <= x1 <= 180):
        raise BadParameter("bbox", tr("longitudes must be within -180..180, got %(x0)s, %(x1)s", x0=x0, x1=x1))
    if not (-90 <= y0 <= 90 and -90 <= y1 <= 90):
        raise BadParameter("bbox", tr("latitudes must be within -90..90, got %(y0)s, %(y1)s (lon/lat swapped?)", y0=y0, y1=y1))
    if y0 > y1:
        raise BadParameter("bbox", tr("the lower latitude %(y0)s is above the upper %(y1)s", y0=y0, y1=y1))
    return x0, y0, x1, y1


def parse_int(raw: str | None, name: str, default: int, lo: int, hi: int | None = None) -> int:
    """A whole number in [lo, hi]."""
    if raw is None:
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise BadParameter(name, tr("must be a whole number, got %(raw)r", raw=raw)) from None
    if value < lo or (hi is not None and value > hi):
        bound = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
        raise BadParameter(name, tr("must be %(bound)s, got %(value)s", bound=bound, value=value))
    return value


def parse_limit(raw: str | None) -> int:
    """limit: at least 1, default 10; above 10,000 it is cut to 10,000 (OGC API – Features 7.15.4: not an error)."""
    return min(parse_int(raw, "limit", DEFAULT_LIMIT, 1), MAX_LIMIT)


def parse_datetime(raw: str | None, tz: dt.tzinfo) -> Interval | None:
    """An RFC 3339 instant or interval (`a/b`, `../b`, `a/..`); a date means its whole day in `tz`."""
    if raw is None:
        return None
    text = raw.strip()
    if "/" not in text:
        start, end = _moment(text, tz)
        return Interval(start, end, instant=True)
    if text.count("/") != 1:
        raise BadParameter("datetime", tr("an interval has exactly one '/', got %(raw)r", raw=raw))
    a, b = (p.strip() for p in text.split("/"))
    start = None if a in ("", "..") else _moment(a, tz)[0]
    end = None if b in ("", "..") else _moment(b, tz)[1]
    if start is None and end is None:
        raise BadParameter("datetime", tr("an interval needs at least one end"))
    if start is not None and end is not None and start > end:
        raise BadParameter("datetime", tr("the interval starts after it ends: %(raw)r", raw=raw))
    return Interval(start, end)


def _moment(text: str, tz: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    """(first, last) instant of a date or a date-time (a date-time is both)."""
    try:
        if _DATE.match(text):
            day = dt.date.fromisoformat(text)
            first = dt.datetime.combine(day, dt.time(), tz)
            last = first + dt.timedelta(days=1) - dt.timedelta(microseconds=1)
        else:
            if "T" not in text.upper():
                raise ValueError(text)
            t = dt.datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
            first = last = t if t.tzinfo else t.replace(tzinfo=tz)
        first.astimezone(dt.timezone.utc), last.astimezone(dt.timezone.utc)  # stored times are UTC
    except (ValueError, OverflowError):
        raise BadParameter("datetime", tr("%(text)r is not an RFC 3339 date or date-time", text=text)) from None
    return first, last


def plan_day(interval: Interval, tz: dt.tzinfo, today: dt.date) -> dt.date:
    """The day whose grid plan answers a datetime filter: the instant's day, else the interval's end.

    An interval open at its end asks about the plan in force now (`today`).
    """
    moment = interval.start if interval.instant else interval.end
    if moment is None:
        return today
    return moment.astimezone(tz).date()
