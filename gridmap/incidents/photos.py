"""A resident's photo, checked by its content and re-encoded for storage (pure: bytes in, bytes out).

What a phone camera sends (JPEG, PNG or HEIC, 2-8 MB, EXIF with the GPS position of the
shot) is never stored as sent:

- **By content.** Pillow must open it as JPEG, PNG or HEIC/HEIF (HEIC through pillow-heif);
  the file name and the Content-Type the client claims are ignored. Anything else is a 422
  naming what it is.
- **Bounded.** At most `photo_max_bytes` bytes (413) and `photo_max_pixels` pixels, checked
  from the header before the pixels are decoded (a decompression bomb: a few kB that
  decode to gigabytes), 422 above it.
- **Re-encoded.** Scaled to at most MAX_SIDE px on its long side (a large JPEG decoded at a
  reduced scale down to no less than MIN_SIDE), turned by its EXIF orientation (a portrait shot
  stays upright), then written as a fresh JPEG with no metadata at all: no EXIF (GPS, camera,
  time), no XMP, no ICC profile, no comment.
- **A thumbnail** of THUMB_SIDE px on the long side, for lists and the status page.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from ..errors import InputError, TooLarge
from ..i18n import tr

MAX_SIDE = 2560  # px: the long side of the stored photo at most (what a dispatcher needs to see, not a print)
MIN_SIDE = 1600  # px: a larger JPEG is decoded at a reduced scale only down to this long side
THUMB_SIDE = 320  # px: the long side of the thumbnail
QUALITY = 85
FORMATS = {"JPEG": "JPEG", "PNG": "PNG", "HEIF": "HEIC", "MPO": "JPEG"}  # MPO: a JPEG with a second frame


@dataclass(frozen=True)
class PreparedPhoto:
    """A photo ready to store: JPEG bytes without metadata, its thumbnail, and their sizes in px."""

    jpeg: bytes
    thumb: bytes
    width: int
    height: int
    thumb_width: int
    thumb_height: int
    source_format: str  # JPEG, PNG or HEIC: what was sent


def prepare(data: bytes, max_bytes: int, max_pixels: int) -> PreparedPhoto:
    """Check `data` by content and bounds, and re-encode it (see the module's rules).

    Raises TooLarge (413) above `max_bytes`, InputError (422) for anything not a JPEG, PNG or
    HEIC photo, an empty file, a damaged one, or more than `max_pixels` pixels.
    """
    if len(data) > max_bytes:
        raise TooLarge(tr("photo: %(n)s bytes, over the limit of %(limit)s (setting photo_max_bytes)",
                          n=len(data), limit=max_bytes))
    if not data:
        raise InputError(tr("photo: the file is empty"))
    from PIL import Image, ImageOps

    _register_heif()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own bound, below, decides
            img = Image.open(io.BytesIO(data), formats=["JPEG", "PNG", "HEIF"])
    except Image.DecompressionBombError:
        raise InputError(tr("photo: too many pixels (over the limit of %(limit)s, setting photo_max_pixels)",
                            limit=max_pixels)) from None
    except Exception:  # UnidentifiedImageError, a truncated header
        raise InputError(tr("photo: not a JPEG, PNG or HEIC picture (the content was checked, not the name)")) from None
    kind = FORMATS.get(img.format or "")
    if kind is None:
        raise InputError(tr("photo: %(format)s pictures are not accepted: send a JPEG, PNG or HEIC photo",
                            format=img.format))
    w, h = img.size
    if w * h > max_pixels:
        raise InputError(tr("photo: %(w)s x %(h)s px is over the limit of %(limit)s pixels (setting photo_max_pixels)",
                            w=w, h=h, limit=max_pixels))
    try:
        if kind == "JPEG" and max(w, h) > MAX_SIDE:
            # Decode at 1/2, 1/4 or 1/8 scale straight from the DCT while the long side stays at least
            # MIN_SIDE: a 12-megapixel phone photo (4032 x 3024) decodes at 2016 x 1512 in a quarter
            # of the time, with no resampling after it.
            img.draft("RGB", (max(1, w * MIN_SIDE // max(w, h)), max(1, h * MIN_SIDE // max(w, h))))
        img.load()
        # A square box: the same size whichever way the picture turns, so resizing before applying
        # the orientation (cheaper: fewer pixels to turn) gives what turning first would.
        img.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
        img = ImageOps.exif_transpose(img)  # apply the camera's orientation before the EXIF goes
        img = _rgb(img)
    except Exception:
        raise InputError(tr("photo: the picture is damaged or cut short and cannot be read")) from None
    thumb = img.copy()
    thumb.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.LANCZOS)
    return PreparedPhoto(_jpeg(img), _jpeg(thumb), img.width, img.height, thumb.width, thumb.height, kind)


def _rgb(img):
    """RGB for JPEG: transparency goes onto white (a screenshot's alpha), palettes are expanded."""
    from PIL import Image

    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        out = Image.new("RGB", rgba.size, (255, 255, 255))
        out.paste(rgba, mask=rgba.getchannel("A"))
        return out
    return img.convert("RGB") if img.mode != "RGB" else img


def _jpeg(img) -> bytes:
    """A baseline JPEG with no metadata: a new image's info is empty, and nothing is passed to save."""
    from PIL import Image

    clean = Image.new("RGB", img.size)
    clean.paste(img)
    out = io.BytesIO()
    clean.save(out, "JPEG", quality=QUALITY, optimize=True)
    return out.getvalue()


_HEIF_READY = False


def _register_heif() -> None:
    """Teach Pillow HEIC/HEIF (pillow-heif), once per process."""
    global _HEIF_READY
    if not _HEIF_READY:
        from pillow_heif import register_heif_opener

        register_heif_opener()
        _HEIF_READY = True
