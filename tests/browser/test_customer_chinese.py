"""A customer's system messages in their own language (issue 14, item 1), on a phone whose browser speaks Chinese, and
one that speaks English: an agent joins, transfers the chat, the next agent does not answer in time so another takes
over, and the chat is closed for silence. Each notice is written by the customer's page from its event, in the words
of the catalog (tests/browser/catalog.py); the times of the messages as the language writes them (Intl). And a
Chinese widget in an English browser asks the server for its words in Chinese."""

from __future__ import annotations

from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from chat.models import Message, Sender
from customers.models import Customer
from routing.models import BusinessLine
from tests.browser.catalog import BROWSER_LOCALE, LANGUAGES, SUFFIX, page_words, words
from tests.browser.conftest import phone_page
from tests.browser.content_policy import watch_content_security_policy
from tests.factories import AgentFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TIME_ZONE = "Asia/Shanghai"
# How Intl writes a time of day with { hour: "2-digit", minute: "2-digit" }: a 24-hour clock in Chinese, a 12-hour
# one in American English.
TIME_OF_DAY = {"zh-hans": "%H:%M", "en": "%I:%M %p"}


@pytest.fixture(params=LANGUAGES)
def language(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def customers_phone(browser: Browser, language: str) -> Iterator[Page]:
    """A phone in China whose browser speaks `language`; script errors and CSP violations fail the test."""
    yield from phone_page(browser, locale=BROWSER_LOCALE[language], timezone_id=TIME_ZONE)


def test_the_customer_reads_every_system_message_in_their_language(
    customers_phone, server, demo_line, alice, scripted_agent, routing_sweeps, screenshot, language
):
    phone = customers_phone
    bob = AgentFactory(display_name="Bob", business_lines=[demo_line])
    first = scripted_agent(alice)
    first.go_online()

    # given: the customer opens the H5 page (the link names no language: the phone's browser does) and writes
    phone.goto(f"{server.url}/h5/?business_line=demo")
    expect(phone.locator("html")).to_have_attribute("lang", language)
    phone.get_by_role("textbox", name=page_words(language, "Type your message")).fill("Hi / 你好")
    phone.get_by_role("button", name=page_words(language, "Send"), exact=True).click()
    conversation_id = first.expect("conversation.assigned")["conversation"]["id"]
    notices = phone.locator("#messages .msg-system")
    expect(notices).to_have_text([words(language, "%(agent)s joined the conversation.", agent="Alice")])

    # when: Alice transfers the chat to Bob
    second = scripted_agent(bob)
    second.go_online()
    first.request(
        {"type": "conversation.transfer", "conversation_id": conversation_id, "to_agent_id": bob.id},
        "conversation.state",
    )
    second.expect("conversation.assigned", lambda frame: frame["conversation"]["id"] == conversation_id)

    # then: the customer reads the transfer and who joined
    expect(phone.locator("#status")).to_have_text(words(language, "Chatting with %(name)s", name="Bob"))

    # when: Bob steps away (keeping his chat: no new one comes to him) and does not answer in time (the timeouts
    # run), so Alice takes over and answers
    second.request({"type": "presence.set", "status": "away"}, "presence.state")
    BusinessLine.objects.filter(id=demo_line.id).update(agent_reply_timeout=1, idle_timeout=1)
    routing_sweeps()
    first.expect("conversation.assigned", lambda frame: frame["conversation"]["id"] == conversation_id, timeout=30)
    expect(phone.locator("#status")).to_have_text(words(language, "Chatting with %(name)s", name="Alice"))
    first.say(conversation_id, "Alice here / 我是 Alice")

    # then: after a silence of the customer, the chat is closed; every notice is in the customer's language
    expect(phone.locator("#status")).to_have_text(words(language, "Chat ended"), timeout=30_000)
    expect(notices).to_have_text(
        [
            words(language, "%(agent)s joined the conversation.", agent="Alice"),
            words(language, "Transferred to %(agent)s.", agent="Bob"),
            words(language, "%(agent)s joined the conversation.", agent="Bob"),
            words(language, "Sorry for the wait: another agent is taking over."),
            words(language, "%(agent)s joined the conversation.", agent="Alice"),
            words(language, "The conversation was closed because there was no reply for a while."),
        ]
    )
    expect(phone.get_by_role("heading", name=page_words(language, "How was your chat?"))).to_be_visible()
    screenshot(phone, f"h5-system-messages{SUFFIX[language]}")
    assert Customer.objects.get().language == language

    # and the messages' times are written as the language writes a time of day, in the phone's time zone
    for message in Message.objects.filter(conversation_id=conversation_id, sender__in=[Sender.CUSTOMER, Sender.AGENT]):
        shown = timezone.localtime(message.created_at, ZoneInfo(TIME_ZONE)).strftime(TIME_OF_DAY[language])
        expect(phone.locator(f"#messages > li[data-seq='{message.seq}'] .meta")).to_contain_text(shown)


def test_a_chinese_widget_in_an_english_browser_hears_the_servers_refusals_in_chinese(
    page, server, demo_line, settings
):
    # given: the session call answered, once, by the product's own API refusing it as over WIDGET_SESSION_RATE,
    # in whatever language the request asks for (the worker of these tests has no limit)
    settings.WIDGET_SESSION_RATE = "0/m"
    answers: list[dict] = []

    def refuse_once(route):
        if answers:
            route.continue_()
            return
        request = route.request
        refused = Client().post(
            "/api/widget/session/",
            data=request.post_data,
            content_type="application/json",
            headers={"Accept-Language": request.headers.get("accept-language", "")},
        )
        answers.append(refused.json())
        route.fulfill(
            status=refused.status_code,
            headers={"Retry-After": refused["Retry-After"]},
            content_type="application/json",
            body=refused.content,
        )

    page.route("**/api/widget/session/", refuse_once)

    # when: a site whose script tag says data-lang="zh-hans" is opened in a browser that speaks English
    page.goto(f"{server.url}/?lang=zh-hans")

    # then: the widget asked in its own language, and shows the server's words in it
    chat = page.frame_locator(f"iframe[title='{words('zh-hans', 'Chat with us')}']")
    page.get_by_role("button", name=words("zh-hans", "Open the chat")).click()
    expect(chat.locator("#banner")).to_contain_text(
        page_words("zh-hans", "Too many chat sessions were opened from your network.")
    )
    assert chat.locator("#banner").inner_text() == answers[0]["message"]
