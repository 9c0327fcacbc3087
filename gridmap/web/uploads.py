"""Photo uploads: the larger body allowed on the report routes only, and reading the file part.

The app refuses bodies over 1 MB (app.py). A view marked `@photo_upload` (POST /api/v1/incidents,
Open311 POST requests.json/xml) takes a multipart body of up to `photo_max_bytes` plus
FORM_ALLOWANCE for the other fields; a larger declared Content-Length is refused with 413 naming
the setting before any of it is read, and a body that runs past it while streaming is cut off
by Werkzeug (413 too). Every other route, and a JSON body on these routes, keeps 1 MB.
"""

from __future__ import annotations

from typing import Callable

from flask import Flask, current_app, request

from ..errors import InputError, TooLarge
from ..i18n import tr

_MARK = "_gridmap_photo_upload"
FORM_ALLOWANCE = 64 * 1024  # the report's text fields beside the photo, and the multipart framing


def photo_upload(view: Callable) -> Callable:
    """Mark a view: a multipart POST to it may carry a photo of up to `photo_max_bytes`."""
    setattr(view, _MARK, True)
    return view


def init_app(app: Flask, settings) -> None:
    """Raise the body limit of the marked views' multipart requests, before anything reads the body."""
    limit = settings.photo_max_bytes + FORM_ALLOWANCE

    @app.before_request
    def _photo_body_limit():
        view = current_app.view_functions.get(request.endpoint or "")
        if view is None or not getattr(view, _MARK, False) or request.mimetype != "multipart/form-data":
            return
        if request.content_length is not None and request.content_length > limit:
            raise TooLarge(tr("photo: too large: the request has %(n)s bytes, over the limit of "
                              "%(limit)s (setting photo_max_bytes, %(photo)s bytes for the photo); nothing was stored",
                              n=request.content_length, limit=limit, photo=settings.photo_max_bytes))
        request.max_content_length = limit


def uploaded_photo(*names: str) -> bytes | None:
    """The bytes of the first file part named one of `names`, or None (none sent, or an empty file input)."""
    for name in names:
        part = request.files.get(name)
        if part is None:
            if request.form.get(name):
                raise InputError(tr("%(field)s: send the photo as a file (multipart/form-data), not as text",
                                    field=name))
            continue
        data = part.read()
        if not data and not part.filename:
            return None  # a form's empty file input
        return data
    return None
