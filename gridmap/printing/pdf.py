"""`patrol_pdf(book) -> bytes`: the vector PDF of a PrintBook. A pure function (STYLE R9).

One page per grid (after an overview page for a map book): title, the map (the grid, its
neighbours drawn lighter with their codes, sites, open incidents, the numbered patrol route,
scale bar, north arrow, a legend of what is on the page), a locator map of the zone, the 1+1+N
staff table, the duty roster for the coming week, the open incidents, a QR code to the
resident report page, and the plan version and print date in the footer. Black lines and
shapes carry the meaning, so a black-and-white print reads as well as a colour one. All text
is set in one CJK font, embedded as a subset.
"""

from __future__ import annotations

import io
import itertools
import math
from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from . import layout
from .layout import MM, Frame
from .model import GridSheet, Neighbour, PrintBook

BLACK = (0, 0, 0)
WHITE = (1, 1, 1)
GREY = (0.45, 0.45, 0.45)
LIGHT = (0.93, 0.93, 0.93)
ROUTE = (0.05, 0.25, 0.65)
RED = (0.80, 0.08, 0.08)
WEEKDAYS = "一二三四五六日"
ROLE_EN = {"leader": "leader", "instructor": "instructor", "worker": "worker", "zone_secretary": "zone secretary",
           "zone_director": "zone director", "info_officer": "info officer"}


def patrol_pdf(book: PrintBook) -> bytes:
    """Render a PrintBook (one grid page, or an overview page and one page per grid) to PDF bytes."""
    from reportlab.pdfgen import canvas

    from .fonts import register_font

    font = register_font()
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pageCompression=1)
    c.setTitle(f"gridmap 网格巡查图 {book.title}")
    c.setAuthor("gridmap")
    c.setCreator("gridmap")
    c.setSubject("patrol map / 网格巡查图")
    pages = _overview_pages(book) if book.overview else []
    total = len(pages) + len(book.sheets)
    page_no = 0
    for rows in pages:
        page_no += 1
        _Page(c, font, book, page_no, total).overview(rows, first=page_no == 1)
    for sheet in book.sheets:
        page_no += 1
        _Page(c, font, book, page_no, total).grid(sheet)
    c.save()
    return buf.getvalue()


def _overview_pages(book: PrintBook) -> list[list[tuple[int, str, str]]]:
    """The index rows (page, code, name) of each overview page: as many as fit, then continuation pages."""
    first_grid_page = 1
    rows, per_first, per_next = [], 3 * 40, 3 * 68
    n_over = 1 if len(book.sheets) <= per_first else 1 + math.ceil((len(book.sheets) - per_first) / per_next)
    first_grid_page += n_over
    for i, s in enumerate(book.sheets):
        rows.append((first_grid_page + i, s.code, s.name))
    return [rows[:per_first]] + [rows[per_first + k * per_next: per_first + (k + 1) * per_next]
                                 for k in range(n_over - 1)]


@dataclass
class _Labels:
    """Boxes already taken on a page, so labels do not overlap."""

    boxes: list[tuple[float, float, float, float]] = field(default_factory=list)

    def free(self, box) -> bool:
        x0, y0, x1, y1 = box
        return all(x1 < a or x0 > c or y1 < b or y0 > d for a, b, c, d in self.boxes)

    def take(self, box) -> None:
        self.boxes.append(box)


class _Page:
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

    # -- map elements -----------------------------------------------------------------------
    def basemap(self, sheet: GridSheet):
        from reportlab.lib.utils import ImageReader

        bm = sheet.basemap
        if bm is None:
            return
        (tlx, tly), (trx, try_), (blx, bly) = [self.pt(lon, lat) for lon, lat in bm.corners]
        brx, bry = trx + blx - tlx, try_ + bly - tly
        c = self.c
        c.saveState()
        c.transform(brx - blx, bry - bly, tlx - blx, tly - bly, blx, bly)
        c.drawImage(ImageReader(io.BytesIO(bm.png)), 0, 0, width=1, height=1)
        c.restoreState()

    def north_arrow(self, x, y, size=9 * MM):
        """A north arrow at (x, y) (its centre), pointing to true north (meridian convergence included)."""
        f = self.frame
        cx, cy = f.centre
        lon, lat = layout.unproject_xy([(cx, cy)], f.epsg)[0]
        a, b = layout.project_xy([(lon, lat), (lon, lat + 0.01)], f.epsg)
        ang = math.atan2(b[0] - a[0], b[1] - a[1])  # clockwise from page-up
        c = self.c
        c.saveState()
        c.translate(x, y)
        c.rotate(-math.degrees(ang))
        h = size / 2
        c.setLineWidth(0.6)
        c.setStrokeColorRGB(*BLACK)
        p = c.beginPath()
        p.moveTo(0, h)
        p.lineTo(-h * 0.38, -h * 0.55)
        p.lineTo(0, -h * 0.25)
        p.close()
        c.setFillColorRGB(*BLACK)
        c.drawPath(p, stroke=1, fill=1)
        p = c.beginPath()
        p.moveTo(0, h)
        p.lineTo(h * 0.38, -h * 0.55)
        p.lineTo(0, -h * 0.25)
        p.close()
        c.setFillColorRGB(*WHITE)
        c.drawPath(p, stroke=1, fill=1)
        c.restoreState()
        self.text(x, y + h + 3.5, "N 北", 7, bold=True, anchor="middle", halo=True)

    def scale_bar_geometry(self, right, y):
        f = self.frame
        _, _, mw, _ = f.map_box
        length_m = layout.nice_length(min(mw * 0.3, 60 * MM) / f.pt_per_m)
        w = length_m * f.pt_per_m
        unit, div = ("km", 1000.0) if length_m >= 1000 else ("m", 1.0)
        last = f"{length_m / div:g}"
        tail = self.width(last, 6) / 2 + 3 + self.width(unit, 6.5)
        x0 = right - tail - w
        return length_m, w, unit, div, x0, (x0 - 5, y - 9, w + tail + 10, 27)

    def scale_bar(self, right, y):
        """A scale bar in metres ending (with its unit) at `right`, with the scale above it."""
        f = self.frame
        length_m, w, unit, div, x0, (bx, by, bw, bh) = self.scale_bar_geometry(right, y)
        self.white_box(bx, by, bw, bh)
        c = self.c
        c.saveState()
        c.setLineWidth(0.5)
        c.setStrokeColorRGB(*BLACK)
        for i in range(4):
            c.setFillColorRGB(*(BLACK if i % 2 == 0 else WHITE))
            c.rect(x0 + i * w / 4, y, w / 4, 3, stroke=1, fill=1)
        c.restoreState()
        for i in (0, 2, 4):
            v = length_m * i / 4 / div
            self.text(x0 + i * w / 4, y - 7, f"{v:g}", 6, anchor="middle")
        self.text(x0 + w + self.width(f"{length_m / div:g}", 6) / 2 + 3, y - 7, unit, 6.5)
        self.text(x0 + w / 2, y + 6, f"比例尺 1:{f.scale:,}", 7, anchor="middle", bold=True)

    def legend_size(self, items) -> tuple[float, float]:
        size, row = 6.5, 10.5
        return 16 + max(self.width(t, size) for _, t in items) + 8, row * len(items) + 15

    def legend(self, items: list[tuple[str, str]], x, y):
        """A legend at (x, y) (bottom-left), one row per kind of thing drawn on this page."""
        size, row = 6.5, 10.5
        w, h = self.legend_size(items)
        self.white_box(x, y, w, h)
        self.text(x + 4, y + h - 10, "图例 Legend", 7, bold=True)
        c = self.c
        for i, (kind, label) in enumerate(items):
            yy = y + h - 13 - row * (i + 1)
            sx = x + 5
            c.saveState()
            if kind == "grid":
                c.setLineWidth(1.8)
                c.setStrokeColorRGB(*BLACK)
                c.rect(sx, yy, 10, 6, stroke=1, fill=0)
            elif kind == "neighbour":
                c.setLineWidth(0.6)
                c.setDash(2, 1.5)
                c.setStrokeColorRGB(*GREY)
                c.setFillColorRGB(*LIGHT)
                c.rect(sx, yy, 10, 6, stroke=1, fill=1)
            elif kind == "book":
                c.setLineWidth(0.8)
                c.setStrokeColorRGB(*BLACK)
                c.setFillColorRGB(*WHITE)
                c.rect(sx, yy, 10, 6, stroke=1, fill=1)
            elif kind == "route":
                c.setLineWidth(1.4)
                c.setStrokeColorRGB(*ROUTE)
                c.line(sx, yy + 3, sx + 10, yy + 3)
            elif kind == "stop":
                self.stop_marker(sx + 5, yy + 3, "1", incident=False, r=3.6)
            elif kind == "incident":
                self.stop_marker(sx + 5, yy + 3, "1", incident=True, r=3.6)
            elif kind == "site":
                self.stop_marker(sx + 5, yy + 3, "1", incident=False, r=3.6, square=True)
            elif kind == "household":
                c.setFillColorRGB(*GREY)
                c.circle(sx + 5, yy + 3, 1.2, stroke=0, fill=1)
            c.restoreState()
            self.text(sx + 14, yy + 1, label, size)

    def stop_marker(self, x, y, n: str, incident: bool, r=5.2, square=False):
        c = self.c
        c.saveState()
        c.setFillColorRGB(*WHITE)
        c.setStrokeColorRGB(*(RED if incident else BLACK))
        c.setLineWidth(1.5 if incident or square else 0.8)
        if square:
            c.rect(x - r, y - r, 2 * r, 2 * r, stroke=1, fill=1)
        else:
            c.circle(x, y, r, stroke=1, fill=1)
        c.restoreState()
        size = r * (1.25 if len(n) == 1 else 1.05 if len(n) == 2 else 0.8)
        self.text(x, y - size * 0.36, n, size, bold=True, anchor="middle")

    def route_arrow(self, a, b):
        """A chevron at the middle of a route leg, pointing from a to b."""
        (x0, y0), (x1, y1) = a, b
        d = math.hypot(x1 - x0, y1 - y0)
        if d < 22:
            return
        ux, uy = (x1 - x0) / d, (y1 - y0) / d
        mx, my = (x0 + x1) / 2, (y0 + y1) / 2
        s = 3.2
        c = self.c
        p = c.beginPath()
        p.moveTo(mx - ux * s - uy * s, my - uy * s + ux * s)
        p.lineTo(mx, my)
        p.lineTo(mx - ux * s + uy * s, my - uy * s - ux * s)
        c.drawPath(p, stroke=1, fill=0)

    def qr(self, url: str, x, y, size, border: int = 4):
        """A QR code of `url` (error correction M) with its bottom-left corner at (x, y), `size`
        points square including the quiet zone: one vector path of the dark runs of each row."""
        from reportlab.graphics.barcode import qrencoder

        code = qrencoder.QRCode(None, qrencoder.QRErrorCorrectLevel.M)
        code.addData(url)
        code.make()
        n = code.getModuleCount()
        m = size / (n + 2 * border)
        c = self.c
        c.saveState()
        c.setFillColorRGB(*WHITE)
        c.rect(x, y, size, size, stroke=0, fill=1)
        c.setFillColorRGB(*BLACK)
        p = c.beginPath()
        for r, row in enumerate(code.modules):
            col = 0
            for dark, run in itertools.groupby(bool(v) for v in row):
                k = len(list(run))
                if dark:
                    p.rect(x + (border + col) * m, y + size - (border + r + 1) * m, k * m, m)
                col += k
        c.drawPath(p, stroke=0, fill=1)
        c.restoreState()

    def locator(self, box, units: list[Neighbour], highlight: set[str], outline: BaseGeometry | None, title: str):
        """A small map: `units` outlined, `highlight` filled black, `outline` (the zone) drawn over them."""
        x, y, w, h = box
        self.text(x, y + h - 8, title, 7, bold=True, max_w=w)
        inner = (x, y, w, h - 12)
        c = self.c
        c.saveState()
        c.setLineWidth(0.4)
        c.setStrokeColorRGB(*GREY)
        c.rect(*inner, stroke=1, fill=0)
        c.restoreState()
        geoms = [u.geometry for u in units] + ([outline] if outline is not None else [])
        if not geoms:
            return
        allg = shapely.union_all([g.envelope for g in geoms])
        epsg = layout.metric_epsg(allg)
        gx0, gy0, gx1, gy1 = layout.project(allg, epsg).bounds
        pad = 4
        k = min((inner[2] - 2 * pad) / max(gx1 - gx0, 1), (inner[3] - 2 * pad) / max(gy1 - gy0, 1))
        ox = inner[0] + inner[2] / 2 - (gx0 + gx1) / 2 * k
        oy = inner[1] + inner[3] / 2 - (gy0 + gy1) / 2 * k

        def tp(g):
            return shapely.transform(layout.project(g, epsg), lambda xy: xy * k + (ox, oy))

        for u in units:
            on = u.code in highlight
            self.polygon(tp(u.geometry), stroke=GREY if not on else BLACK, fill=BLACK if on else WHITE, width=0.3)
        if outline is not None:
            self.polygon(tp(outline), stroke=BLACK, width=0.9)

    def table(self, x, y_top, w, cols: list[tuple[float, str]], rows: list[list[str]], max_h: float,
              size=6.8, more_text=None, bold_first=False) -> float:
        """Rows under a header row; as many as fit in max_h (then a '… N more' line). Returns the height used."""
        row = size + 3.2
        c = self.c
        c.saveState()
        c.setFillColorRGB(*LIGHT)
        c.rect(x, y_top - row, w, row, stroke=0, fill=1)
        c.restoreState()
        xs, cx = [], x
        for frac, _ in cols:
            xs.append(cx)
            cx += frac * w
        for (frac, name), cx in zip(cols, xs):
            self.text(cx + 2, y_top - row + 2.4, name, size - 0.6, GREY, max_w=frac * w - 3)
        fit = max(0, int((max_h - row) // row))
        shown = rows if len(rows) <= fit else rows[:max(fit - 1, 0)]
        y = y_top - row
        c.saveState()
        c.setStrokeColorRGB(0.8, 0.8, 0.8)
        c.setLineWidth(0.3)
        for r in shown:
            y -= row
            for (frac, _), cx, v in zip(cols, xs, r):
                self.text(cx + 2, y + 2.4, v, size, bold=bold_first and cx == xs[0], max_w=frac * w - 3)
            c.line(x, y, x + w, y)
        c.restoreState()
        if len(shown) < len(rows):
            y -= row
            self.text(x + 2, y + 2.4, (more_text or "… {n} more").format(n=len(rows) - len(shown)), size, GREY)
        return y_top - y

    # -- the grid page ----------------------------------------------------------------------
    def grid(self, sheet: GridSheet):
        b = self.book
        f = layout.choose_frame(sheet.geometry, b.paper, b.orientation, b.scale)
        self.start(f)
        zone = " ".join(x for x in (sheet.zone_code, sheet.zone_name) if x) or "-"
        town = " ".join(x for x in (sheet.town_code, sheet.town_name) if x) or "-"
        hh = f" · {sheet.households:,} 户 households" if sheet.households else ""
        self.header(f"{sheet.code}  {sheet.name}", f"管区 Zone {zone} · 镇街 Town {town}{hh}",
                    "网格巡查图 Patrol map")
        self.map(sheet)
        if f.orientation == "portrait":
            self.panel_column(sheet)
        else:
            self.panel_band(sheet)
        self.footer(f"比例尺 Scale 1:{f.scale:,}")
        self.c.showPage()

    def legend_items(self, sheet: GridSheet, neighbours: bool) -> list[tuple[str, str]]:
        items = [("grid", "本网格 this grid")]
        if neighbours:
            items.append(("neighbour", "相邻网格 neighbouring grid (code)"))
        if sheet.route_path:
            how = "道路距离 by road" if sheet.route_metric == "road" else "直线距离 straight-line"
            items.append(("route", f"巡查路线 patrol route {sheet.route_length_m / 1000:.1f} km ({how})"))
        if any(s.kind == "shape" for s in sheet.checkpoints):
            items.append(("stop", "巡查点 checkpoint, in visiting order"))
        if any(s.incident is not None for s in sheet.checkpoints):
            items.append(("incident", "未结事件 open incident (#number)"))
        if any(s.kind == "site" for s in sheet.checkpoints):
            items.append(("site", "重点场所 key site (checkpoint)"))
        if any(s.kind == "household" for s in sheet.sites):
            items.append(("household", "住户 household"))
        return items

    def reserve_furniture(self, items, keep_clear: BaseGeometry | None = None) -> dict:
        """Boxes of the legend, scale bar and north arrow, taken before any label is placed.

        The legend goes bottom-left or top-left, whichever covers less of `keep_clear` (the grid).
        """
        mx, my, mw, mh = self.frame.map_box
        lw, lh = self.legend_size(items)
        corners = [(mx + 2 * MM, my + 2 * MM), (mx + 2 * MM, my + mh - 2 * MM - lh)]
        if not self.frame.fits:  # the top-left corner carries the "grid runs off the map" note
            corners = corners[:1]
            self.labels.take((mx, my + mh - 14, mx + mw - 20 * MM, my + mh))
        elif keep_clear is not None and not keep_clear.is_empty:
            corners.sort(key=lambda p: keep_clear.intersection(shapely.box(p[0], p[1], p[0] + lw, p[1] + lh)).area)
        spots = {"legend": corners[0], "scale": (mx + mw - 6 * MM, my + 5 * MM + 9),
                 "north": (mx + mw - 9 * MM, my + mh - 10 * MM)}
        lx, ly = spots["legend"]
        self.labels.take((lx, ly, lx + lw, ly + lh))
        *_, sb = self.scale_bar_geometry(*spots["scale"])
        self.labels.take((sb[0], sb[1], sb[0] + sb[2], sb[1] + sb[3]))
        nx, ny = spots["north"]
        self.labels.take((nx - 14, ny - 16, nx + 14, ny + 24))
        return spots

    def map(self, sheet: GridSheet):
        f, c = self.frame, self.c
        mx, my, mw, mh = f.map_box
        view = shapely.box(*f.extent_lonlat()).buffer(0.0005)  # the ground in the frame, and a few metres
        shown_neigh = [n for n in sheet.neighbours if n.geometry.intersects(view)]
        legend = self.legend_items(sheet, bool(shown_neigh))
        me = self.to_page(sheet.geometry)
        spots = self.reserve_furniture(legend, me)
        c.saveState()
        self.clip(f.map_box)
        self.basemap(sheet)
        fill = None if sheet.basemap else LIGHT
        for n in shown_neigh:
            self.polygon(self.to_page(n.geometry), stroke=GREY, fill=fill, width=0.6, dash=(3, 2))
        self.polygon(me, stroke=None, fill=None if sheet.basemap else WHITE)
        households = [s for s in sheet.sites if s.kind == "household"]
        for s in households:
            x, y = self.pt(s.lon, s.lat)
            c.setFillColorRGB(*GREY)
            c.circle(x, y, 1.3, stroke=0, fill=1)
        self.polygon(me, stroke=BLACK, width=1.8)
        # the route and its stops
        if sheet.route_path:
            pts = [self.pt(lon, lat) for lon, lat in sheet.route_path]
            c.saveState()
            c.setStrokeColorRGB(*ROUTE)
            c.setLineWidth(1.3)
            c.setLineJoin(1)
            p = c.beginPath()
            p.moveTo(*pts[0])
            for q in pts[1:]:
                p.lineTo(*q)
            c.drawPath(p, stroke=1, fill=0)
            c.setLineWidth(0.9)
            if sheet.route_metric != "road":
                stops = [self.pt(s.lon, s.lat) for s in sheet.checkpoints]
                for a, bb in zip(stops, stops[1:] + stops[:1]):
                    self.route_arrow(a, bb)
            c.restoreState()
        stops = [(self.pt(s.lon, s.lat), str(i + 1), s) for i, s in enumerate(sheet.checkpoints)]
        for (x, y), n, s in stops:
            self.stop_marker(x, y, n, incident=s.incident is not None, square=s.kind == "site")
            self.labels.take((x - 5.5, y - 5.5, x + 5.5, y + 5.5))
        sites = [s for s in sheet.checkpoints if s.kind == "site"]
        # labels: incident numbers, sites, then neighbour codes where there is room
        ring = [(9, -2), (-9, -2), (0, 7), (0, -11), (11, 5), (-11, 5), (11, -9), (-11, -9)]
        for (x, y), n, s in stops:
            if s.incident is not None:
                text = " ".join(f"#{i}" for i in s.incident.split(","))
                half = self.width(text, 6.5) / 2
                self.label(x, y, text, 6.5, RED, offsets=[(dx + math.copysign(half, dx) if dx else 0, dy)
                                                         for dx, dy in ring], box=f.map_box)
        for s in sites:
            x, y = self.pt(s.lon, s.lat)
            half = self.width(s.label, 6.5) / 2
            self.label(x, y, s.label, 6.5, offsets=[(0, 8), (0, -14), (half + 8, -2), (-half - 8, -2)], box=f.map_box)
        for n in shown_neigh:
            g = self.to_page(n.geometry.intersection(view))
            inside = g.intersection(shapely.box(mx + 1, my + 1, mx + mw - 1, my + mh - 1))
            if inside.is_empty or inside.area < 20:
                continue
            p = inside.point_on_surface()
            half = self.width(n.code, 7) / 2 + 2  # a sliver at the frame's edge: pull the label inside
            px, py = min(max(p.x, mx + half), mx + mw - half), min(max(p.y, my + 12), my + mh - 10)
            for dy in (0, 12, -12, 24, -24, 36, -36):
                if self.label(px, py + dy, n.code, 7, GREY, bold=True, offsets=[(0, 0)], box=f.map_box):
                    self.label(px, py + dy - 8.5, n.name, 6, GREY, offsets=[(0, 0)], box=f.map_box)
                    break
        c.restoreState()
        if not f.fits:
            self.text(mx + 4, my + mh - 10, f"固定比例尺 1:{f.scale:,}：网格超出图框 the grid runs off the map at this scale",
                      7, RED, halo=True)
        # furniture inside the frame
        self.north_arrow(*spots["north"])
        self.scale_bar(*spots["scale"])
        if sheet.basemap is not None and sheet.basemap.attribution:
            self.text(mx + mw - 2, my + 2, f"底图 basemap: {sheet.basemap.attribution}", 5.5, GREY, anchor="end",
                      halo=True)
        self.legend(legend, *spots["legend"])
        c.setLineWidth(0.8)
        c.setStrokeColorRGB(*BLACK)
        c.rect(*f.map_box, stroke=1, fill=0)

    # -- the grid page's panels -------------------------------------------------------------
    def panel_column(self, sheet: GridSheet):
        x, y, w, h = self.frame.panel_box
        top = y + h
        loc_h = min(w * 0.85, 48 * MM)
        self.locator_for(sheet, (x, top - loc_h, w, loc_h))
        qr_block = self.qr_block(sheet, x, y, w)
        cur = top - loc_h - 5 * MM
        bottom = y + qr_block + 4 * MM
        cur -= self.staff(sheet, x, cur, w, (cur - bottom) * 0.42) + 4 * MM
        avail = cur - bottom
        cur -= self.incidents(sheet, x, cur, w, avail * 0.5) + 4 * MM
        self.roster(sheet, x, cur, w, cur - bottom)

    def panel_band(self, sheet: GridSheet):
        x, y, w, h = self.frame.panel_box
        top = y + h
        gap = 3 * MM
        qr_w = min(34 * MM, h * 0.6)
        loc_w = min(44 * MM, h)
        rest = w - qr_w - loc_w - 4 * gap
        sw, rw, iw = rest * 0.34, rest * 0.36, rest * 0.30
        cx = x
        self.staff(sheet, cx, top, sw, h)
        cx += sw + gap
        self.roster(sheet, cx, top, rw, h)
        cx += rw + gap
        self.incidents(sheet, cx, top, iw, h)
        cx += iw + gap
        self.locator_for(sheet, (cx, top - min(loc_w, h), loc_w, min(loc_w, h)))
        cx += loc_w + gap
        self.qr_block(sheet, cx, y, qr_w)

    def locator_for(self, sheet: GridSheet, box):
        units = sheet.zone_grids or [Neighbour(sheet.code, sheet.name, sheet.geometry)]
        title = f"位置 Locator · {sheet.zone_name or sheet.zone_code or ''}"
        self.locator(box, units, {sheet.code}, sheet.zone_geometry, title)

    def qr_block(self, sheet: GridSheet, x, y, w) -> float:
        """QR code to the report page with the URL under it, from (x, y) up; returns its height."""
        size = min(w, 30 * MM)
        lines = self.wrap(sheet.report_url, 5.8, w)
        caption = ["扫码上报问题", "Scan to report a problem"]
        if self.width(" ".join(caption), 6.5) <= w:
            caption = [" ".join(caption)]
        text_h = 2 + 8 * len(caption) + 7 * len(lines)
        self.qr(sheet.report_url, x + (w - size) / 2, y + text_h, size)
        yy = y + text_h - 6
        for line in caption:
            self.text(x + w / 2, yy, line, 6.5, bold=True, anchor="middle", max_w=w)
            yy -= 8
        for line in lines:
            self.text(x + w / 2, yy, line, 5.8, anchor="middle")
            yy -= 7
        return text_h + size

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

    def staff(self, sheet: GridSheet, x, top, w, max_h) -> float:
        self.heading(x, top - 8, "人员 1+1+N", "staff: role, name, phone", w)
        grid_rows = [s for s in sheet.staff if s.role in ("leader", "instructor", "worker")]
        zone_rows = [s for s in sheet.staff if s.role not in ("leader", "instructor", "worker")]
        y = top - 12
        if not grid_rows:
            self.c.saveState()
            self.c.setStrokeColorRGB(*RED)
            self.c.setLineWidth(1)
            self.c.rect(x, y - 22, w, 20, stroke=1, fill=0)
            self.c.restoreState()
            self.text(x + 4, y - 10, "未配置人员", 8.5, RED, bold=True)
            self.text(x + 4, y - 18, "No staff assigned to this grid: ask the zone office", 6, max_w=w - 8)
            y -= 24
        cols = [(0.36, "职务 role"), (0.26, "姓名 name"), (0.38, "电话 phone")]
        rows = [[self.role_text(s, cols[0][0] * w - 3), s.name, s.phone] for s in grid_rows + zone_rows]
        if rows:
            y -= self.table(x, y, w, cols, rows, max_h - (top - y), more_text="… 另有 {n} 人 more")
        return top - y

    def role_text(self, s, max_w: float) -> str:
        both = f"{s.role_label} {ROLE_EN.get(s.role, '')}"
        return both if self.width(both, 6.8) <= max_w else s.role_label

    def roster(self, sheet: GridSheet, x, top, w, max_h) -> float:
        b = self.book
        span = f"{b.roster_from:%m-%d} – {b.roster_to:%m-%d}" if b.roster_from and b.roster_to else ""
        self.heading(x, top - 8, "值班表", f"duty roster {span}", w)
        if not sheet.roster:
            self.text(x + 2, top - 20, "本周无排班 no shifts in the roster this week", 6.5, GREY, max_w=w - 4)
            return 24
        cols = [(0.30, "日期 day"), (0.26, "时间 time"), (0.18, "姓名"), (0.26, "电话 phone")]
        rows = []
        for s in sheet.roster:
            end = f"{s.ends_at:%H:%M}" if s.ends_at.date() == s.starts_at.date() else f"{s.ends_at:%m-%d %H:%M}"
            where = "" if s.unit_code == sheet.code else " 管区"
            rows.append([f"{s.starts_at:%m-%d} 周{WEEKDAYS[s.starts_at.weekday()]}{where}", f"{s.starts_at:%H:%M}–{end}",
                         s.name, s.phone])
        return 12 + self.table(x, top - 12, w, cols, rows, max_h - 12, more_text="… 另有 {n} 班 more shifts")

    def incidents(self, sheet: GridSheet, x, top, w, max_h) -> float:
        self.heading(x, top - 8, "未结事件", f"open incidents ({len(sheet.incidents)})", w)
        if not sheet.incidents:
            self.text(x + 2, top - 20, "无 none", 6.5, GREY)
            return 24
        stop_of = {}
        for i, s in enumerate(sheet.checkpoints):
            for n in (s.incident or "").split(","):
                if n:
                    stop_of[n] = str(i + 1)
        cols = [(0.10, "站"), (0.18, "编号 no."), (0.36, "类别 category"), (0.19, "状态"), (0.17, "上报")]
        rows = [[stop_of.get(m.number, "-"), f"#{m.number}", m.category, m.status, f"{m.reported:%m-%d}"]
                for m in sorted(sheet.incidents, key=lambda m: int(stop_of.get(m.number, 10 ** 6)))]
        return 12 + self.table(x, top - 12, w, cols, rows, max_h - 12, more_text="… 另有 {n} 件 more")

    # -- the overview page ------------------------------------------------------------------
    def overview(self, rows: list[tuple[int, str, str]], first: bool):
        b = self.book
        paper = b.paper or "A4"
        pw, ph, _, _ = layout.page_boxes(paper, "portrait")
        top = ph - layout.MARGIN - layout.HEADER
        bottom = layout.MARGIN + layout.FOOTER
        n_rows = math.ceil(len(rows) / 3)
        index_h = (n_rows + 1) * 9.8 + 22
        geom = shapely.union_all([s.geometry for s in b.sheets])
        if first:
            map_box = (layout.MARGIN, bottom + index_h + layout.GAP, pw - 2 * layout.MARGIN,
                       top - bottom - index_h - layout.GAP)
            epsg = layout.metric_epsg(geom)
            g = layout.project(geom, epsg)
            x0, y0, x1, y1 = g.bounds
            need = layout.fit_scale((max(x1 - x0, 1), max(y1 - y0, 1)), map_box)
            den = b.scale if (b.scale and b.scale >= need) else layout.nice_scale(need)
            frame = Frame(paper, "portrait", pw, ph, map_box, map_box, epsg, ((x0 + x1) / 2, (y0 + y1) / 2), den)
        else:
            frame = Frame(paper, "portrait", pw, ph, (0, 0, 1, 1), (0, 0, 1, 1), 32650, (0, 0), 1000)
        self.start(frame)
        n = len(b.sheets)
        self.header(f"{b.title} · {n} 个网格 grids" + ("" if first else " (续 continued)"),
                    "总图与索引 Overview and index: 每个网格一页，按编码排序 one page per grid, in code order",
                    "网格地图册 Map book")
        if first:
            self.overview_map(frame)
            scale_text = f"总图比例尺 Overview scale 1:{frame.scale:,}"
        else:
            scale_text = "索引 index"
        # the index, three columns
        x, w = layout.MARGIN, pw - 2 * layout.MARGIN
        y_top = bottom + index_h if first else top - 4
        self.heading(x, y_top - 9, "索引", "index: page, grid code, name", w)
        col_w = (w - 2 * layout.GAP) / 3
        per_col = math.ceil(len(rows) / 3)
        for k in range(3):
            chunk = rows[k * per_col:(k + 1) * per_col]
            cx = x + k * (col_w + layout.GAP)
            self.table(cx, y_top - 13, col_w, [(0.09, "页"), (0.40, "编码 code"), (0.51, "名称 name")],
                       [[str(p), c, nm] for p, c, nm in chunk], (len(chunk) + 1) * 9.8 + 2, size=6.6)
        self.footer(scale_text)
        self.c.showPage()

    def overview_map(self, f: Frame):
        b, c = self.book, self.c
        mx, my, mw, mh = f.map_box
        pages = {s.code: i for i, s in enumerate(b.sheets)}
        first_page = self.total - len(b.sheets) + 1
        x0, y0, x1, y1 = f.extent_m()
        ll0, ll1 = layout.unproject_xy([(x0, y0), (x1, y1)], f.epsg)
        view = shapely.box(*ll0, *ll1).buffer(0.02)
        ctx = [u for u in b.context if u.code not in pages and u.geometry.intersects(view)]
        drawn = [(self.to_page(s.geometry), s) for s in b.sheets]
        items = [("book", "本册网格 grid in this book (page number)")]
        if ctx:
            items.append(("neighbour", "其他网格 other grids"))
        spots = self.reserve_furniture(items, shapely.union_all([g for g, _ in drawn]))
        locator_box = None
        if b.context and len(b.context) > len(b.sheets):  # where the book lies in the whole store
            lx = mx + 3 * MM if spots["legend"][1] < my + mh / 2 else mx + mw - 60 * MM
            locator_box = (lx, my + mh - 3 * MM - 38 * MM, 38 * MM, 38 * MM)
            self.labels.take((lx - 3, locator_box[1] - 3, lx + 38 * MM + 3, my + mh))
        c.saveState()
        self.clip(f.map_box)
        for u in ctx:
            self.polygon(self.to_page(u.geometry), stroke=GREY, fill=LIGHT, width=0.4, dash=(2, 1.5))
        for g, _ in drawn:
            self.polygon(g, stroke=BLACK, fill=WHITE, width=0.8)
        for g, s in drawn:
            p = g.point_on_surface()
            self.label(p.x, p.y - 3, str(first_page + pages[s.code]), 7.5, bold=True,
                       offsets=[(0, 0), (0, 8), (0, -8), (10, 0), (-10, 0)], box=f.map_box)
        c.restoreState()
        self.north_arrow(*spots["north"])
        self.scale_bar(*spots["scale"])
        self.legend(items, *spots["legend"])
        if locator_box is not None:
            x, y, w, h = locator_box
            c.saveState()
            c.setFillColorRGB(*WHITE)
            c.rect(x - 3, y - 3, w + 6, h + 6, stroke=0, fill=1)
            c.restoreState()
            self.locator(locator_box, b.context, set(pages), None, "位置 Locator")
        c.setLineWidth(0.8)
        c.setStrokeColorRGB(*BLACK)
        c.rect(*f.map_box, stroke=1, fill=0)
