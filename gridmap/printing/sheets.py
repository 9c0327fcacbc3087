"""Whole pages: a grid's page (map, panels, furniture) and the overview page of a map book."""

from __future__ import annotations

import math

import shapely

from . import layout
from .canvas import BLACK, GREY, LIGHT, RED, ROUTE, WHITE
from .furniture import Furniture
from .layout import MM, Frame
from .model import GridSheet
from .panels import Panels


class Sheets(Furniture, Panels):
    """The page layouts, composed from furniture and panels."""

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
