"""The board's CSV export: what the dispatcher filtered, for Excel (UTF-8 with BOM).

A cell that starts with = + - @ (or a tab or carriage return) would run as a formula in a
spreadsheet (CSV injection, OWASP): such a text cell gets a leading apostrophe, and every cell
is quoted. Numbers are written as numbers.
"""

from __future__ import annotations

import csv
import io
from typing import Any, Iterable, Iterator

from ..incidents.model import STATUS_LABELS, Incident

COLUMNS = [("id", "编号"), ("status", "状态"), ("status_label", "状态名称"), ("category", "分类"),
           ("category_name", "分类名称"), ("grid_code", "网格编码"), ("grid_name", "网格名称"), ("zone_code", "管区编码"),
           ("source", "来源"), ("severity", "等级"), ("reported_at", "上报时间"), ("due_at", "时限"),
           ("closed_at", "结案时间"), ("assignee", "承办人编号"), ("assignee_name", "承办人"), ("handling_level", "处置层级"),
           ("department", "部门"), ("escalated", "已升级"), ("description", "描述"), ("lon", "经度"), ("lat", "纬度")]
_DANGER = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"


def safe_cell(value: Any) -> Any:
    """A cell a spreadsheet will not run: text starting with = + - @ tab CR gets a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, (int, float)):
        return value
    text = str(value)
    return "'" + text if text.startswith(_DANGER) else text


def csv_lines(incidents: Iterable[Incident], taxonomy, tz, grid_names: dict[str, str],
              person_names) -> Iterator[str]:
    """The CSV text in chunks: BOM and header (Chinese / English), then one line per incident."""
    buf = io.StringIO()
    w = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    w.writerow([f"{zh} {en}" for en, zh in COLUMNS])
    yield BOM + buf.getvalue()
    batch: list[Incident] = []
    for inc in incidents:
        batch.append(inc)
        if len(batch) >= 1000:
            yield _lines(batch, taxonomy, tz, grid_names, person_names)
            batch = []
    if batch:
        yield _lines(batch, taxonomy, tz, grid_names, person_names)


def _lines(batch: list[Incident], taxonomy, tz, grid_names: dict[str, str], person_names) -> str:
    names = person_names([i.assignee for i in batch if i.assignee])
    buf = io.StringIO()
    w = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    for inc in batch:
        cat = taxonomy.get(inc.category) if inc.category in taxonomy else None
        row = {"id": int(inc.id), "status": inc.status, "status_label": STATUS_LABELS.get(inc.status, inc.status),
               "category": inc.category, "category_name": cat.name if cat else inc.category,
               "grid_code": inc.grid_code, "grid_name": grid_names.get(inc.grid_code or ""),
               "zone_code": inc.zone_code, "source": inc.source, "severity": inc.severity,
               "reported_at": _when(inc.reported_at, tz), "due_at": _when(inc.due_at, tz),
               "closed_at": _when(inc.closed_at, tz), "assignee": inc.assignee,
               "assignee_name": names.get(inc.assignee or ""), "handling_level": inc.handling_level,
               "department": inc.department, "escalated": inc.escalated, "description": inc.description,
               "lon": round(inc.lon, 6), "lat": round(inc.lat, 6)}
        w.writerow([safe_cell(row[k]) for k, _ in COLUMNS])
    return buf.getvalue()


def _when(t, tz) -> str:
    return t.astimezone(tz).strftime("%Y-%m-%d %H:%M") if t else ""
