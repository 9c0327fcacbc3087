"""The panels of a patrol-map page: the 1+1+N staff table, the duty roster, the open incidents."""

from __future__ import annotations

from ..registry.model import ROLE_EN
from .canvas import GREY, LIGHT, RED, WEEKDAYS, Canvas
from .layout import MM
from .model import GridSheet


class Panels(Canvas):
    """The tables beside or below the map."""

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
                if isinstance(v, tuple):  # (中文, English): both always shown, the English smaller to fit
                    self.two_part(cx + 2, y + 2.4, v, size, frac * w - 3)
                else:
                    self.text(cx + 2, y + 2.4, v, size, bold=bold_first and cx == xs[0], max_w=frac * w - 3)
            c.line(x, y, x + w, y)
        c.restoreState()
        if len(shown) < len(rows):
            y -= row
            self.text(x + 2, y + 2.4, (more_text or "… {n} more").format(n=len(rows) - len(shown)), size, GREY)
        return y_top - y

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
        cols = [(0.42, "职务 role"), (0.24, "姓名 name"), (0.34, "电话 phone")]
        rows = [[self.role_text(s, cols[0][0] * w - 3), s.name, s.phone] for s in grid_rows + zone_rows]
        if rows:
            y -= self.table(x, y, w, cols, rows, max_h - (top - y), more_text="… 另有 {n} 人 more")
        return top - y

    def role_text(self, s, max_w: float) -> tuple[str, str]:
        """The role as (中文, English): every role label on the page is bilingual."""
        return s.role_label, ROLE_EN.get(s.role, s.role.replace("_", " "))

    def two_part(self, x, y, parts: tuple[str, str], size: float, max_w: float) -> None:
        """Chinese at `size`, then the English in grey, shrunk (down to 4.2 pt) so that both fit in max_w."""
        zh, en = parts
        used = self.text(x, y, zh + " ", size, max_w=max_w)  # the space keeps the words apart in copied text
        room = max_w - used
        small = size * 0.85
        while small > 4.2 and self.width(en, small) > room:
            small -= 0.2
        self.text(x + used, y, en, small, GREY, max_w=max(room, 0))

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
