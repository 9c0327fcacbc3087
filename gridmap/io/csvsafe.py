"""CSV/formula injection (OWASP "CSV Injection"): one escape for every CSV gridmap writes.

A cell starting with = + - @ TAB or CR is run as a formula by Excel, WPS and LibreOffice
(=HYPERLINK(...) leaks data, =cmd|... runs programs). Such a cell gets a leading single
quote, which spreadsheets show as text; plain numbers such as -12.5 are left alone so
coordinates stay numbers.
"""

from __future__ import annotations

import re

_TRIGGER = "=+-@\t\r"
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_ARROW_RISKY = r"^[=+\-@\t\r]"
_ARROW_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"


def escape_cell(value):
    """The value to write into a CSV cell: text that a spreadsheet would run as a formula is quoted."""
    if isinstance(value, str) and value[:1] in _TRIGGER and value and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def escape_row(row):
    """escape_cell on every cell of a row."""
    return [escape_cell(v) for v in row]


def escape_arrow_table(table):
    """The same escape on every text column of a pyarrow Table (vectorised, for bulk CSVs)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for i, field in enumerate(table.schema):
        if not pa.types.is_string(field.type) and not pa.types.is_large_string(field.type):
            continue
        col = table.column(i)
        starts = pc.match_substring_regex(col, _ARROW_RISKY)
        if not pc.any(starts).as_py():  # the common case: nothing to quote, no rewrite of the column
            continue
        risky = pc.and_(starts, pc.invert(pc.match_substring_regex(col, _ARROW_NUMBER)))
        if not pc.any(risky).as_py():
            continue
        # a regex prefix, not a join with pa.scalar("'"): building a scalar from Python imports pandas
        quoted = pc.replace_substring_regex(col, pattern="^", replacement="'", max_replacements=1)
        table = table.set_column(i, field, pc.if_else(risky, quoted, col))
    return table
