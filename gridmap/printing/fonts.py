"""The CJK font every page is set in, so Chinese never prints as tofu boxes.

WenQuanYi Micro Hei (文泉驿微米黑, Apache-2.0, Latin and Simplified Chinese in one face) from
the system (Debian `fonts-wqy-microhei`, so the distribution's updates apply) if present, else the
copy vendored in `gridmap/printing/vendor/wqy-microhei/` with its licence (the same Debian file;
see the README there). reportlab embeds the subset a PDF uses.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from ..errors import GridmapError

FONT_NAME = "GridmapCJK"
SYSTEM_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy-microhei/wqy-microhei.ttc",
)
VENDORED_FONT = Path(__file__).parent / "vendor" / "wqy-microhei" / "wqy-microhei.ttc"


class FontMissing(GridmapError):
    """No CJK font could be found: printing would show boxes instead of Chinese."""

    exit_code = 2


def find_cjk_font() -> Path:
    """Path of the CJK font file: the system copy, else the one vendored in the package."""
    for p in (*SYSTEM_FONTS, VENDORED_FONT):
        if Path(p).is_file():
            return Path(p)
    raise FontMissing(f"no CJK font for printing: {VENDORED_FONT} is missing from this install "
                      "(reinstall gridmap) and no system copy was found (`apt-get install fonts-wqy-microhei`)")


@lru_cache(maxsize=None)
def register_font(path: str | None = None) -> str:
    """Register the CJK font with reportlab (once per process) and return its reportlab name."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    font = Path(path) if path else find_cjk_font()
    kwargs = {"subfontIndex": 0} if font.suffix.lower() == ".ttc" else {}
    pdfmetrics.registerFont(TTFont(FONT_NAME, str(font), **kwargs))
    return FONT_NAME
