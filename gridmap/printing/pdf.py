"""`patrol_pdf(book) -> bytes`: the vector PDF of a PrintBook. A pure function (STYLE R9).

One page per grid (after an overview page for a map book): title, the map (the grid, its
neighbours drawn lighter with their codes, sites, open incidents, the numbered patrol route,
scale bar, north arrow, a legend of what is on the page), a locator map of the zone, the 1+1+N
staff table, the duty roster for the coming week, the open incidents, a QR code to the
resident report page, and the plan version and print date in the footer. Black lines and
shapes carry the meaning, so a black-and-white print reads as well as a colour one. All text
is set in one CJK font, embedded as a subset; no other font (not even reportlab's default
Helvetica) is referenced, so every font in the file is embedded.
"""

from __future__ import annotations

import io
import math

from .model import PrintBook
from .sheets import Sheets


def patrol_pdf(book: PrintBook) -> bytes:
    """Render a PrintBook (one grid page, or an overview page and one page per grid) to PDF bytes."""
    from reportlab.pdfgen import canvas

    from .fonts import register_font

    font = register_font()
    buf = io.BytesIO()
    # reportlab opens every page with its initial font selected (Helvetica by default), which puts an
    # unembedded Type 1 font in each page's resources: print shops' and PDF/A preflight reject it.
    # Starting in the embedded CJK font leaves only embedded TrueType subsets in the file.
    c = canvas.Canvas(buf, pageCompression=1, initialFontName=font, initialFontSize=7)
    c.setTitle(f"gridmap 网格巡查图 {book.title}")
    c.setAuthor("gridmap")
    c.setCreator("gridmap")
    c.setSubject("patrol map / 网格巡查图")
    pages = overview_pages(book) if book.overview else []
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


def overview_pages(book: PrintBook) -> list[list[tuple[int, str, str]]]:
    """The index rows (page, code, name) of each overview page: as many as fit, then continuation pages."""
    first_grid_page = 1
    rows, per_first, per_next = [], 3 * 40, 3 * 68
    n_over = 1 if len(book.sheets) <= per_first else 1 + math.ceil((len(book.sheets) - per_first) / per_next)
    first_grid_page += n_over
    for i, s in enumerate(book.sheets):
        rows.append((first_grid_page + i, s.code, s.name))
    return [rows[:per_first]] + [rows[per_first + k * per_next: per_first + (k + 1) * per_next]
                                 for k in range(n_over - 1)]


class _Page(Sheets):
    """A page: primitives (canvas), furniture, panels and whole-page layouts (sheets)."""
