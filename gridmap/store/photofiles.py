"""The photo folder beside the store: residents' photos as files named by a random id.

Where: the setting `photo_dir`; empty = beside a SQLite store (`<file>.photos/`); a PostgreSQL
store needs `photo_dir` set (there is no file to put the folder beside), and `off` takes no
photos. Each photo is two files, `<id>.jpg` and `<id>.thumb.jpg`, in a sub-folder of the id's
first two characters (a folder of a million files is slow to list). Each is written to a
temporary file in the same folder and renamed into place, so a reader never sees half a file.
The database row naming the id is written afterwards in the incident's transaction; if that
fails the caller removes the files again (`remove`), so a refused report leaves nothing.
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
from pathlib import Path

_ID = re.compile(r"^[0-9a-f]{32}$")


def photo_root(setting: str, db: str | Path | None) -> Path | None:
    """The photo folder of a store, or None when the store takes no photos (see the module)."""
    if setting.strip().lower() == "off":
        return None
    if setting.strip():
        return Path(setting).expanduser().resolve()
    from .gridread import sqlite_file

    path = sqlite_file(db)
    return None if path is None else path.with_name(path.name + ".photos")


def new_id() -> str:
    """A random photo id (128 bits, hex): not guessable, not the incident's number."""
    return secrets.token_hex(16)


def valid_id(photo_id: str) -> bool:
    """Whether `photo_id` has the shape of an id `new_id` gives (no path can be smuggled in)."""
    return bool(_ID.match(photo_id))


def path_of(root: Path, photo_id: str, thumb: bool = False) -> Path:
    """The file of a photo (or of its thumbnail) under `root`."""
    if not valid_id(photo_id):
        raise ValueError(f"not a photo id: {photo_id!r}")
    return root / photo_id[:2] / (f"{photo_id}.thumb.jpg" if thumb else f"{photo_id}.jpg")


def write(root: Path, photo_id: str, jpeg: bytes, thumb: bytes) -> None:
    """Write both files atomically (temp file + fsync + rename); on any error nothing is left."""
    written: list[Path] = []
    try:
        for data, is_thumb in ((jpeg, False), (thumb, True)):
            target = path_of(root, photo_id, is_thumb)
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".jpg", dir=target.parent)
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.chmod(tmp, 0o644)
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            written.append(target)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise


def remove(root: Path, photo_id: str) -> None:
    """Remove a photo's files (missing ones are no error)."""
    for thumb in (False, True):
        path_of(root, photo_id, thumb).unlink(missing_ok=True)


def stored(root: Path) -> dict[str, float]:
    """Every file under `root` that is a photo, a thumbnail or a left-over temporary file: {path: mtime}."""
    out: dict[str, float] = {}
    if not root.is_dir():
        return out
    for sub in root.iterdir():
        if sub.is_dir() and len(sub.name) == 2:
            for f in sub.iterdir():
                if f.is_file() and (f.name.startswith(".tmp-") or valid_id(f.name.split(".", 1)[0])):
                    out[str(f)] = f.stat().st_mtime
    return out


def id_of(path: str | Path) -> str | None:
    """The photo id a file of the folder belongs to (None for a temporary file)."""
    name = Path(path).name
    return None if name.startswith(".tmp-") else name.split(".", 1)[0]
