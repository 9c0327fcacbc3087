"""Validation of incident reports at the edge: every problem names its field."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping  # (typing.Mapping's isinstance check took 12 us a report)
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputError
from ..geo.crs import parse_crs, xy_to_storage
from ..i18n import tr

MAX_DESCRIPTION = 2000
MAX_NAME = 64
PHONE = re.compile(r"^\+?[\d\- ]{5,20}$")
SOURCES = ("api", "open311", "web", "随手拍", "热线", "巡查", "传感器", "无人机", "import")


@dataclass
class Report:
    """A validated report: EPSG:4326 location, aware time, clean text."""

    category: str
    lon: float
    lat: float
    reported_at: dt.datetime
    description: str
    source: str
    severity: int
    reporter_name: str | None
    reporter_phone: str | None
    external_id: str | None = None


def parse_report(data: Mapping[str, Any], categories, now: dt.datetime, tz: dt.tzinfo) -> Report:
    """Check a report body (JSON or form) and return a Report; InputError lists every bad field.

    Location: `location` as a GeoJSON Point, or `lon` and `lat` (alias `long`), in `crs`
    (default EPSG:4326; GCJ-02 / BD-09 for phone apps). Text is kept as text: HTML in it is
    stored verbatim and escaped wherever it is shown.
    """
    if not isinstance(data, Mapping):
        raise InputError(tr("the request body must be a JSON object"))
    problems: list[str] = []
    category = str(data.get("category") or data.get("service_code") or "").strip()
    if not category:
        problems.append(tr("category: required"))
    elif category not in categories:
        some = ", ".join(list(c.code for c in categories)[:6])
        problems.append(tr("category: unknown category %(category)r (e.g. %(some)s; GET /api/v1/categories lists all)",
                           category=category, some=some))
    lon, lat = _location(data, problems)
    description = _text(data.get("description"), "description", MAX_DESCRIPTION, problems) or ""
    name = _text(data.get("reporter_name") or data.get("first_name"), "reporter_name", MAX_NAME, problems)
    phone = _text(data.get("reporter_phone") or data.get("phone"), "reporter_phone", 32, problems)
    if phone and not PHONE.match(phone):
        problems.append(tr("reporter_phone: %(phone)r is not a phone number", phone=phone))
    severity = _severity(data.get("severity", 1), problems)
    source = str(data.get("source") or "api")
    if source not in SOURCES:
        problems.append(tr("source: unknown source %(source)r; one of %(known)s", source=source, known=", ".join(SOURCES)))
    reported_at = _time(data.get("reported_at"), now, tz, problems)
    external_id = _text(data.get("external_id"), "external_id", 64, problems)
    if problems:
        raise InputError(tr("the report has %(n)s problem(s); nothing was stored", n=len(problems)), problems)
    return Report(category, lon, lat, reported_at, description, source, severity, name, phone, external_id)


def _location(data: Mapping[str, Any], problems: list[str]) -> tuple[float, float]:
    raw_crs = data.get("crs") or "EPSG:4326"
    loc = data.get("location")
    if loc is not None:
        if not isinstance(loc, Mapping) or loc.get("type") != "Point" or not isinstance(loc.get("coordinates"), (list, tuple)):
            problems.append(tr("location: must be a GeoJSON Point {\"type\": \"Point\", \"coordinates\": [lon, lat]}"))
            return math.nan, math.nan
        coords = loc["coordinates"]
        x, y = (coords[0], coords[1]) if len(coords) >= 2 else (None, None)
    else:
        x, y = data.get("lon", data.get("long")), data.get("lat")
        if x in (None, "") or y in (None, ""):
            problems.append(tr("location: required (a GeoJSON Point in `location`, or `lon` and `lat`)"))
            return math.nan, math.nan
    try:
        x, y = float(x), float(y)
    except (TypeError, ValueError):
        problems.append(tr("location: lon/lat must be numbers, got %(x)r, %(y)r", x=x, y=y))
        return math.nan, math.nan
    if not (math.isfinite(x) and math.isfinite(y)):
        problems.append(tr("location: lon/lat must be finite numbers"))
        return math.nan, math.nan
    try:
        crs = parse_crs(str(raw_crs))
    except InputError as exc:
        problems.append(f"crs: {exc}")  # exc: a translated InputError
        return math.nan, math.nan
    if crs.is_geographic:
        if 0.8 < x < 55.9 and 72 < y < 137.9:
            problems.append(tr("location: lat/lon look swapped (%(x)s, %(y)s): give longitude first", x=x, y=y))
            return math.nan, math.nan
        if abs(x) > 180 or abs(y) > 90:
            problems.append(tr("location: (%(x)s, %(y)s) is out of range for lon/lat", x=x, y=y))
            return math.nan, math.nan
    if crs.is_storage and not crs.special:  # lon/lat already (checked above): no transform to run
        return x, y
    lon, lat = xy_to_storage(np.array([x]), np.array([y]), crs)
    if not (np.isfinite(lon[0]) and abs(lon[0]) <= 180 and abs(lat[0]) <= 90):
        problems.append(tr("location: (%(x)s, %(y)s) is outside the valid area of %(crs)s", x=x, y=y, crs=raw_crs))
        return math.nan, math.nan
    return float(lon[0]), float(lat[0])


def _text(value: Any, name: str, limit: int, problems: list[str]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        problems.append(tr("%(field)s: must be text", field=name))
        return None
    value = value.strip()
    if len(value) > limit:
        problems.append(tr("%(field)s: %(n)s characters, over the limit of %(limit)s", field=name, n=len(value), limit=limit))
    if "\x00" in value:
        problems.append(tr("%(field)s: contains a NUL character", field=name))
    return value or None


def _severity(value: Any, problems: list[str]) -> int:
    try:
        sev = int(value)
        if str(value).strip() not in (str(sev),) and not isinstance(value, int):
            raise ValueError
    except (TypeError, ValueError):
        problems.append(tr("severity: must be 1, 2 or 3, got %(value)r", value=value))
        return 1
    if sev not in (1, 2, 3):
        problems.append(tr("severity: must be 1, 2 or 3, got %(value)r", value=sev))
    return sev


# Older records are typos (0675 for 2025) and, before 1901, time zones turn into local mean time.
EARLIEST_REPORT = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def _time(value: Any, now: dt.datetime, tz: dt.tzinfo, problems: list[str]) -> dt.datetime:
    if value in (None, ""):
        return now
    try:
        t = dt.datetime.fromisoformat(str(value))
    except ValueError:
        problems.append(tr("reported_at: %(value)r is not an ISO 8601 time (e.g. 2026-05-01T09:30:00+08:00)", value=value))
        return now
    if t.tzinfo is None:
        t = t.replace(tzinfo=tz)  # local time of the jurisdiction, as hotline records are kept
    if t > now + dt.timedelta(minutes=5):
        problems.append(tr("reported_at: %(value)s is in the future", value=value))
    elif t < EARLIEST_REPORT:
        problems.append(tr("reported_at: %(value)s is before %(earliest)s: not a plausible report time",
                           value=value, earliest=EARLIEST_REPORT.strftime("%Y-%m-%d")))
    return t
