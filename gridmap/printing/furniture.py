"""Map furniture of a patrol-map page: basemap, north arrow, scale bar, legend, route marks, QR
code, locator map, and where they go so they do not cover the grid."""

from __future__ import annotations

import io
import itertools
import math

import shapely
from shapely.geometry.base import BaseGeometry

from . import layout
from .canvas import BLACK, GREY, LIGHT, RED, ROUTE, WHITE, Canvas
from .layout import MM
from .model import GridSheet, Neighbour


class Furniture(Canvas):
    """What sits on and around the map besides the grids."""

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
        local = self.book.qr_local_host
        warning = [f"本机地址 {local}，扫码无法打开", "local address: set public_url"] if local else []
        text_h = 2 + 8 * len(caption) + 7 * len(lines) + 7 * len(warning)
        self.qr(sheet.report_url, x + (w - size) / 2, y + text_h, size)
        yy = y + text_h - 6
        for line in caption:
            self.text(x + w / 2, yy, line, 6.5, bold=True, anchor="middle", max_w=w)
            yy -= 8
        for line in lines:
            self.text(x + w / 2, yy, line, 5.8, anchor="middle")
            yy -= 7
        for line in warning:  # a QR code to this machine only: say so where the reader looks
            self.text(x + w / 2, yy, line, 5.8, RED, bold=True, anchor="middle", max_w=w)
            yy -= 7
        return text_h + size
