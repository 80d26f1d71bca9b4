"""The reports page in Chromium under the Content-Security-Policy (issue 13, item 2): a supervisor signs in, sets
the filters, reads the figures and charts, and a click on a chart opens the conversations behind it in the admin's
transcript list. Its screenshot is the README's (docs/images/reports.png)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from playwright.sync_api import expect

from chat.models import ConversationStatus
from tests.factories import (
    AgentFactory,
    BusinessLineFactory,
    ConversationFactory,
    CustomerFactory,
    MessageFactory,
    UserFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MONDAY = datetime(2026, 3, 2, tzinfo=UTC)
SUPERVISOR_READS = ("view_conversation", "view_message", "view_businessline", "view_agent", "view_customer")


def supervisor_sam():
    """`sam`, in the `Supervisors` group. The group comes from a data migration, which the flush after each
    transactional test empties (Django recreates only the permissions): so it is made again with what it reads."""
    group, _ = Group.objects.get_or_create(name="Supervisors")
    group.permissions.add(*Permission.objects.filter(codename__in=SUPERVISOR_READS))
    sam = UserFactory(username="sam", is_staff=True)
    sam.groups.add(group)
    return sam


def a_week_of_conversations(line, agents) -> None:
    """A week of conversations with their timestamps written out: the page only reads them, and playing 150
    chats through the services with a moving clock would test the services again, not the page. The start hours
    are in UTC; the line is in Shanghai (UTC+8)."""
    channels = ("web", "web", "h5", "app")
    for day in range(7):
        for n in range(12 + 3 * (day % 3)):
            started = MONDAY + timedelta(days=day, hours=(n * 5) % 11, minutes=7 * n)
            agent = agents[n % len(agents)]
            wait = 20 + (n * 37 + day * 11) % 160
            reply = wait + 15 + (n * 13) % 90
            missed = n % 9 == 4
            ConversationFactory(
                customer=CustomerFactory(business_line=line),
                channel=channels[(n + day) % 4],
                status=ConversationStatus.MISSED if missed else ConversationStatus.CLOSED,
                agent=None if missed else agent,
                handler_ids=[] if missed else [agent.pk],
                started_at=started,
                first_assigned_at=None if missed else started + timedelta(seconds=wait),
                assigned_at=None if missed else started + timedelta(seconds=wait),
                first_agent_reply_at=None if missed else started + timedelta(seconds=reply),
                missed_at=started + timedelta(seconds=300) if missed else None,
                closed_at=started + timedelta(seconds=300 if missed else reply + 240 + n * 20),
                close_reason="wait_timeout" if missed else "agent",
                rating=None if missed or n % 3 == 0 else 5 - (n % 4),
            )


def test_a_supervisor_filters_the_reports_and_opens_the_conversations_behind_a_chart(page, server, screenshot):
    # given a Shanghai business line, its week of conversations, and a supervisor
    line = BusinessLineFactory(
        key="shop",
        name="Acme Shop",
        time_zone="Asia/Shanghai",
        business_hours={day: [["09:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")},
    )
    BusinessLineFactory(key="other", name="Other line")
    agents = [AgentFactory(display_name=name, business_lines=[line]) for name in ("Alice", "Bob", "Carol")]
    a_week_of_conversations(line, agents)
    supervisor_sam()

    # when the supervisor signs in to the admin and follows the header's link
    page.goto(f"{server.url}/admin/login/")
    page.get_by_label("Username:").fill("sam")
    page.get_by_label("Password:").fill("pw")
    page.get_by_role("button", name="Log in").click()
    page.locator("#reports-link").click()
    # and asks for Acme Shop's week, every hour
    page.get_by_label("Business line").select_option("shop")
    page.get_by_label("From").fill("2026-03-02")
    page.get_by_label("Until (not included)").fill("2026-03-09")
    page.locator("#report-show").click()

    # then the figures and the four charts are there (a week of 12, 15, 18, 12, 15, 18, 12 conversations)
    expect(page.locator("#figure-conversations .report-value")).to_have_text("102")
    expect(page.locator("#chart-volume svg a rect")).to_have_count(21)
    expect(page.locator("#chart-heatmap svg a")).not_to_have_count(0)
    expect(page.locator("#report-agents tbody tr")).to_have_count(3)
    page.set_viewport_size({"width": 1280, "height": 1600})
    screenshot(page, "reports-page")
    page.set_viewport_size({"width": 1280, "height": 800})

    # when switching to business hours only, the count drops (Shanghai 09:00-18:00 on weekdays)
    page.get_by_label("Business hours only").check()
    page.locator("#report-show").click()
    within = int(page.locator("#figure-conversations .report-value").inner_text())
    assert 0 < within < 102
    expect(page).to_have_url(re.compile(r"business_hours_only=on"))

    # and clicking Bob's row opens his conversations of the week within business hours in the admin's list
    page.locator("#report-agents tbody tr", has_text="Bob").get_by_role("link").first.click()
    expect(page).to_have_url(re.compile(r"/admin/chat/conversation/\?.*agent__id__exact="))
    expect(page.locator("#result_list tbody tr").first).to_be_visible()
    listed = page.locator("#result_list tbody tr")
    bobs = page.locator("#report-agents")  # gone: we are on the list now
    expect(bobs).to_have_count(0)
    expect(listed.filter(has_text="Alice")).to_have_count(0)
    expect(listed.filter(has_text="Bob")).not_to_have_count(0)

    # and back on the report, a heatmap cell opens the conversations of that weekday and hour
    page.go_back()
    cell = page.locator("#chart-heatmap svg a").first
    cell_title = cell.locator("title").text_content() or ""
    count = int(cell_title.rsplit(": ", 1)[1])
    cell.click()
    expect(page).to_have_url(re.compile(r"weekday=\d&hour=\d+|hour=\d+.*weekday=\d"))
    expect(page.locator("#result_list tbody tr")).to_have_count(count)
    screenshot(page, "reports-click-through")


def test_the_transcript_reads_as_a_chat_under_the_policy(page, server, screenshot):
    """Messages written out with the factories: the page only renders what a chat left behind."""
    line = BusinessLineFactory(key="shop", name="Acme Shop", time_zone="Asia/Shanghai")
    alice = AgentFactory(display_name="Alice", business_lines=[line])
    conversation = ConversationFactory(
        customer=CustomerFactory(business_line=line, name="Ann"),
        status=ConversationStatus.CLOSED,
        agent=alice,
        handler_ids=[alice.pk],
        started_at=MONDAY,
        closed_at=MONDAY + timedelta(minutes=5),
        close_reason="agent",
    )
    said = [
        ("system", None, "Hello! How can we help you today?", "greeting", False),
        ("customer", None, "Where is my parcel?", "", False),
        ("system", None, "Alice joined the conversation.", "assigned", False),
        ("agent", alice, "Regular customer, asked twice this week", "", True),
        ("agent", alice, "It left the warehouse this morning.", "", False),
        ("system", None, "The agent closed the conversation.", "closed", False),
    ]
    for seq, (sender, agent, body, event, note) in enumerate(said, start=1):
        MessageFactory(
            conversation=conversation,
            seq=seq,
            sender=sender,
            agent=agent,
            body=body,
            event=event,
            is_internal_note=note,
            created_at=MONDAY + timedelta(seconds=20 * seq),
        )
    supervisor_sam()

    page.goto(f"{server.url}/admin/login/?next=/admin/chat/conversation/{conversation.pk}/change/")
    page.get_by_label("Username:").fill("sam")
    page.get_by_label("Password:").fill("pw")
    page.get_by_role("button", name="Log in").click()

    expect(page.locator(".transcript > li")).to_have_count(6)
    expect(page.locator(".transcript-note")).to_contain_text("Internal note · agents only")
    expect(page.get_by_text("Where is my parcel?", exact=True)).to_have_count(1)
    screenshot(page, "admin-transcript")
