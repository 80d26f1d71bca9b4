"""Every kind of page the product serves, in Chromium under its Content-Security-Policy: the admin, Swagger UI and
the H5 chat work, and nothing they need is refused (the `page` fixture fails a test on any violation)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from chat.models import ConversationStatus
from tests.factories import ConversationFactory, CustomerFactory, MessageFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_supervisor_browses_the_admin_under_the_policy(page, server, demo_line):
    # given
    UserFactory(username="boss", is_staff=True, is_superuser=True)
    conversation = ConversationFactory(
        customer=CustomerFactory(business_line=demo_line), status=ConversationStatus.CLOSED
    )
    MessageFactory(conversation=conversation, seq=1, body="Where is my parcel?")

    # when: logging in, then a list with filters and actions, a transcript, and a form full of widgets
    page.goto(f"{server.url}/admin/login/")
    page.get_by_label("Username:").fill("boss")
    page.get_by_label("Password:").fill("pw")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()
    page.goto(f"{server.url}/admin/chat/conversation/")
    expect(page.locator("#changelist-filter")).to_be_visible()
    page.locator("select[name=action]").select_option("export_transcripts")
    page.goto(f"{server.url}/admin/chat/conversation/{conversation.pk}/change/")
    expect(page.get_by_text("Where is my parcel?", exact=True)).to_be_visible()
    page.goto(f"{server.url}/admin/routing/businessline/{demo_line.pk}/change/")

    # then the admin's own scripts ran (its theme toggle and calendar widgets are built by them)
    expect(page.locator("button.theme-toggle")).to_be_visible()
    page.goto(f"{server.url}/admin/auth/user/add/")
    expect(page.locator("#id_username")).to_be_visible()


def test_the_business_line_page_shows_its_whole_form(page, server, demo_line):
    # given: the widget key's help text names the <script> tag the site embeds
    UserFactory(username="boss", is_staff=True, is_superuser=True)

    # when
    page.goto(f"{server.url}/admin/login/?next=/admin/routing/businessline/{demo_line.pk}/change/")
    page.get_by_label("Username:").fill("boss")
    page.get_by_label("Password:").fill("pw")
    page.get_by_role("button", name="Log in").click()

    # then: the help text reads as text, and the fields after it are there, down to the Save button
    expect(
        page.get_by_text("Public widget key, written into the site's <script> tag (data-business-line).")
    ).to_be_visible()
    for label in ["Greeting", "Allowed origins", "Business hours", "Wait timeout", "Idle timeout", "Retention days"]:
        expect(page.get_by_label(label, exact=False).first).to_be_visible()
    expect(page.get_by_role("heading", name="Team")).to_be_visible()
    expect(page.get_by_role("button", name="Save", exact=True)).to_be_visible()


def test_swagger_ui_renders_the_api_under_the_policy(page, server):
    # when
    page.goto(f"{server.url}/api/docs/")

    # then its start-up script ran and fetched the schema
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Customer-service IM platform API")
    expect(page.get_by_text("/api/widget/session/").first).to_be_visible()


def test_the_h5_page_opens_a_chat_under_the_policy(page, server, demo_line):
    # when
    page.goto(f"{server.url}/h5/?business_line=demo")

    # then its script ran, opened a session and a socket (nobody online: the form to leave a message)
    expect(page.get_by_role("heading", name="Leave us a message")).to_be_visible()
