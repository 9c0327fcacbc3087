"""The drawing primitives of a patrol-map page: text in the CJK font, shapes in page units,
labels that do not overlap. The page parts build on them (furniture, panels, sheets)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from . import layout
from .layout import Frame
from .model import PrintBook

BLACK = (0, 0, 0)
WHITE = (1, 1, 1)
GREY = (0.45, 0.45, 0.45)
LIGHT = (0.93, 0.93, 0.93)
ROUTE = (0.05, 0.25, 0.65)
RED = (0.80, 0.08, 0.08)
WEEKDAYS = "一二三四五六日"


@dataclass
class _Labels:
    """Boxes already taken on a page, so labels do not overlap."""

    boxes: list[tuple[float, float, float, float]] = field(default_factory=list)

    def free(self, box) -> bool:
        x0, y0, x1, y1 = box
        return all(x1 < a or x0 > c or y1 < b or y0 > d for a, b, c, d in self.boxes)

    def take(self, box) -> None:
        self.boxes.append(box)


class Canvas:
    """One PDF page being drawn: the reportlab canvas, the font, the book, the taken label boxes."""

    def __init__(self, c, font: str, book: PrintBook, page_no: int, total: int):
        self.c, self.font, self.book, self.page_no, self.total = c, font, book, page_no, total
        self.labels = _Labels()

    # -- text helpers -----------------------------------------------------------------------
    def width(self, s: str, size: float) -> float:
        from reportlab.pdfbase.pdfmetrics import stringWidth

        return stringWidth(s, self.font, size)

    def fit(self, s: str, size: float, max_w: float) -> str:
        if self.width(s, size) <= max_w:
            return s
        while s and self.width(s + "…", size) > max_w:
            s = s[:-1]
        return s + "…"

    def text(self, x, y, s, size=7.0, color=BLACK, bold=False, anchor="start", halo=False, max_w=None):
        c = self.c
        if max_w is not None:
            s = self.fit(s, size, max_w)
        w = self.width(s, size)
        if anchor == "middle":
            x -= w / 2
        elif anchor == "end":
            x -= w
        c.saveState()
        c.setLineJoin(1)
        if halo:  # a pale box under the label keeps it readable over lines (and text extraction clean)
            c.setFillColorRGB(*WHITE)
            c.setFillAlpha(0.8)
            c.rect(x - 1, y - size * 0.28, w + 2, size * 1.18, stroke=0, fill=1)
            c.setFillAlpha(1)
        t = c.beginText(x, y)
        t.setFont(self.font, size)
        c.setFillColorRGB(*color)
        t.setTextRenderMode(2 if bold else 0)
        if bold:
            c.setStrokeColorRGB(*color)
            c.setLineWidth(size * 0.045)
        t.textOut(s)
        c.drawText(t)
        c.restoreState()
        return w

    def heading(self, x, y, zh, en, w):
        self.text(x, y, zh, 8, bold=True)
        self.text(x + self.width(zh, 8) + 3, y, en, 6.5, GREY, max_w=w - self.width(zh, 8) - 3)

    # -- page furniture ---------------------------------------------------------------------
    def start(self, frame: Frame):
        self.c.setPageSize((frame.page_w, frame.page_h))
        self.frame = frame

    def header(self, title: str, subtitle: str, kind: str):
        f = self.frame
        top = f.page_h - layout.MARGIN
        right = f.page_w - layout.MARGIN
        kw = self.text(right, top - 12, kind, 8, GREY, anchor="end")
        self.text(layout.MARGIN, top - 14, title, 14, bold=True, max_w=right - layout.MARGIN - kw - 8)
        self.text(layout.MARGIN, top - 28, subtitle, 8, max_w=right - layout.MARGIN)
        c = self.c
        c.setLineWidth(0.8)
        c.setStrokeColorRGB(*BLACK)
        c.line(layout.MARGIN, top - layout.HEADER + 4, right, top - layout.HEADER + 4)

    def footer(self, scale_text: str):
        f, b = self.frame, self.book
        y = layout.MARGIN + 1
        plan = f"v{b.plan_version}" if b.plan_version is not None else "-"
        left = (f"规划版本 Plan {plan} · 打印日期 Printed {b.printed_on.isoformat()} · {scale_text} · "
                f"{f.paper} {'纵向 portrait' if f.orientation == 'portrait' else '横向 landscape'} · gridmap")
        self.text(layout.MARGIN, y, left, 6.5, GREY, max_w=f.page_w - 2 * layout.MARGIN - 60)
        self.text(f.page_w - layout.MARGIN, y, f"{self.page_no} / {self.total}", 7, anchor="end")
        self.c.setLineWidth(0.4)
        self.c.setStrokeColorRGB(*GREY)
        self.c.line(layout.MARGIN, y + 9, f.page_w - layout.MARGIN, y + 9)

    # -- geometry helpers -------------------------------------------------------------------
    def to_page(self, geom: BaseGeometry, frame: Frame | None = None) -> BaseGeometry:
        frame = frame or self.frame
        return shapely.transform(layout.project(geom, frame.epsg), lambda xy: frame.to_page(xy))

    def pt(self, lon: float, lat: float, frame: Frame | None = None) -> tuple[float, float]:
        frame = frame or self.frame
        x, y = frame.to_page(layout.project_xy([(lon, lat)], frame.epsg))[0]
        return float(x), float(y)

    def polygon(self, geom: BaseGeometry, stroke=BLACK, fill=None, width=0.6, dash=None):
        c = self.c
        polys = [g for g in getattr(geom, "geoms", [geom]) if g.geom_type == "Polygon" and not g.is_empty]
        if not polys:
            return
        p = c.beginPath()
        for poly in polys:
            for ring in [poly.exterior, *poly.interiors]:
                pts = np.asarray(ring.coords)
                p.moveTo(*pts[0])
                for q in pts[1:]:
                    p.lineTo(*q)
                p.close()
        c.saveState()
        c.setLineJoin(1)
        c.setLineWidth(width)
        if stroke:
            c.setStrokeColorRGB(*stroke)
        if fill:
            c.setFillColorRGB(*fill)
        if dash:
            c.setDash(*dash)
        c.drawPath(p, stroke=1 if stroke else 0, fill=1 if fill else 0, fillMode=0)
        c.restoreState()

    def clip(self, box):
        p = self.c.beginPath()
        p.rect(*box)
        self.c.clipPath(p, stroke=0, fill=0)

    def white_box(self, x, y, w, h, alpha=0.88):
        c = self.c
        c.saveState()
        c.setFillColorRGB(*WHITE)
        c.setFillAlpha(alpha)
        c.setStrokeColorRGB(*GREY)
        c.setLineWidth(0.4)
        c.rect(x, y, w, h, stroke=1, fill=1)
        c.restoreState()
        self.labels.take((x, y, x + w, y + h))

    def label(self, x, y, s, size, color=BLACK, offsets=((0, 0),), bold=False, halo=True, box=None) -> bool:
        """Put a centred label at the first offset whose box is free (and inside `box`); False if none is."""
        w, h = self.width(s, size), size
        for dx, dy in offsets:
            cx, cy = x + dx, y + dy
            bb = (cx - w / 2 - 1, cy - 1.5, cx + w / 2 + 1, cy + h)
            if box is not None and not (bb[0] >= box[0] and bb[1] >= box[1] and bb[2] <= box[0] + box[2]
                                        and bb[3] <= box[1] + box[3]):
                continue
            if self.labels.free(bb):
                self.labels.take(bb)
                self.text(cx, cy, s, size, color, bold=bold, anchor="middle", halo=halo)
                return True
        return False

    def wrap(self, s: str, size: float, w: float) -> list[str]:
        """Lines of at most `w` points, broken after '/', '?' or '&' where possible."""
        lines = []
        while s:
            if self.width(s, size) <= w - 2:
                lines.append(s)
                break
            cut = len(s)
            while cut > 1 and self.width(s[:cut], size) > w - 2:
                cut -= 1
            soft = max(s.rfind(ch, 0, cut) for ch in "/?&=")
            cut = soft + 1 if soft > cut // 2 else cut
            lines.append(s[:cut])
            s = s[cut:]
        return lines
