"""The H5 page opened from a signed link (a WeChat menu, an app's web view): the same customer on every visit, and a
clear refusal for a link that expired or was tampered with (docs/app.md, "A signed H5 link"); on a phone whose
browser speaks English, and on one that speaks Chinese (the link names no language: WeChat's browser sends its own)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from customers.models import Customer
from examples.h5_link import h5_link
from tests.browser.catalog import BROWSER_LOCALE, LANGUAGES, SUFFIX, page_words, words
from tests.browser.conftest import phone_page
from tests.browser.content_policy import watch_content_security_policy

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SECRET = "test-identity-secret"  # BusinessLineFactory's


@pytest.fixture(params=LANGUAGES)
def language(request: pytest.FixtureRequest) -> str:
    """The language of the phones' browsers."""
    return request.param


@pytest.fixture
def first_phone(browser: Browser, language: str) -> Iterator[Page]:
    yield from phone_page(browser, locale=BROWSER_LOCALE[language])


@pytest.fixture
def second_phone(browser: Browser, language: str) -> Iterator[Page]:
    yield from phone_page(browser, locale=BROWSER_LOCALE[language])


def test_a_signed_link_shows_the_same_customers_history_on_two_visits(
    first_phone, second_phone, server, alice, scripted_agent, screenshot, language
):
    chatting = words(language, "Chatting with %(name)s", name="Alice")
    message_box = page_words(language, "Type your message")
    # given: an agent online, and a WeChat user who opens the chat from the site's menu (a link it signed)
    agent = scripted_agent(alice)
    agent.go_online()
    first_phone.goto(h5_link(server.url, "demo", SECRET, "wx-openid-42", ttl=600, name="Wei"))
    first_phone.get_by_role("textbox", name=message_box).fill("My parcel 42 is late")
    first_phone.get_by_role("button", name=page_words(language, "Send"), exact=True).click()
    conversation_id = agent.expect("conversation.assigned")["conversation"]["id"]
    agent.say(conversation_id, "It arrives tomorrow.")
    expect(first_phone.locator("#messages > li").last).to_contain_text("It arrives tomorrow.")
    before = first_phone.locator("#messages > li").all_inner_texts()
    # ... and a reload of the link finds the same chat
    first_phone.reload()
    expect(first_phone.locator("#status")).to_have_text(chatting)
    expect(first_phone.locator("#messages > li")).to_have_count(len(before))

    # when: the same user comes back later on another device, from a freshly signed link
    second_phone.goto(h5_link(server.url, "demo", SECRET, "wx-openid-42", ttl=600))

    # then: their conversation and its history are there
    expect(second_phone.locator("#status")).to_have_text(chatting)
    expect(second_phone.locator("#messages > li").last).to_contain_text("It arrives tomorrow.")
    expect(second_phone.locator("#messages")).to_contain_text("My parcel 42 is late")
    customer = Customer.objects.get()
    assert (customer.external_id, customer.name, customer.language) == ("wx-openid-42", "Wei", language)
    screenshot(second_phone, f"h5-signed-link-second-visit{SUFFIX[language]}")


@pytest.mark.parametrize(
    ("ttl", "user_in_link", "message"),
    [
        (-60, "wx-openid-42", "This chat link has expired. Go back and open the chat again for a new link."),
        (
            600,
            "wx-openid-43",
            "This chat link is not valid. Go back and open the chat again from the site or app that gave it.",
        ),
    ],
    ids=["expired", "forged"],
)
def test_an_expired_or_forged_link_is_refused_with_a_clear_message(
    first_phone, server, demo_line, ttl, user_in_link, message, language
):
    # given: a link signed for one user, expired, or with someone else's id put in it
    link = h5_link(server.url, "demo", SECRET, "wx-openid-42", ttl=ttl).replace("wx-openid-42", user_in_link)

    # when
    response = first_phone.goto(link)

    # then: the page says why, and no chat opens as anyone
    assert response is not None and response.status == 403
    expect(first_phone.locator("html")).to_have_attribute("lang", language)
    expect(first_phone.locator("#banner")).to_have_text(page_words(language, message))
    expect(first_phone.locator("#banner")).to_be_visible()
    expect(first_phone.get_by_role("textbox", name=page_words(language, "Type your message"))).to_be_hidden()
    assert Customer.objects.count() == 0
