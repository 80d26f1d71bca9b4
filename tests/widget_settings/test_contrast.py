"""Readable text on a business line's colour (issue 14, accessibility): WCAG 2.x contrast, decided once on the
server (customers/contrast.py) and carried by the widget's appearance."""

from __future__ import annotations

import pytest

from customers.contrast import accent_on_white, contrast_ratio, relative_luminance, text_color_on
from customers.payloads import widget_appearance
from tests.factories import BusinessLineFactory


def test_relative_luminance_and_contrast_follow_wcag():
    assert (relative_luminance("#000000"), relative_luminance("#ffffff")) == (0.0, 1.0)
    assert round(contrast_ratio("#000000", "#ffffff"), 2) == 21.0
    # WCAG's own example threshold: #767676 is the lightest grey that reaches 4.5:1 on white.
    assert contrast_ratio("#767676", "#ffffff") >= 4.5 > contrast_ratio("#777777", "#ffffff")


@pytest.mark.parametrize(
    ("brand", "text"),
    [
        ("#ffeb3b", "#000000"),
        ("#f97316", "#000000"),
        ("#ffffff", "#000000"),
        ("#4338ca", "#ffffff"),
        ("#0f766e", "#ffffff"),
        ("#000000", "#ffffff"),
    ],
)
def test_text_on_the_brand_colour_is_black_or_white_whichever_reads(brand, text):
    assert text_color_on(brand) == text
    assert contrast_ratio(text, brand) >= 4.5


@pytest.mark.parametrize("brand", ["#ffeb3b", "#f97316", "#ffffff", "#4338ca", "#0f766e", "#22c55e"])
def test_the_accent_reads_on_white_and_keeps_a_dark_colour_as_it_is(brand):
    accent = accent_on_white(brand)
    assert contrast_ratio(accent, "#ffffff") >= 4.5
    if contrast_ratio(brand, "#ffffff") >= 4.5:
        assert accent == brand


def test_a_bad_colour_is_refused():
    with pytest.raises(ValueError, match="#RRGGBB"):
        relative_luminance("yellow")


@pytest.mark.django_db
def test_the_appearance_carries_the_readable_colours():
    appearance = widget_appearance(BusinessLineFactory(widget_color="#ffeb3b"))
    assert (appearance["color"], appearance["text_color"], appearance["accent_color"]) == (
        "#ffeb3b",
        "#000000",
        accent_on_white("#ffeb3b"),
    )
    assert accent_on_white("#ffeb3b") != "#ffeb3b"
