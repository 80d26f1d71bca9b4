"""CSV for spreadsheet programs, shared by every export (the admin's transcripts, the conversation report): cells
made inert so a spreadsheet never runs one as a formula, and UTF-8 with a byte-order mark so Excel reads Chinese
(and any non-Latin) text correctly."""

from __future__ import annotations

import unicodedata
from typing import Any

BYTE_ORDER_MARK = "\ufeff"
# A spreadsheet runs a cell as a formula when its first visible character is one of these (OWASP "CSV injection"),
# the full-width forms too (Excel and WPS take them from an East Asian input method), and whatever spaces, invisible
# characters or line breaks come before it; a cell that starts with a tab or a line break is made inert as well.
FORMULA_SIGNS = frozenset("=+-@\uff1d\uff0b\uff0d\uff20")
LEADING_CONTROLS = ("\t", "\r", "\n")
INVISIBLE_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf"})


def _first_visible(text: str) -> str:
    for char in text:
        if not char.isspace() and unicodedata.category(char) not in INVISIBLE_CATEGORIES:
            return char
    return ""


def csv_safe(value: Any) -> Any:
    """Make a text cell inert for spreadsheets by prefixing a quote when it would start a formula."""
    if isinstance(value, str) and (value.startswith(LEADING_CONTROLS) or _first_visible(value) in FORMULA_SIGNS):
        return "'" + value
    return value
