"""A business line's own widget in Chromium: its colour, side, launcher text, title, team name and picture, the
pre-chat form before the first chat (the widget and the H5 page), and the admin's preview, which opens no chat."""

from __future__ import annotations

import base64
import io
import re

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from chat.models import Conversation
from customers.models import Customer
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


def test_the_widget_wears_the_lines_look_and_asks_the_pre_chat_questions_first(
    page: Page, server, styled_line, alice, scripted_agent, screenshot
):
    agent = scripted_agent(alice)
    agent.go_online()

    # given: the demo site embedding the line's widget
    page.goto(f"{server.url}/")
    launcher = page.get_by_role("button", name="Open the chat")

    # then: the launcher has the line's colour, text and side
    expect(launcher).to_contain_text("Chat with us")
    expect(launcher).to_have_css("background-color", "rgb(15, 118, 110)")
    box = launcher.bounding_box()
    assert box is not None and box["x"] < 100, box
    screenshot(page, "30-launcher-left-with-text")

    # when: the customer opens it
    launcher.click()
    chat = page.frame_locator("iframe[title='Chat with us']")

    # then: the line's title, team, picture and colour, and the pre-chat form instead of the composer
    expect(chat.locator("#title")).to_have_text("Acme help desk")
    expect(chat.locator("#team-name")).to_have_text("The Acme team")
    expect(chat.locator("#intro-picture")).to_be_visible()
    expect(chat.locator(".chat-header")).to_have_css("background-image", re.compile(r"rgb\(15, 118, 110\)"))
    expect(chat.get_by_role("textbox", name="Phone")).to_be_hidden()
    expect(chat.locator("#composer")).to_be_hidden()
    screenshot(page, "31-prechat-form")

    # when: they send it without the required answers, then with them
    chat.get_by_role("button", name="Start chat").click()
    expect(chat.locator("#prechat-error")).to_have_text("Please fill in the required fields.")
    chat.get_by_role("textbox", name="Name").fill("Ada")
    chat.get_by_role("textbox", name="Your question").fill("Do rocket skates come in size 38?")
    chat.get_by_role("button", name="Start chat").click()

    # then: the chat starts; the agent gets the answers as its first message; they are the customer's now
    assigned = agent.expect("conversation.assigned")
    bodies = [m["body"] for m in assigned["messages"] if m["sender"] == "customer"]
    assert bodies == ["Name: Ada\n\nDo rocket skates come in size 38?"]
    expect(chat.locator("#status")).to_have_text("Chatting with Alice")
    expect(chat.locator("#composer")).to_be_visible()
    assert Customer.objects.get().name == "Ada"


def test_the_h5_page_asks_the_pre_chat_questions_on_a_phone(phone: Page, server, styled_line, alice, scripted_agent):
    agent = scripted_agent(alice)
    agent.go_online()

    phone.goto(f"{server.url}/h5/?business_line=demo")
    expect(phone.locator("#title")).to_have_text("Acme help desk")
    phone.get_by_role("textbox", name="Name").fill("Bob")
    phone.get_by_role("textbox", name="Email").fill("bob@example")
    phone.get_by_role("textbox", name="Your question").fill("Open on Sunday?")
    phone.get_by_role("button", name="Start chat").click()
    expect(phone.locator("#prechat-error")).to_have_text("Please check your email address.")
    phone.get_by_role("textbox", name="Email").fill("bob@example.com")
    phone.get_by_role("button", name="Start chat").click()

    assigned = agent.expect("conversation.assigned")
    assert [m["body"] for m in assigned["messages"] if m["sender"] == "customer"] == [
        "Name: Bob\nEmail: bob@example.com\n\nOpen on Sunday?"
    ]
    customer = Customer.objects.get()
    assert (customer.name, customer.email, customer.first_channel) == ("Bob", "bob@example.com", "h5")


def test_the_admin_previews_the_widget_without_opening_a_chat(page: Page, server, styled_line, screenshot):
    UserFactory(username="boss", is_staff=True, is_superuser=True)
    page.goto(f"{server.url}/admin/login/?next=/admin/routing/businessline/{styled_line.pk}/change/")
    page.get_by_label("Username:").fill("boss")
    page.get_by_label("Password:").fill("pw")
    page.get_by_role("button", name="Log in").click()

    launcher = page.get_by_role("button", name="Open the chat")
    expect(launcher).to_contain_text("Chat with us")
    launcher.click()
    chat = page.frame_locator("iframe[title='Chat with us']")
    expect(chat.locator("#title")).to_have_text("Acme help desk")
    expect(chat.get_by_role("textbox", name="Your question")).to_be_visible()
    expect(chat.get_by_role("button", name="Start chat")).to_be_disabled()
    screenshot(page, "32-admin-widget-preview")
    assert Customer.objects.count() == 0
    assert Conversation.objects.count() == 0
