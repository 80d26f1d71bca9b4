"""Both languages in Chromium (issue 14, item 1): the widget speaks Chinese when the embedding page's script tag says
`data-lang="zh-hans"`, the H5 page when the phone's browser asks for Chinese, and a supervisor switches the admin to
Chinese. The system messages are written in the reader's language from their event. The Chinese widget's and H5
page's screenshots are the README's (docs/images/widget-zh.png, docs/images/h5-zh.png)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.contrib.auth.models import Group
from playwright.sync_api import Browser, Page, expect

from customers.models import Customer
from tests.browser.conftest import phone_page
from tests.browser.content_policy import watch_content_security_policy
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def chinese_phone(browser: Browser) -> Iterator[Page]:
    """A phone whose browser asks for Chinese (Accept-Language zh-CN); script errors and CSP violations fail."""
    yield from phone_page(browser, locale="zh-CN")


def test_the_widget_speaks_chinese_when_the_page_says_so(
    page, server, demo_line, alice, scripted_agent, other_site, screenshot
):
    # given: a site whose script tag says data-lang="zh-hans" (the browser itself speaks English), and an agent online
    site_url = other_site(
        "<!doctype html><meta charset='utf-8'><title>合作商店</title><h1>合作商店</h1>"
        f'<script src="{server.url}/static/widget/widget.js" data-business-line="demo" data-lang="zh-hans" defer>'
        "</script>"
    )
    demo_line.allowed_origins = f"{server.url}\n{site_url.rstrip('/')}"
    demo_line.greeting = "您好！请问有什么可以帮您？"  # the line's own words, written by its admin in its language
    demo_line.save()
    agent = scripted_agent(alice)
    agent.go_online()

    # when: the customer opens the widget and writes
    page.goto(site_url)
    page.get_by_role("button", name="打开在线客服").click()
    chat = page.frame_locator("iframe[title='联系我们']")
    expect(chat.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(chat.get_by_role("button", name="开始咨询")).to_be_visible()
    composer = chat.get_by_role("textbox", name="输入消息")
    expect(composer).to_have_attribute("placeholder", "请输入消息…")
    composer.fill("我的包裹还没到")
    chat.get_by_role("button", name="发送", exact=True).click()
    conversation_id = agent.expect("conversation.assigned")["conversation"]["id"]
    agent.say(conversation_id, "您好，我来帮您查一下。")

    # then: the system message, the status and the receipts are in Chinese; the customer's language is kept
    expect(chat.locator("#messages .msg-system").first).to_have_text("客服 Alice 已接入会话。")
    expect(chat.locator("#status")).to_have_text("正在与 Alice 对话")
    expect(chat.locator("#messages > li").last).to_contain_text("您好，我来帮您查一下。")
    expect(page.get_by_role("button", name="关闭在线客服")).to_be_visible()
    screenshot(page, "widget-zh")
    assert Customer.objects.get().language == "zh-hans"

    # when: the agent ends the chat
    agent.request({"type": "conversation.close", "conversation_id": conversation_id}, "conversation.state")

    # then: the customer reads it in Chinese, from the event (the stored text stays English)
    expect(chat.locator("#messages .msg-system").last).to_have_text("客服已结束会话。")
    expect(chat.locator("#status")).to_have_text("会话已结束")


def test_the_h5_page_follows_a_chinese_phone(chinese_phone, server, demo_line, alice, scripted_agent, screenshot):
    # given: an agent online, and a phone whose browser speaks Chinese
    agent = scripted_agent(alice)
    agent.go_online()

    # when: the customer opens the H5 page (no lang in the link) and writes
    chinese_phone.goto(f"{server.url}/h5/?business_line=demo")
    expect(chinese_phone.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(chinese_phone).to_have_title("Acme Shop · 在线咨询")
    chinese_phone.get_by_role("textbox", name="输入消息").fill("请问可以开发票吗？")
    chinese_phone.get_by_role("button", name="发送", exact=True).click()
    conversation_id = agent.expect("conversation.assigned")["conversation"]["id"]
    agent.say(conversation_id, "可以的，请留下您的邮箱。")

    # then
    expect(chinese_phone.locator("#messages .msg-system").first).to_have_text("客服 Alice 已接入会话。")
    expect(chinese_phone.locator("#status")).to_have_text("正在与 Alice 对话")
    expect(chinese_phone.locator("#messages > li").last).to_contain_text("可以的，请留下您的邮箱。")
    expect(chinese_phone.locator(".powered")).to_have_text("回复会实时显示在这里。")
    screenshot(chinese_phone, "h5-zh")
    assert Customer.objects.get().language == "zh-hans"


def test_a_supervisor_switches_the_admin_to_chinese(page, server, screenshot):
    # given: a supervisor signed in to the admin, in English
    group, _ = Group.objects.get_or_create(name="Supervisors")
    UserFactory(username="sam", is_staff=True, is_superuser=True).groups.add(group)
    page.goto(f"{server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", "sam")
    page.fill("#id_password", "pw")
    page.click("#login-form input[type=submit]")
    expect(page.locator("#reports-link")).to_have_text("Reports")

    # when: they pick Chinese in the language switch
    page.select_option("#language-select", "zh-hans")
    page.click("#language-submit")

    # then: the admin, and the pages linked from it, speak Chinese from now on
    expect(page.locator("#reports-link")).to_have_text("报表")
    expect(page.locator("#monitor-link")).to_have_text("实时监控")
    expect(page.locator("#site-name")).to_have_text("在线客服")
    expect(page.locator("#language-select")).to_have_value("zh-hans")
    expect(page.locator("#content-main")).to_contain_text("聊天：会话与聊天记录")
    expect(page.locator("#content-main")).to_contain_text("业务线")  # the models' names too
    expect(page.locator("#content-main")).not_to_contain_text("Business lines")
    screenshot(page, "admin-zh")
    page.goto(f"{server.url}/admin/reports/")
    expect(page.locator(".breadcrumbs a").first).to_have_text("首页")
    expect(page.locator("#content")).to_contain_text("还没有任何业务线。")
