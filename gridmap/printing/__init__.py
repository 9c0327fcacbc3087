"""Printed patrol maps: one grid's page, or a map book for a zone, a town or the whole store.

- `data.select_grids` / `data.gather` read the store into a `PrintBook` (plain data);
- `pdf.patrol_pdf(book) -> bytes` draws it (a pure function; reportlab is imported inside);
- `make_book` and `write_pdf` are what the CLI (`gridmap print`) and the web endpoint call.
"""

from __future__ import annotations

from pathlib import Path

from ..i18n import tr
from .data import DEFAULT_BASE_URL, gather, read_lines, read_sites, report_url, select_grids
from .model import PrintBook

__all__ = ["DEFAULT_BASE_URL", "PrintBook", "gather", "make_book", "overview_page_count", "patrol_pdf", "read_lines",
           "read_sites", "report_url", "select_grids", "write_pdf"]


def patrol_pdf(book: PrintBook) -> bytes:
    """The PDF of a book (see `gridmap.printing.pdf`)."""
    from .pdf import patrol_pdf as render

    return render(book)


def overview_page_count(book: PrintBook) -> int:
    """How many overview/index pages a map book starts with (0 for a single grid's page)."""
    from .pdf import overview_pages

    return len(overview_pages(book)) if book.overview else 0


def make_book(services, *, grid: str | None = None, zone: str | None = None, town: str | None = None,
              all_grids: bool = False, **options) -> PrintBook:
    """Select the grids (exactly one of grid/zone/town/all_grids) and gather their pages.

    `options` go to `gather` (incident_repo, taxonomy, base_url, paper, orientation, scale,
    roads, sites, tiles, today, ...).
    """
    codes, title, book = select_grids(services.store, grid=grid, zone=zone, town=town, all_grids=all_grids)
    if book and not all_grids:
        u = services.store.unit(title)
        title = f"{u.code} {u.name}"
    elif not book:
        title = codes[0]
    return gather(services, codes, title=title, overview=book, **options)


def write_pdf(book: PrintBook, out: str | Path) -> int:
    """Render and write atomically: the output folder is checked first, and a failure leaves no file.

    Returns the number of bytes written.
    """
    from ..errors import InputError
    from ..io.writers import atomic_path

    out = Path(out)
    if out.is_dir():
        raise InputError(tr("cannot write %(out)s: it is a folder; give a file name such as %(v)s", out=out, v=out / "patrol.pdf"))
    with atomic_path(out) as tmp:
        data = patrol_pdf(book)
        try:
            tmp.write_bytes(data)
        except OSError as exc:
            raise InputError(tr("cannot write %(out)s: %(v)s", out=out, v=exc.strerror or exc)) from None
    return len(data)
