"""Blueprint "photos": a report's photo and its thumbnail, `/photos/<incident>/<id>.jpg` and
`/photos/<incident>/thumb/<id>.jpg`.

Who sees them is the one privacy policy (incidents/privacy.py): the public once the report is
filed, staff who may see the incident at once; before that the public gets 403 saying why.
The id is random (store/photofiles.py), so a photo's address is not guessable from the
incident's number. The files are JPEGs without any metadata, served with an ETag.
"""

from __future__ import annotations

import io
from typing import Any

from flask import Blueprint, send_file, url_for

from ..errors import Forbidden, NotFound
from ..i18n import tr
from ..incidents.model import Incident
from ..incidents.photo_intake import photo_folder, photo_of
from ..incidents.privacy import photo_public
from ..policy import sees
from ..store import photofiles
from . import services
from .auth import current_actor

bp = Blueprint("photos", __name__)


@bp.get("/photos/<incident_id>/<photo_id>.jpg")
def photo(incident_id: str, photo_id: str):
    """The photo (at most 2560 px on its long side)."""
    return _send(incident_id, photo_id, thumb=False)


@bp.get("/photos/<incident_id>/thumb/<photo_id>.jpg")
def thumbnail(incident_id: str, photo_id: str):
    """The photo's thumbnail (320 px on its long side)."""
    return _send(incident_id, photo_id, thumb=True)


def _send(incident_id: str, photo_id: str, thumb: bool):
    inc = _incident(incident_id)
    rec = photo_of(inc)
    root = photo_folder(services().settings)
    if rec is None or rec["id"] != photo_id or root is None:
        raise NotFound(tr("incident %(id)s has no photo %(photo)r", id=inc.id, photo=photo_id[:40]))
    staff = _staff_sees(inc)
    if not staff and not photo_public(inc):
        raise Forbidden(tr("the photo of incident %(id)s is shown to the public once the report is filed", id=inc.id))
    path = photofiles.path_of(root, rec["id"], thumb)
    if not path.is_file():
        raise NotFound(tr("the photo file of incident %(id)s is missing from the photo folder", id=inc.id))
    # Read whole (at most a few hundred kB): no file handle outlives the request. The files of an
    # id never change, so the id is the ETag.
    response = send_file(io.BytesIO(path.read_bytes()), mimetype="image/jpeg", conditional=True,
                         etag=f"{rec['id']}{'-t' if thumb else ''}", max_age=3600)
    # Public photos may be cached anywhere; a photo shown to staff only may not sit in a shared cache.
    if photo_public(inc):
        response.cache_control.public = True
    else:
        response.cache_control.private = True
    return response


def _incident(incident_id: str) -> Incident:
    if not incident_id.isdigit() or len(incident_id) > 18:
        raise NotFound(tr("no incident %(id)r", id=incident_id[:40]))
    return services().incidents.repo.get(incident_id)


def _staff_sees(inc: Incident) -> bool:
    return sees(current_actor(), "incident_internal", (inc.grid_code, inc.zone_code))


def photo_view(inc: Incident, public: bool) -> dict[str, Any] | None:
    """The photo's absolute URLs and sizes for a view of `inc`; None without a photo, or when the
    public view may not show it yet (`public`: the view is the public one)."""
    rec = photo_of(inc)
    if rec is None or (public and not photo_public(inc)):
        return None
    return {"url": url_for("photos.photo", incident_id=inc.id, photo_id=rec["id"], _external=True),
            "thumb_url": url_for("photos.thumbnail", incident_id=inc.id, photo_id=rec["id"], _external=True),
            "width": rec.get("width"), "height": rec.get("height"),
            "thumb_width": rec.get("thumb_width"), "thumb_height": rec.get("thumb_height")}


def photo_withheld(inc: Incident) -> bool:
    """Whether the public view leaves out a photo the incident has (not filed yet)."""
    return photo_of(inc) is not None and not photo_public(inc)
