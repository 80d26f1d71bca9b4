"""A business line's own widget in Chromium: its colour, side, launcher text, title, team name and picture, the
pre-chat form before the first chat (the widget and the H5 page), and the admin's preview, which opens no chat; each in
English and in Chinese, the expected words read from the catalogs (tests/browser/catalog.py)."""

from __future__ import annotations

import base64
import io
import re

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from chat.models import Conversation
from customers.models import Customer
from tests.browser.catalog import LANGUAGES, SUFFIX, page_words, words
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def picture() -> str:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (250, 204, 21)).save(out, format="PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


@pytest.fixture
def styled_line(demo_line):
    demo_line.widget_color = "#0f766e"
    demo_line.widget_position = "left"
    demo_line.widget_title = "Acme help desk"
    demo_line.team_name = "The Acme team"
    demo_line.team_picture = picture()
    demo_line.launcher_text = "Chat with us"
    demo_line.prechat_name = "required"
    demo_line.prechat_email = "optional"
    demo_line.prechat_question = "required"
    demo_line.save()
    return demo_line


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_widget_wears_the_lines_look_and_asks_the_pre_chat_questions_first(
    page: Page, server, styled_line, alice, scripted_agent, screenshot, language
):
    agent = scripted_agent(alice)
    agent.go_online()

    # given: the demo site embedding the line's widget, in the customer's language
    page.goto(f"{server.url}/?lang={language}")
    launcher = page.get_by_role("button", name=words(language, "Open the chat"))

    # then: the launcher has the line's colour, text and side
    expect(launcher).to_contain_text("Chat with us")
    expect(launcher).to_have_css("background-color", "rgb(15, 118, 110)")
    box = launcher.bounding_box()
    assert box is not None and box["x"] < 100, box
    screenshot(page, f"30-launcher-left-with-text{SUFFIX[language]}")

    # when: the customer opens it
    launcher.click()
    chat = page.frame_locator(f"iframe[title='{words(language, 'Chat with us')}']")

    # then: the line's title, team, picture and colour, and the pre-chat form instead of the composer
    expect(chat.locator("#title")).to_have_text("Acme help desk")
    expect(chat.locator("#team-name")).to_have_text("The Acme team")
    expect(chat.locator("#intro-picture")).to_be_visible()
    expect(chat.locator(".chat-header")).to_have_css("background-image", re.compile(r"rgb\(15, 118, 110\)"))
    expect(chat.get_by_role("textbox", name=page_words(language, "Phone"))).to_be_hidden()
    expect(chat.locator("#composer")).to_be_hidden()
    screenshot(page, f"31-prechat-form{SUFFIX[language]}")

    # when: they send it without the required answers, then with them
    start = chat.get_by_role("button", name=page_words(language, "Start chat"))
    start.click()
    expect(chat.locator("#prechat-error")).to_have_text(words(language, "Please fill in the required fields."))
    chat.get_by_role("textbox", name=page_words(language, "Name")).fill("Ada")
    chat.get_by_role("textbox", name=page_words(language, "Your question")).fill("Do rocket skates come in size 38?")
    start.click()

    # then: the chat starts; the agent gets the answers as its first message; they are the customer's now
    assigned = agent.expect("conversation.assigned")
    bodies = [m["body"] for m in assigned["messages"] if m["sender"] == "customer"]
    assert bodies == [f"{page_words(language, 'Name')}: Ada\n\nDo rocket skates come in size 38?"]
    expect(chat.locator("#status")).to_have_text(words(language, "Chatting with %(name)s", name="Alice"))
    expect(chat.locator("#composer")).to_be_visible()
    customer = Customer.objects.get()
    assert (customer.name, customer.language) == ("Ada", language)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_h5_page_asks_the_pre_chat_questions_on_a_phone(
    phone: Page, server, styled_line, alice, scripted_agent, screenshot, language
):
    agent = scripted_agent(alice)
    agent.go_online()
    styled_line.prechat_phone = "optional"
    styled_line.save()

    # given: the H5 page in the customer's language, on a phone
    name_given, question = {"en": ("Bob", "Open on Sunday?"), "zh-hans": ("王伟", "周日营业吗？")}[language]
    phone.goto(f"{server.url}/h5/?business_line=demo&lang={language}")
    expect(phone.locator("#title")).to_have_text("Acme help desk")
    expect(phone.locator("label[data-field=name] .optional")).to_be_hidden()
    expect(phone.locator("label[data-field=email] .optional")).to_have_text(page_words(language, "(optional)"))

    # then: the form fits the screen, whatever the language's words
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    submit = phone.get_by_role("button", name=page_words(language, "Start chat"))
    box = submit.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, box

    # when: a wrong email (the page sees it), then a wrong phone number (the server refuses it), then right ones
    phone_box = phone.get_by_role("textbox", name=page_words(language, "Phone"))
    phone.get_by_role("textbox", name=page_words(language, "Name")).fill(name_given)
    phone.get_by_role("textbox", name=page_words(language, "Email")).fill("bob@example")
    phone_box.fill("call me")
    phone.get_by_role("textbox", name=page_words(language, "Your question")).fill(question)
    submit.click()
    expect(phone.locator("#prechat-error")).to_have_text(words(language, "Please check your email address."))
    screenshot(phone, f"33-h5-prechat-form{SUFFIX[language]}")
    phone.get_by_role("textbox", name=page_words(language, "Email")).fill("bob@example.com")
    submit.click()
    expect(phone.locator("#prechat-error")).to_have_text(words(language, "Please check your phone number."))
    phone_box.fill("+86 138 0013 8000")
    submit.click()

    # then: the answers are the agent's first message, labelled in the customer's language, and the customer's own
    assigned = agent.expect("conversation.assigned")
    name, email, phone_ = (page_words(language, label) for label in ("Name", "Email", "Phone"))
    assert [m["body"] for m in assigned["messages"] if m["sender"] == "customer"] == [
        f"{name}: {name_given}\n{email}: bob@example.com\n{phone_}: +86 138 0013 8000\n\n{question}"
    ]
    customer = Customer.objects.get()
    assert (customer.name, customer.email, customer.phone, customer.first_channel, customer.language) == (
        name_given,
        "bob@example.com",
        "+86 138 0013 8000",
        "h5",
        language,
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_admin_previews_the_widget_without_opening_a_chat(page: Page, server, styled_line, screenshot, language):
    UserFactory(username="boss", is_staff=True, is_superuser=True)
    page.goto(f"{server.url}/admin/login/?next=/admin/routing/businessline/{styled_line.pk}/change/")
    page.get_by_label("Username:").fill("boss")
    page.get_by_label("Password:").fill("pw")
    page.get_by_role("button", name="Log in").click()

    # when: the admin's reader picks their language in the switch (the django_language cookie)
    page.select_option("#language-select", language)
    page.click("#language-submit")
    expect(page.locator("#language-select")).to_have_value(language)

    # then: the preview speaks it too
    expect(page.locator(".field-widget_preview .help")).to_have_text(
        page_words(language, "The launcher in the corner of this page is the widget as customers see it.")
    )
    launcher = page.get_by_role("button", name=words(language, "Open the chat"))
    expect(launcher).to_contain_text("Chat with us")
    launcher.click()
    chat = page.frame_locator(f"iframe[title='{words(language, 'Chat with us')}']")
    expect(chat.locator("html")).to_have_attribute("lang", language)
    expect(chat.locator("#title")).to_have_text("Acme help desk")
    expect(chat.get_by_role("textbox", name=page_words(language, "Your question"))).to_be_visible()
    expect(chat.get_by_role("button", name=page_words(language, "Start chat"))).to_be_disabled()
    screenshot(page, f"32-admin-widget-preview{SUFFIX[language]}")
    assert Customer.objects.count() == 0
    assert Conversation.objects.count() == 0
