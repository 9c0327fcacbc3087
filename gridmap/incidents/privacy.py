"""The one public policy for incidents: what anyone may see without signing in.

Every public route applies these two functions (the API's public view, the status page, the
maps and grid pages, Open311 GeoReport v2 and the OGC API):

- **Text after moderation.** A report's description is shown to the public only once a
  dispatcher has filed it (立案: any status but ``reported`` and ``rejected``): until then,
  and for a rejected report, the text is withheld (an empty string), as it may hold a name,
  a phone number or abuse that nobody has read yet.
- **Points rounded.** Coordinates are rounded to ``PUBLIC_DECIMALS`` (3) decimal degrees,
  about 110 m north-south and 90 m east-west at 35°N: enough to find the problem's block, not
  the door of the person who reported it. Staff who may see the incident get the exact point.
- **Photos after moderation**, like the text: a photo is stripped of its EXIF (the GPS
  position of the shot, the camera, the time) when it is stored, but it may still show a face,
  a number plate or the inside of a home, so the public sees it (and its thumbnail) only once
  the report is filed. Staff who may see the incident see it at once.
- **Never** the reporter's name, phone, e-mail or device, nor the assignee.

Signed-in office roles and the staff of the incident's grid see everything (actors.can_see);
leaders see the office view without the reporter's name and phone.
"""

from __future__ import annotations

from .model import Incident

PUBLIC_DECIMALS = 3
UNMODERATED = ("reported", "rejected")  # not yet read by a dispatcher, or refused


def public_description(inc: Incident) -> str:
    """The description as the public may read it: empty until the report is filed."""
    return "" if inc.status in UNMODERATED else (inc.description or "")


def text_withheld(inc: Incident) -> bool:
    """Whether the public view leaves out a description the incident has."""
    return bool(inc.description) and inc.status in UNMODERATED


def photo_public(inc: Incident) -> bool:
    """Whether the public may see the incident's photo: once filed, as the text."""
    return inc.status not in UNMODERATED


def public_point(lon: float, lat: float) -> tuple[float, float]:
    """(lon, lat) rounded for the public (EPSG:4326 degrees, PUBLIC_DECIMALS decimals)."""
    return round(lon, PUBLIC_DECIMALS), round(lat, PUBLIC_DECIMALS)
