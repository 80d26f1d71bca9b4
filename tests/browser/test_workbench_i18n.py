"""The agent workbench in Simplified Chinese (issue 14, item 1): an agent whose language cookie (Django's
set_language, the admin's switch) says zh-hans reads the page, its script's words and the system messages in
Chinese; English stays the default for everyone else (the other workbench tests)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.workbench_conftest import (
    agent_page,
    screenshot,
    scripted,
    team,
    workbench_browser,
    workbench_processes,
    workbench_site,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_workbench_speaks_chinese_when_the_agent_chose_it(agent_page, scripted, team, screenshot):
    # Given an agent who chose Chinese with the language switch, and a customer waiting
    agent_page.page.context.add_cookies([{"name": "django_language", "value": "zh-hans", "url": agent_page.base_url}])
    customer = scripted(line=team.line, name="Ada Lovelace", email="ada@example.com")
    conversation = customer.start()
    customer.say(conversation["id"], "My parcel #1234 has not arrived")

    # When the agent opens the workbench and goes online
    agent_page.open_workbench(team.username)
    page = agent_page.page
    agent_page.set_presence("online")

    # Then the panels, the composer and the system messages are in Chinese (the customer's words are kept)
    expect(agent_page.conversation(conversation["id"])).to_contain_text("Ada Lovelace")
    expect(page.locator("#customer-panel h2")).to_have_text("客户")
    expect(page.locator("#language-select")).to_have_value("zh-hans")
    # ... and so are the words its scripts write: the connection line and the conversation's status badge
    expect(page.locator("#connection-status")).to_have_text("已连接")
    expect(agent_page.conversation(conversation["id"]).locator(".wb-badge")).to_have_text("进行中")
    expect(agent_page.conversation(conversation["id"]).locator(".wb-badge")).to_have_attribute("data-status", "active")
    expect(page.locator("#composer-input")).to_have_attribute(
        "placeholder", "输入回复。按 Enter 发送，Shift+Enter 换行。"
    )
    expect(page.locator("#transcript .wb-msg--system .wb-msg-body")).to_contain_text(["客服 Alice 已接入会话。"])
    expect(agent_page.transcript_message("My parcel #1234 has not arrived")).to_have_attribute(
        "data-sender", "customer"
    )
    screenshot(page, "workbench-zh")
