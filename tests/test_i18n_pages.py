"""The pages' language (issue 14, item 1): the widget's `lang` (its `data-lang`), else the browser's Accept-Language,
for the chat and H5 pages, the JavaScript catalog they load, the demo site, and the REST errors; English otherwise."""

from __future__ import annotations

import json
import re

import pytest

from tests.factories import BusinessLineFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def line():
    return BusinessLineFactory(key="shop", name="Acme Shop")


def page_config(response) -> dict:
    match = re.search(r'<script id="cs-config" type="application/json">(.*?)</script>', response.content.decode())
    assert match is not None
    return json.loads(match.group(1))


@pytest.mark.parametrize(
    ("query", "accept_language", "language", "placeholder"),
    [
        ("&lang=zh-hans", "", "zh-hans", "请输入消息…"),
        ("&lang=zh-CN", "en-US", "zh-hans", "请输入消息…"),  # the page's word over the browser's
        ("", "zh-CN,zh;q=0.9", "zh-hans", "请输入消息…"),  # no data-lang: the browser's
        ("&lang=en", "zh-CN", "en", "Type your message…"),
        ("&lang=fr", "", "en", "Type your message…"),  # a language we do not speak: the default
        ("", "", "en", "Type your message…"),
    ],
)
def test_the_chat_page_speaks_the_widgets_language_else_the_browsers(
    client, line, query, accept_language, language, placeholder
):
    response = client.get(f"/chat/?business_line=shop{query}", HTTP_ACCEPT_LANGUAGE=accept_language)

    assert response.status_code == 200
    html = response.content.decode()
    assert f'<html lang="{language}"' in html
    assert f'placeholder="{placeholder}"' in html
    assert f'<script src="/jsi18n/?lang={language}"></script>' in html
    assert response["Content-Language"] == language
    assert page_config(response)["language"] == language


def test_the_h5_pages_refusal_of_a_bad_link_is_in_the_pages_language(client, line):
    response = client.get("/h5/?business_line=shop&lang=zh-hans&external_id=u1&identity_expires=1&identity_hash=00")

    assert response.status_code == 403
    assert page_config(response)["identity_refused"] == "此聊天链接无效。请返回提供该链接的网站或应用，重新打开聊天。"


def test_the_javascript_catalog_is_an_external_script_in_the_asked_language(client):
    chinese = client.get("/jsi18n/?lang=zh-hans").content.decode()
    english = client.get("/jsi18n/?lang=en").content.decode()

    assert '"Open the chat": "\\u6253\\u5f00\\u5728\\u7ebf\\u5ba2\\u670d"' in chinese  # 打开在线客服
    assert "Open the chat" not in english
    assert "django.gettext" in chinese and "django.gettext" in english


def test_the_javascript_catalog_is_kept_by_the_browser_and_revalidated_by_its_etag(client):
    first = client.get("/jsi18n/?lang=zh-hans")
    again = client.get("/jsi18n/?lang=zh-hans", HTTP_IF_NONE_MATCH=first["ETag"])
    english = client.get("/jsi18n/?lang=en")

    assert first.status_code == 200
    assert "max-age=3600" in first["Cache-Control"]
    assert "Vary" not in first or "Cookie" not in first["Vary"]
    assert again.status_code == 304
    assert again.content == b""
    assert english["ETag"] != first["ETag"]


def test_the_javascript_catalog_without_a_language_varies_with_the_readers(client):
    response = client.get("/jsi18n/", HTTP_ACCEPT_LANGUAGE="zh-CN")

    assert response.status_code == 200
    assert "Accept-Language" in response["Vary"]
    assert "\\u6253\\u5f00\\u5728\\u7ebf\\u5ba2\\u670d" in response.content.decode()


def test_the_demo_site_passes_its_language_to_the_widget(client):
    html = client.get("/?lang=zh-hans").content.decode()

    assert 'data-business-line="demo" data-lang="zh-hans"' in html
    assert "热销商品" in html


def test_rest_errors_are_in_the_callers_language(client):
    chinese = client.post("/api/widget/session/", {}, content_type="application/json", HTTP_ACCEPT_LANGUAGE="zh-CN")
    english = client.post("/api/widget/session/", {}, content_type="application/json")

    assert (chinese.status_code, chinese.json()["code"]) == (400, "invalid_request")
    assert chinese.json()["message"] == "business_line: 该字段是必填项。"
    assert english.json()["message"] == "business_line: This field is required."
