"""Open311 GeoReport v2 over the incident loop: what a request looks like, what a query means.

Pure functions over an IncidentService (no Flask): web/open311.py parses the HTTP request,
calls these and serialises the result as JSON or XML (web/georeport_xml.py).

The spec's default window for GET requests is the last 90 days and at most 1,000 requests
per answer. We honour both: a range may not span more than 90 days (400 otherwise), and a
window holding more than `page_size` requests (default and at most 1,000) is answered page by
page (`page=2`, ...), each page saying in its `Link: <...>; rel="next"` header that more exist.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Mapping

from ..errors import InputError
from ..i18n import tr
from ..timebounds import check_moment
from .model import FINAL_STATUSES, OPEN_STATUSES, STATUS_LABELS, Event, Incident
from .privacy import public_description, public_point
from .replies import expected_at, reply_for

WINDOW = dt.timedelta(days=90)  # GeoReport v2: a range "may not span more than 90 days"
MAX_PAGE = 1000  # GeoReport v2: "the default number of requests returned is 1000"
SPEC = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-12-01T00:00:00Z"  # when this endpoint's interface last changed (discovery)
# Status of a request update in FixMyStreet's extension (its Open311 client's values).
UPDATE_STATUS = {"reported": "open", "filed": "open", "dispatched": "action_scheduled", "in_progress": "in_progress",
                 "handled": "fixed", "verified": "fixed", "closed": "closed", "rejected": "no_further_action",
                 "merged": "duplicate"}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_URL = re.compile(r"^https?://[^\s]+$")
_ATTRIBUTE = re.compile(r"^attribute\[([\w.\-]{1,64})\](\[\])?$")
_TEXT_FIELDS = {"address_string": 500, "address_id": 64, "device_id": 128, "account_id": 128}


def w3c(t: dt.datetime | None, tz: dt.tzinfo) -> str | None:
    """A W3C date-time in the jurisdiction's zone, to the second (the spec's examples have no fractions)."""
    return None if t is None else t.astimezone(tz).replace(microsecond=0).isoformat()


def request_view(inc: Incident, svc) -> dict[str, Any]:
    """One service request as GeoReport v2 shows it, plus our extensions (grid_code, zone_code, detailed_status).

    Personal data (name, phone, email, device_id) never appears here.
    """
    cat = svc.taxonomy.get(inc.category) if inc.category in svc.taxonomy else None
    kept = inc.extra.get("open311") or {}
    updated = inc.closed_at or inc.handled_at or inc.dispatched_at or inc.reported_at
    reply = reply_for(inc, svc)  # the reply template of its status (status_notes), FixMyStreet-style
    return {
        "service_request_id": inc.id, "status": "open" if inc.status in OPEN_STATUSES else "closed",
        "status_notes": reply["text"] or STATUS_LABELS.get(inc.status, inc.status), "service_name": cat.name if cat else inc.category,
        "service_code": inc.category, "description": public_description(inc),
        "agency_responsible": inc.department or (f"网格 {inc.grid_code}" if inc.grid_code else ""),
        "service_notice": "",
        "requested_datetime": w3c(inc.reported_at, svc.tz), "updated_datetime": w3c(updated, svc.tz),
        "expected_datetime": w3c(expected_at(inc, svc.taxonomy, svc.calendar), svc.tz),
        "address": kept.get("address_string", ""), "address_id": kept.get("address_id", ""), "zipcode": "",
        "lat": public_point(inc.lon, inc.lat)[1], "long": public_point(inc.lon, inc.lat)[0], "media_url": kept.get("media_url", ""),
        "grid_code": inc.grid_code, "zone_code": inc.zone_code, "detailed_status": inc.status,
    }


def update_view(update_id: int, event: Event, svc) -> dict[str, Any]:
    """One status change as a FixMyStreet `request_update`. Staff notes stay internal: the description
    is the new status, in Chinese and English."""
    label = STATUS_LABELS.get(event.to_status, event.to_status)
    return {"update_id": str(update_id), "service_request_id": event.incident_id,
            "status": "open" if event.action == "reopen" else UPDATE_STATUS.get(event.to_status, "open"),
            "updated_datetime": w3c(event.at, svc.tz), "description": f"{label} / {event.to_status.replace('_', ' ')}",
            "media_url": "", "external_status_code": event.to_status}


# -- queries --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Window:
    """A GET's time range and page: [start, end), page 1.., page_size <= 1,000."""

    start: dt.datetime
    end: dt.datetime
    page: int = 1
    page_size: int = MAX_PAGE

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


def values(args: Mapping[str, Any], name: str) -> list[str]:
    """A parameter "declared multiple times, comma delimited" (GeoReport v2), as a list of values."""
    raw = args.getlist(name) if hasattr(args, "getlist") else [args.get(name)]
    return [v.strip() for item in raw if item for v in str(item).split(",") if v.strip()]


def statuses(args: Mapping[str, Any]) -> list[str] | None:
    """status=open,closed -> our detailed statuses (None: any)."""
    wanted = values(args, "status")
    bad = [s for s in wanted if s not in ("open", "closed")]
    if bad:
        raise InputError(tr("status: must be open or closed (comma-separated), not %(value)r", value=bad[0]))
    if not wanted or set(wanted) == {"open", "closed"}:
        return None
    return list(OPEN_STATUSES) if wanted == ["open"] * len(wanted) else list(FINAL_STATUSES)


def service_codes(args: Mapping[str, Any], taxonomy) -> list[str] | None:
    """service_code=a,b -> the codes (None: any); an unknown code is an error, not an empty answer."""
    codes = values(args, "service_code")
    unknown = [c for c in codes if c not in taxonomy]
    if unknown:
        raise InputError(tr("service_code: unknown service_code %(code)r (GET services.json lists them)", code=unknown[0]))
    return codes or None


def window(args: Mapping[str, Any], now: dt.datetime, tz: dt.tzinfo, start_name: str = "start_date",
           end_name: str = "end_date") -> Window:
    """start_date/end_date (W3C) and page/page_size: default the last 90 days, never more than 90."""
    start, end = _time(args.get(start_name), start_name, tz), _time(args.get(end_name), end_name, tz)
    if start is not None and end is None:
        end = min(start + WINDOW, max(now, start))
    end = end or now.replace(microsecond=0) + dt.timedelta(seconds=1)  # whole seconds, as the times shown
    start = start or end - WINDOW
    if start >= end:
        raise InputError(tr("%(start)s: must be before %(end)s", start=start_name, end=end_name))
    if end - start > WINDOW:
        raise InputError(tr("%(start)s..%(end)s: may not span more than 90 days (GeoReport v2), this one spans %(days)s "
                            "days: ask page by page of 90 days", start=start_name, end=end_name, days=(end - start).days))
    page = _int(args.get("page"), "page", 1, 1, 10**6)
    size = _int(args.get("page_size"), "page_size", MAX_PAGE, 1, MAX_PAGE)
    return Window(start, end, page, size)


def _time(raw: Any, name: str, tz: dt.tzinfo) -> dt.datetime | None:
    if raw in (None, ""):
        return None
    text = str(raw).strip()
    if "T" in text:  # an unencoded "+08:00" in a query string arrives as " 08:00"
        text = text.replace(" ", "+").replace("Z", "+00:00")
    try:
        t = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InputError(tr("%(name)s: %(value)r is not a W3C date-time (e.g. 2026-05-01T00:00:00Z)", name=name, value=raw)) from None
    check_moment(t, name)  # 1970..2199: the edges of Python's range overflow when a window is shifted
    return t if t.tzinfo else t.replace(tzinfo=tz)


def _int(raw: Any, name: str, default: int, low: int, high: int) -> int:
    if raw in (None, ""):
        return default
    try:
        n = int(str(raw))
    except ValueError:
        raise InputError(tr("%(name)s: must be a whole number, not %(value)r", name=name, value=raw)) from None
    if not low <= n <= high:
        raise InputError(tr("%(name)s: must be from %(low)s to %(high)s, not %(value)s", name=name, low=low, high=high, value=n))
    return n


# -- POST -----------------------------------------------------------------------------------
def post_fields(data: Mapping[str, Any]) -> tuple[dict, dict, list[str]]:
    """A POST's fields -> (report body for the loop, Open311 fields kept with the incident, problems).

    Kept: address_string (shown as `address`), address_id, media_url, email, device_id, account_id
    and attribute[code] (shown to no one but staff: the service has no attribute definitions).
    """
    problems: list[str] = []
    name = " ".join(str(x) for x in (data.get("first_name"), data.get("last_name")) if x) or None
    body = {"category": data.get("service_code"), "description": data.get("description"), "reporter_name": name,
            "reporter_phone": data.get("phone") or None, "crs": data.get("crs")}
    if data.get("lat") not in (None, "") or data.get("long") not in (None, ""):
        body.update(lon=data.get("long"), lat=data.get("lat"))
    kept: dict[str, Any] = {}
    for key, limit in _TEXT_FIELDS.items():
        _keep(kept, key, data.get(key), limit, problems)
    if _keep(kept, "media_url", data.get("media_url"), 2000, problems) and not _URL.match(kept["media_url"]):
        problems.append(tr("media_url: must be an http(s) URL, not %(value)r", value=kept.pop("media_url")))
    if _keep(kept, "email", data.get("email"), 254, problems) and not _EMAIL.match(kept["email"]):
        problems.append(tr("email: %(value)r is not an e-mail address", value=kept.pop("email")))
    attributes = _attributes(data, problems)
    if attributes:
        kept["attributes"] = attributes
    if "lon" not in body and (kept.get("address_string") or kept.get("address_id")):
        problems.append(tr("location: this server has no geocoder, so address_string or address_id alone cannot be placed "
                           "in a grid: send lat and long (WGS84) as well"))
    return body, kept, problems


def _keep(kept: dict, key: str, value: Any, limit: int, problems: list[str]) -> bool:
    if value in (None, ""):
        return False
    text = str(value).strip()
    if len(text) > limit:
        problems.append(tr("%(field)s: %(n)s characters, over the limit of %(limit)s", field=key, n=len(text), limit=limit))
        return False
    if "\x00" in text:
        problems.append(tr("%(field)s: contains a NUL character", field=key))
        return False
    if text:
        kept[key] = text
    return bool(text)


def _attributes(data: Mapping[str, Any], problems: list[str]) -> dict[str, Any]:
    """attribute[code]=value (form), attribute[code][]=a&...=b (multi-value), or {"attribute": {...}} (JSON)."""
    out: dict[str, Any] = {}
    nested = data.get("attribute")
    if isinstance(nested, Mapping):
        items = [(f"attribute[{k}]", v) for k, v in nested.items()]
    else:
        items = []
    getlist = getattr(data, "getlist", None)
    for key in data.keys():
        if key.startswith("attribute["):
            items.append((key, getlist(key) if getlist and key.endswith("[]") else data.get(key)))
    for key, value in items:
        m = _ATTRIBUTE.match(key)
        if not m:
            problems.append(tr("%(field)s: not an attribute[code] field (code: letters, digits, _ . -)", field=key))
            continue
        vals = value if isinstance(value, list) else [value]
        if any(len(str(v)) > 500 for v in vals):
            problems.append(tr("%(field)s: over the limit of 500 characters", field=key))
            continue
        out[m.group(1)] = [str(v) for v in vals] if m.group(2) or isinstance(value, list) else str(value)
    if len(out) > 50:
        problems.append(tr("attribute: %(n)s attributes, over the limit of 50", n=len(out)))
    return out


def open311_problem(problem: str, data: Mapping[str, Any]) -> str:
    """A problem as the loop words it -> the same with Open311's field names (service_code, lat/long, phone)."""
    if "look swapped" in problem:
        lat, lon = data.get("lat"), data.get("long")
        return (f"location: lat={lat} 与 long={lon} 似乎颠倒 / look swapped: Open311's `lat` is the latitude "
                f"(north, 18–54 in China) and `long` the longitude (east, 73–135): send lat={lon}&long={lat}")
    if "location: required" in problem:
        return "location: 需要 lat 和 long / required: lat and long (WGS84), or a `crs` for other coordinates"
    return (problem.replace("category:", "service_code:").replace("reporter_phone:", "phone:")
            .replace("reporter_name:", "first_name/last_name:").replace("lon/lat", "long/lat"))
