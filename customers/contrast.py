"""Readable text on a business line's own colour (issue 14, accessibility): WCAG 2.x relative luminance and
contrast ratio, and the two colours a widget derives from the admin's choice. The one place this is decided; the
chat page and the launcher only apply what the appearance payload says (customers/payloads.py)."""

from __future__ import annotations

BLACK = "#000000"
WHITE = "#ffffff"
# WCAG 2.x, success criterion 1.4.3 (AA): normal-sized text needs 4.5:1 against its background.
MINIMUM_CONTRAST = 4.5


def _channel(value: int) -> float:
    """One sRGB channel (0-255), linearized as WCAG's relative luminance defines it."""
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def _rgb(color: str) -> tuple[int, int, int]:
    if len(color) != 7 or not color.startswith("#"):
        raise ValueError(f"a colour as #RRGGBB, not {color!r}")
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def relative_luminance(color: str) -> float:
    """WCAG relative luminance of a `#RRGGBB` colour: 0 for black, 1 for white."""
    red, green, blue = (_channel(part) for part in _rgb(color))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast_ratio(first: str, second: str) -> float:
    """WCAG contrast ratio of two colours, from 1 (the same) to 21 (black on white)."""
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def text_color_on(background: str) -> str:
    """Black or white, whichever reads better on this background (one of them always reaches 4.5:1)."""
    return BLACK if contrast_ratio(BLACK, background) >= contrast_ratio(WHITE, background) else WHITE


def accent_on_white(color: str) -> str:
    """The colour itself where it reads as text on white, else the same hue darkened until it does: for links and
    outlined buttons in a light brand colour (a yellow line's text would vanish on the white cards)."""
    red, green, blue = _rgb(color)
    factor = 1.0
    darker = color.lower()
    while contrast_ratio(darker, WHITE) < MINIMUM_CONTRAST:
        factor -= 0.05
        darker = "#{:02x}{:02x}{:02x}".format(*(int(part * factor) for part in (red, green, blue)))
    return darker
