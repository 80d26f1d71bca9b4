"""The workbench's look and reach (issue 12 item 10, issue 14 item 6): the Django admin's family, on a laptop and on
a large monitor, with no serious or critical axe-core violation in any of its states, in English and in Chinese;
its dialogs keep and return the keyboard's focus; and protocol values (channel, status, close reason, presence)
read as words of the agent's language, the value itself kept in a data attribute."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from desk.models import CannedReply, Label
from tests.browser.axe import accessibility_violations, assert_accessible
from tests.browser.workbench_conftest import (
    AgentPage,
    Team,
    agent_page,
    screenshot,
    scripted,
    team,
    workbench_browser,
    workbench_processes,
    workbench_site,
)
from tests.factories import AgentFactory, ConversationFactory, CustomerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

__all__ = ["agent_page", "screenshot", "scripted", "team", "workbench_browser", "workbench_processes"]

VIEWPORTS = ((1366, 768), (2560, 1440))


class AxeLog:
    """axe-core's serious and critical violations, state by state, reported together at the end."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.found: list[str] = []

    def check(self, state: str) -> None:
        for violation in accessibility_violations(self.page):
            nodes = "\n      ".join(violation["nodes"])
            self.found.append(
                f"[{state}] {violation['impact']} {violation['id']} ({violation['help']}):\n      {nodes}"
            )

    def assert_clean(self) -> None:
        assert not self.found, f"axe-core found {len(self.found)} serious or critical violations:\n" + "\n".join(
            self.found
        )


def speak(agent_page: AgentPage, language: str) -> None:
    """The language the admin's switch sets (Django's `django_language` cookie)."""
    agent_page.page.context.add_cookies([{"name": "django_language", "value": language, "url": agent_page.base_url}])


def a_busy_shift(agent_page: AgentPage, scripted: Any, team: Team) -> dict[str, Any]:
    """Alice online with room for one: a chat on screen with messages and the customer's page, one customer
    waiting, one left message, a canned reply and a label of the line, and a past conversation to search for."""
    team.agent.capacity = 1
    team.agent.save(update_fields=["capacity"])
    CannedReply.objects.create(
        business_line=team.line, shortcut="thanks", title="Thanks", body="Thanks {customer.name}!"
    )
    Label.objects.create(business_line=team.line, name="VIP")
    ConversationFactory(
        customer=CustomerFactory(business_line=team.line, name="Grace Hopper"),
        status="closed",
        close_reason="customer",
        transcript=["Where is my refund?"],
    )
    agent_page.set_presence("online")
    ada = scripted(line=team.line, name="Ada Lovelace", email="ada@example.com")
    chat = ada.start_with_agent()
    ada.send({"type": "customer.context", "page_url": "https://shop.example/orders/1234", "page_title": "Order 1234"})
    ada.say(chat["id"], "Hello! My parcel has not arrived yet.")
    scripted(line=team.line, name="Joan Clarke").start()
    scripted(line=team.line, name="Katherine Johnson").request(
        {"type": "conversation.leave_message", "body": "Please call me back"}, "conversation.state"
    )
    page = agent_page.page
    expect(page.locator("#queue-list [data-queue-id]")).to_have_count(1)
    expect(page.locator("#missed-list [data-missed-id]")).to_have_count(1)
    agent_page.conversation(chat["id"]).click()
    agent_page.write("Let me check that for you.")
    expect(agent_page.transcript_message("Let me check that for you.")).to_be_visible()
    expect(page.locator("#contact-details")).to_contain_text("Order 1234")
    return {"customer": ada, "conversation": chat}


def expect_dialog_returns_focus(page: Page, opener: str, dialog: str) -> None:
    """Opened from the keyboard, the dialog holds the focus; Escape closes it and gives the focus back."""
    page.locator(opener).focus()
    page.keyboard.press("Enter")
    expect(page.locator(dialog)).to_be_visible()
    assert page.evaluate(f"document.querySelector('{dialog}').contains(document.activeElement)")
    page.keyboard.press("Escape")
    expect(page.locator(dialog)).to_be_hidden()
    expect(page.locator(opener)).to_be_focused()


@pytest.mark.parametrize(("language", "scheme"), [("en", "light"), ("zh-hans", "dark")])
def test_every_state_of_the_workbench_passes_axe_and_dialogs_return_focus(
    agent_page, scripted, team, screenshot, language, scheme
):
    # Given an agent who reads English in the admin's light theme, or Chinese in its dark one (the system's)
    speak(agent_page, language)
    agent_page.page.emulate_media(color_scheme=scheme)
    AgentFactory(display_name="Bob", business_lines=[team.line])  # someone to transfer to
    agent_page.open_workbench(team.username)
    page = agent_page.page
    axe = AxeLog(page)

    # An empty workbench, with the one-time notification prompt
    expect(page.locator("#conversation-empty")).to_be_visible()
    axe.check("empty")

    # Chats, the queue and the missed list, a chat open with messages and the contact panel
    shift = a_busy_shift(agent_page, scripted, team)
    axe.check("busy, a chat open")

    # The transfer picker, from the keyboard
    expect_dialog_returns_focus(page, "#transfer-button", "#transfer-dialog")
    page.locator("#transfer-button").click()
    expect(page.locator("#transfer-agents li")).to_have_count(1)
    axe.check("transfer picker")
    page.keyboard.press("Escape")

    # Canned replies: the picker in the composer and the manager
    page.locator("#composer-input").press_sequentially("/tha")
    expect(page.locator("#canned-picker [role=option]")).to_have_count(1)
    axe.check("canned picker")
    page.locator("#composer-input").fill("")
    page.locator("#canned-manager summary").click()
    expect(page.locator("#canned-manager .wb-canned-list")).to_contain_text("/thanks")
    axe.check("canned manager")

    # Search results, and a past transcript
    page.locator("#search-input").fill("refund")
    page.locator("#search-form [type=submit]").click()
    expect(page.locator("#search-results [data-search-id]")).to_have_count(1)
    axe.check("search results")
    expect_dialog_returns_focus(page, "#search-results [data-search-id]", "#search-transcript")

    # The shortcut list behind ?
    page.locator("#search-results [data-search-id]").focus()
    page.keyboard.press("?")
    expect(page.locator("#shortcuts-dialog")).to_be_visible()
    axe.check("shortcuts")
    page.keyboard.press("Escape")
    expect(page.locator("#search-results [data-search-id]")).to_be_focused()

    # The presence prompt, from the keyboard: the arrow moves from Online to Away, with a chat open
    page.locator("#presence-switch input[value=online]").focus()
    page.keyboard.press("ArrowRight")
    expect(page.locator("#presence-dialog")).to_be_visible()
    axe.check("presence prompt")
    page.keyboard.press("Escape")
    expect(page.locator("#presence-dialog")).to_be_hidden()
    expect(page.locator("#presence-switch input[value=online]")).to_be_checked()
    expect(page.locator("#presence-switch input[value=away]")).to_be_focused()

    # A label and a note on the open chat, from the keyboard
    page.locator("#label-add").focus()
    page.keyboard.press("ArrowDown")  # a closed select changes at once: the first label is added
    expect(page.locator("#conversation-labels .wb-label")).to_have_count(1)
    page.locator("#customer-note-input").fill("Prefers email")
    page.locator("#customer-note-input").press("Tab")
    page.keyboard.press("Enter")
    expect(page.locator("#customer-notes .wb-note")).to_have_count(1)
    axe.check("a label and a note")

    # Closed today: the customer ends the chat; its transcript opens from the list and gives the focus back
    shift["customer"].close_conversation(shift["conversation"]["id"])
    closed = f"#closed-list [data-closed-id='{shift['conversation']['id']}']"
    expect(page.locator(closed)).to_be_visible()
    expect_dialog_returns_focus(page, closed, "#transcript-dialog")
    page.locator(closed).click()
    expect(page.locator("#transcript-dialog .wb-msg").first).to_be_visible()
    axe.check("closed transcript")
    page.keyboard.press("Escape")

    screenshot(page, f"workbench-look-{language}-{scheme}")
    axe.assert_clean()


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_workbench_fits_a_laptop_and_a_large_monitor(agent_page, scripted, team, screenshot, language):
    speak(agent_page, language)
    agent_page.open_workbench(team.username)
    page = agent_page.page
    a_busy_shift(agent_page, scripted, team)
    for width, height in VIEWPORTS:
        page.set_viewport_size({"width": width, "height": height})
        # No sideways scrolling, and the three columns side by side: lists, the conversation, the customer
        assert page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")
        lists, chat, customer = (
            page.locator(selector) for selector in ("#conversation-list", "#chat", "#customer-panel")
        )
        for panel in (lists, chat, customer, page.locator("#composer-input"), page.locator("#send-button")):
            expect(panel).to_be_visible()
        left, middle, right = (panel.bounding_box() for panel in (lists, chat, customer))
        assert left["x"] + left["width"] <= middle["x"] < middle["x"] + middle["width"] <= right["x"]
        assert right["x"] + right["width"] <= width
        # ... the conversation taking the room a large monitor gives, its composer on the first screen
        assert middle["width"] >= width * 0.4
        composer = page.locator("#composer-input").bounding_box()
        assert composer["y"] + composer["height"] <= height
        screenshot(page, f"workbench-{width}x{height}-{language}")


LAPTOP = {"width": 1366, "height": 768}
HEADINGS = {
    "en": ("Waiting queue (3)", "Missed conversations and messages (3)"),
    "zh-hans": ("排队列表（3）", "未接会话和留言（3）"),
}


def overlaps(one: dict[str, float], other: dict[str, float]) -> bool:
    return (
        one["x"] < other["x"] + other["width"]
        and other["x"] < one["x"] + one["width"]
        and one["y"] < other["y"] + other["height"]
        and other["y"] < one["y"] + one["height"]
    )


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_a_laptop_shows_the_waiting_and_missed_lists_of_a_busy_shift_above_the_fold(
    agent_page, scripted, team, screenshot, language
):
    # Given Alice on a 1366x768 laptop with four chats, three customers waiting and three left messages
    team.agent.capacity = 4
    team.agent.save(update_fields=["capacity"])
    speak(agent_page, language)
    page = agent_page.page
    page.set_viewport_size(LAPTOP)
    agent_page.open_workbench(team.username)
    agent_page.set_presence("online")
    for name in ("Ada Lovelace", "Grace Hopper", "Hedy Lamarr", "Radia Perlman"):
        scripted(line=team.line, name=name).start_with_agent()
    for name in ("Joan Clarke", "Mary Jackson", "Dorothy Vaughan"):
        scripted(line=team.line, name=name).start()
    for name in ("Katherine Johnson", "Margaret Hamilton", "Frances Allen"):
        scripted(line=team.line, name=name).request(
            {"type": "conversation.leave_message", "body": "Please call me back about my order"}, "conversation.state"
        )
    expect(page.locator("#conversation-list [data-conversation-id]")).to_have_count(4)
    expect(page.locator("#queue-list [data-queue-id]")).to_have_count(3)
    expect(page.locator("#missed-list [data-missed-id]")).to_have_count(3)

    # Then both headings, with their counts, are on the first screen, with no scrolling
    waiting, missed = HEADINGS[language]
    for selector, text in (("#queue-heading", waiting), ("#missed-heading", missed)):
        heading = page.locator(selector)
        expect(heading).to_have_text(text)
        box = heading.bounding_box()
        assert box["y"] >= 0 and box["y"] + box["height"] <= LAPTOP["height"], (selector, box)
    assert page.evaluate(
        "document.scrollingElement.scrollTop === 0 && document.querySelector('.wb-left').scrollTop === 0"
    )

    # ... each long list scrolling inside itself
    for selector in ("#conversation-list", "#queue-list", "#missed-list"):
        assert page.evaluate(f"getComputedStyle(document.querySelector('{selector}')).overflowY") == "auto"

    # ... and a missed item reads in full: its name not cut, its buttons on a row of their own under the text
    item = page.locator("#missed-list [data-missed-id]").first
    item.scroll_into_view_if_needed()
    name = item.locator(".wb-conv-name")
    assert name.evaluate("node => node.scrollWidth <= node.clientWidth"), name.inner_text()
    text = item.locator(".wb-missed-text").bounding_box()
    for button in (item.locator("[data-pick]"), item.locator("[data-answer]")):
        expect(button).to_be_visible()
        box = button.bounding_box()
        assert not overlaps(box, text), (box, text)
        assert box["y"] >= text["y"] + text["height"]
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, f"workbench-laptop-busy-{language}")
    assert_accessible(page)


def test_protocol_values_read_in_chinese_and_stay_in_data_attributes(agent_page, scripted, team):
    speak(agent_page, "zh-hans")
    bob = AgentFactory(display_name="Bob", business_lines=[team.line])
    scripted(agent=bob).request({"type": "presence.set", "status": "away"}, "presence.state")
    agent_page.open_workbench(team.username)
    page = agent_page.page
    agent_page.set_presence("online")
    customer = scripted(line=team.line, name="Ada Lovelace")  # a native app's customer: channel "app"
    conversation = customer.start_with_agent()
    customer.send({"type": "customer.context", "language": "en-GB"})
    item = agent_page.conversation(conversation["id"])

    # The list: status and channel in words, their values kept
    expect(item.locator(".wb-badge")).to_have_text("进行中")
    expect(item.locator(".wb-badge")).to_have_attribute("data-status", "active")
    expect(item.locator("[data-channel]")).to_have_attribute("data-channel", "app")
    expect(item.locator("[data-channel]")).to_have_text("应用")

    # The chat's line and the customer panel
    item.click()
    expect(page.locator("#chat-meta")).to_contain_text("渠道：应用")
    expect(page.locator("#chat-meta")).to_contain_text("年")  # the date as Chinese writes it (2026年11月30日)
    expect(page.locator("#customer-details")).to_contain_text("应用")
    expect(page.locator("#customer-details")).not_to_contain_text("app")
    language = page.locator("#contact-details [data-language]")
    expect(language).to_have_attribute("data-language", "en-GB")
    expect(language).to_contain_text("英语")  # the browser's language named in Chinese

    # The transfer picker's presence
    page.locator("#transfer-button").click()
    presence = page.locator("#transfer-agents .wb-presence-dot")
    expect(presence).to_have_text("离开")
    expect(presence).to_have_attribute("data-presence", "away")
    page.keyboard.press("Escape")

    # A close reason, in the chat's line and in "Closed today"
    customer.close_conversation(conversation["id"])
    expect(page.locator("#chat-meta")).to_contain_text("由客户结束")
    closed = page.locator(f"#closed-list [data-closed-id='{conversation['id']}']")
    expect(closed).to_contain_text("由客户结束")
    expect(closed.locator("[data-close-reason]")).to_have_attribute("data-close-reason", "customer")
    expect(closed.locator("[data-channel]")).to_have_text("应用")


PAINTED = """() => [
  ".wb-msg--agent", "#chat", ".wb-switch-option.wb-online", ".wb-badge[data-status=active]", ".wb-conv",
].map((selector) => getComputedStyle(document.querySelector(selector)).backgroundColor)"""


def test_the_admins_theme_toggle_turns_the_whole_workbench_dark(agent_page, scripted, team):
    # Given a busy workbench in a light system theme
    agent_page.page.emulate_media(color_scheme="light")
    agent_page.open_workbench(team.username)
    page = agent_page.page
    a_busy_shift(agent_page, scripted, team)
    light = page.evaluate(PAINTED)

    # When the agent chooses dark with the admin's toggle in the header (auto, then dark)
    page.locator("#header .theme-toggle").click()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")

    # Then the workbench's own panels follow the admin's dark variables, and still pass axe-core
    dark = page.evaluate(PAINTED)
    assert all(before != after for before, after in zip(light, dark, strict=True)), (light, dark)
    assert_accessible(page)
