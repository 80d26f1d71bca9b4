"""The demo company site at `/`: a plain page with its own stylesheet and the widget's script tag."""

import re

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
