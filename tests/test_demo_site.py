"""The demo company site at `/`: a plain page with its own stylesheet and the widget's script tag."""

import re
from decimal import Decimal

import pytest
from django.utils import translation

from customers.pages import DEMO_SHOP_PRICES, demo_shop_prices

WIDGET_TAG = '<script src="/static/widget/widget.js" data-business-line="demo" data-lang="en" defer></script>'


def test_demo_site_renders_with_the_widget_tag(client):
    # when
    response = client.get("/")

    # then
    assert response.status_code == 200
    html = response.content.decode()
    assert "Acme Shop" in html
    assert html.count(WIDGET_TAG) == 1


def test_demo_site_stylesheet_is_served(client):
    # given
    html = client.get("/").content.decode()
    stylesheet = re.search(r'<link rel="stylesheet" href="([^"]+)"', html).group(1)

    # when
    response = client.get(stylesheet)

    # then
    assert stylesheet.startswith("/static/")
    assert response.status_code == 200
    assert b"Acme Shop" in b"".join(response.streaming_content)


@pytest.mark.parametrize(
    ("language", "prices", "foreign"),
    [
        ("en", ["$129.00", "$89.00", "$24.50"], "¥"),
        ("zh-hans", ["¥899.00", "¥629.00", "¥169.00"], "$"),
    ],
)
def test_the_prices_are_in_the_pages_currency(client, language, prices, foreign):
    # when: the page is read in English, then in Chinese
    html = client.get("/", {"lang": language}).content.decode()

    # then: the catalogue and the free-delivery threshold are in that language's currency, and only in it
    assert re.findall(r'<p class="price">([^<]*)</p>', html) == prices
    assert ("orders over $50." if language == "en" else "订单满 ¥350，") in html
    assert foreign not in html


def test_a_large_price_is_grouped_as_the_reader_writes_numbers(monkeypatch):
    # given: a dearer catalogue
    monkeypatch.setitem(DEMO_SHOP_PRICES, "en", ("$", {"anvil": Decimal("1299"), "free": Decimal("1500")}))

    # when / then: thousands are grouped, the threshold is a whole amount
    with translation.override("en"):
        assert demo_shop_prices("en") == {"anvil": "$1,299.00", "free": "$1,500"}
