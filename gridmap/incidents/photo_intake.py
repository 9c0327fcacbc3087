"""A report's photo on its way in: checked and re-encoded (photos.py), written to the photo folder
(store/photofiles.py), and removed again if the incident's transaction does not commit.

The incident keeps what it needs to find the files in `extra["photo"]`, written in the same
row and transaction as the incident itself: {"id", "width", "height", "bytes", "thumb_width",
"thumb_height", "format"} (format: what was sent; the files are always JPEG).
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from ..errors import InputError
from ..i18n import tr
from ..store import photofiles
from .model import Incident
from .photos import prepare


def photo_folder(settings) -> Path | None:
    """The settings' photo folder, or None when this store takes no photos."""
    return photofiles.photo_root(settings.photo_dir, settings.db)


@contextmanager
def store_photo(settings, data: bytes) -> Iterator[dict[str, Any]]:
    """Check and write a photo; yield its record for the incident; remove the files if the body raises."""
    root = photo_folder(settings)
    if root is None:
        raise InputError(tr("photo: this server takes no photos (setting photo_dir is off, or unset for a "
                            "PostgreSQL store): send the report without one"))
    ready = prepare(data, settings.photo_max_bytes, settings.photo_max_pixels)
    photo_id = photofiles.new_id()
    photofiles.write(root, photo_id, ready.jpeg, ready.thumb)
    try:
        yield {"id": photo_id, "width": ready.width, "height": ready.height, "bytes": len(ready.jpeg),
               "thumb_width": ready.thumb_width, "thumb_height": ready.thumb_height, "format": ready.source_format}
    except BaseException:
        photofiles.remove(root, photo_id)  # the report was refused or its transaction failed: no orphan
        raise


def photo_of(inc: Incident) -> dict[str, Any] | None:
    """The incident's photo record, or None (no photo, or a record that does not name a valid id)."""
    rec = inc.extra.get("photo") if isinstance(inc.extra, dict) else None
    if isinstance(rec, dict) and isinstance(rec.get("id"), str) and photofiles.valid_id(rec["id"]):
        return rec
    return None


def prune(settings, repo, older_than_s: float, dry_run: bool = False) -> list[str]:
    """Remove the photo folder's files no incident names (left by a process killed between writing a
    photo and committing its report) and stale temporary files, older than `older_than_s` seconds
    (a report being filed right now is younger). Returns the files removed (or that would be)."""
    import time

    root = photo_folder(settings)
    if root is None:
        return []
    cutoff = time.time() - older_than_s
    files = {f: m for f, m in photofiles.stored(root).items() if m < cutoff}  # listed before the ids are read
    keep = repo.photo_ids()
    gone = sorted(f for f in files if photofiles.id_of(f) not in keep)
    if not dry_run:
        for f in gone:
            Path(f).unlink(missing_ok=True)
    return gone
