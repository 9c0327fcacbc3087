"""The CJK font every page is set in, so Chinese never prints as tofu boxes.

WenQuanYi Micro Hei (文泉驿微米黑, Apache-2.0, Latin and Simplified Chinese in one face) from
the system (Debian `fonts-wqy-microhei`) if present, else from the PyPI package
`paperang-p2-fonts-cjk`, a declared dependency of gridmap. reportlab embeds the subset a PDF
uses.
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


class FontMissing(GridmapError):
    """No CJK font could be found: printing would show boxes instead of Chinese."""

    exit_code = 2


def find_cjk_font() -> Path:
    """Path of the CJK font file: the system copy, else the one shipped by paperang-p2-fonts-cjk."""
    for p in SYSTEM_FONTS:
        if Path(p).is_file():
            return Path(p)
    try:
        import paperang_p2_fonts_cjk
    except ImportError:
        pkg = None
    else:
        pkg = Path(paperang_p2_fonts_cjk.__file__).parent / "fonts" / "wqy-microhei.ttc"
    if pkg is not None and pkg.is_file():
        return pkg
    raise FontMissing("no CJK font for printing: `pip install paperang-p2-fonts-cjk` (a gridmap dependency) "
                      "or `apt-get install fonts-wqy-microhei`")


@lru_cache(maxsize=None)
def register_font(path: str | None = None) -> str:
    """Register the CJK font with reportlab (once per process) and return its reportlab name."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    font = Path(path) if path else find_cjk_font()
    kwargs = {"subfontIndex": 0} if font.suffix.lower() == ".ttc" else {}
    pdfmetrics.registerFont(TTFont(FONT_NAME, str(font), **kwargs))
    return FONT_NAME
