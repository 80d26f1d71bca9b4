"""The supervisors' live monitor in a real browser: Debian's Chromium on /admin/monitor/ (served by one Daphne
worker), while a scripted customer and agent chat through the other worker; every change reaches the page through
the channel layer, pushed (docs/protocol.md, "Supervisors")."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Group
from playwright.sync_api import expect

from routing.models import BusinessLine
from tests.browser.workbench_conftest import (
    PASSWORD,
    ScriptedSocket,
    agent_page,
    in_thread,
    screenshot,
    scripted,
    team,
    workbench_browser,
    workbench_processes,
    workbench_site,
)
from tests.factories import BusinessLineFactory, UserFactory
from tests.integration.harness import agent_login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

__all__ = ["agent_page", "screenshot", "scripted", "team", "workbench_browser", "workbench_processes", "workbench_site"]


BREACH = re.compile(r"\bis-breach\b")


def a_supervisor() -> str:
    user = UserFactory(username="sam", first_name="Sam", is_staff=True)
    user.groups.add(Group.objects.get_or_create(name="Supervisors")[0])
    return user.username


def test_the_monitor_follows_a_chat_live_and_the_supervisor_whispers(agent_page, scripted, team, screenshot):
    # Given a line whose reply target is 3 seconds, and a supervisor signed in to the monitor on the `web` worker
    in_thread(lambda: BusinessLine.objects.filter(id=team.line.id).update(agent_reply_timeout=3))
    username = in_thread(a_supervisor)
    page = agent_page.page
    base = agent_page.base_url
    page.goto(f"{base}/admin/monitor/")
    expect(page).to_have_url(f"{base}/admin/login/?next=/admin/monitor/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("#login-form input[type=submit]")
    expect(page).to_have_url(f"{base}/admin/monitor/")
    expect(page.locator("#site-name")).to_be_visible()
    expect(page.locator("#connection-status")).to_have_attribute("data-state", "connected")
    line = page.locator(f"#line-{team.line.key}")
    expect(line.locator("h2")).to_have_text(f"Acme Shop ({team.line.key})")
    expect(line.locator(".mon-waiting .mon-figure-value")).to_have_text("0")
    expect(line.locator(f".mon-agent[data-agent-id='{team.agent.id}']")).to_have_attribute("data-status", "offline")

    # When a customer starts a chat on the `chat` worker while nobody is online: the queue shows them
    customer = scripted(line=team.line, name="Ada Lovelace")
    conversation = customer.start()
    queued = line.locator(f".mon-queue [data-conversation-id='{conversation['id']}']")
    expect(queued).to_contain_text("Ada Lovelace")
    expect(line.locator(".mon-waiting .mon-figure-value")).to_have_text("1")

    # When Alice comes online there: the chat moves to her, online with 1 of 3
    alice = scripted(agent=team.agent)
    alice.request({"type": "presence.set", "status": "online"}, "presence.state")
    alice.expect("conversation.assigned", lambda f: f["conversation"]["id"] == conversation["id"])
    agent_row = line.locator(f".mon-agent[data-agent-id='{team.agent.id}']")
    expect(agent_row).to_have_attribute("data-status", "online")
    expect(agent_row.locator(".mon-load")).to_have_text("1 / 3")
    chat = agent_row.locator(f".mon-chat[data-conversation-id='{conversation['id']}']")
    expect(chat.locator(".mon-answered")).to_be_visible()
    expect(line.locator(".mon-waiting .mon-figure-value")).to_have_text("0")
    expect(queued).to_have_count(0)

    # When the customer asks and nobody answers past the reply target: the chat's clock runs, then is a breach
    customer.say(conversation["id"], "Where is my parcel?")
    expect(chat.locator(".mon-unanswered")).to_be_visible()
    expect(chat).to_have_class(BREACH)
    expect(line.locator(".mon-breaches")).to_have_class(BREACH)

    # When the supervisor opens the chat: its transcript, live
    chat.click()
    transcript = page.locator("#watch-transcript")
    expect(transcript).to_contain_text("Where is my parcel?")
    customer.say(conversation["id"], "It was due on Monday")
    expect(transcript).to_contain_text("It was due on Monday")
    # ... the wait runs from the first unanswered message: writing again does not hide the breach
    expect(chat.locator(".mon-last")).to_be_visible()
    expect(chat).to_have_class(BREACH)
    screenshot(page, "monitor-1-breach-and-watching")

    # and whispers to Alice: she sees it as an internal note, the transcript shows it, the customer never does
    page.fill("#whisper-input", "Offer the 10% coupon")
    page.click("#whisper-send")
    whisper = alice.expect("message.new", lambda f: f["message"]["body"] == "Offer the 10% coupon")["message"]
    assert (whisper["sender"], whisper["event"], whisper["internal"]) == ("system", "whisper", True)
    expect(transcript.locator(".mon-msg--internal")).to_contain_text("Offer the 10% coupon")
    expect(transcript.locator(".mon-msg--internal .mon-msg-who")).to_have_text("Sam (whisper)")
    synced = customer.request({"type": "sync", "conversation_id": conversation["id"], "after_seq": 0}, "sync.result")
    assert "Offer the 10% coupon" not in [m["body"] for m in synced["messages"]]
    assert [f for f in customer.received() if "Offer the 10% coupon" in str(f)] == []

    # When Alice answers: the clock stops and the breach is gone, on the monitor and in the open transcript
    alice.say(conversation["id"], "So sorry! Here is a 10% coupon: SORRY10")
    expect(transcript).to_contain_text("SORRY10")
    expect(chat.locator(".mon-answered")).to_be_visible()
    expect(chat).not_to_have_class(BREACH)
    expect(line.locator(".mon-breaches .mon-figure-value")).to_have_text("0")
    screenshot(page, "monitor-2-answered")

    # When the customer closes it: it leaves Alice's chats
    customer.close_conversation(conversation["id"])
    expect(chat).to_have_count(0)
    expect(agent_row.locator(".mon-load")).to_have_text("0 / 3")
    expect(page.locator("#watch-meta")).to_contain_text("closed")

    # The admin's home lists the monitor for the supervisor
    page.goto(f"{base}/admin/")
    page.locator("#content-main").get_by_role("link", name="Live monitor").click()
    expect(page).to_have_url(f"{base}/admin/monitor/")
    expect(page.locator("#connection-status")).to_have_attribute("data-state", "connected")


def test_the_agent_sees_a_whisper_in_the_workbench_as_a_supervisors_internal_note(
    agent_page, scripted, team, workbench_site, screenshot
):
    # Given Alice in her workbench with a customer's chat, and a supervisor's script on the other worker
    customer = scripted(line=team.line, name="Grace Hopper")
    agent_page.open_workbench(team.username)
    agent_page.set_presence("online")
    conversation = customer.start_with_agent()
    customer.say(conversation["id"], "My order never came")
    expect(agent_page.transcript_message("My order never came")).to_be_visible()
    username = in_thread(a_supervisor)
    token = agent_login(workbench_site.chat, username, PASSWORD)["token"]
    supervisor = ScriptedSocket(url=workbench_site.chat.ws_url(f"/ws/supervisor/?token={token}"), name="supervisor")
    try:
        # When the supervisor whispers
        supervisor.request(
            {
                "type": "whisper.send",
                "conversation_id": conversation["id"],
                "client_msg_id": "w-1",
                "body": "Refund it, I approve",
            },
            "whisper.ack",
        )

        # Then Alice's transcript shows it, marked as an internal note from the supervisor, by name
        whisper = agent_page.transcript_message("Refund it, I approve")
        expect(whisper).to_contain_text("Sam (whisper)")
        expect(whisper).to_contain_text("Internal note")
        screenshot(agent_page.page, "monitor-3-whisper-in-the-workbench")
        # ... and the customer never got it
        synced = customer.request(
            {"type": "sync", "conversation_id": conversation["id"], "after_seq": 0}, "sync.result"
        )
        assert "Refund it, I approve" not in [m["body"] for m in synced["messages"]]
        assert [f for f in customer.received() if "Refund it" in str(f)] == []
    finally:
        supervisor.close()


def test_the_supervisor_moves_a_waiting_chat_to_another_lines_queue(agent_page, scripted, team):
    # Given a customer waiting while nobody is online, another line, and a supervisor on the monitor
    billing = in_thread(lambda: BusinessLineFactory(name="Billing"))
    customer = scripted(line=team.line, name="Ada Lovelace")
    conversation = customer.start()
    username = in_thread(a_supervisor)
    page = agent_page.page
    page.goto(f"{agent_page.base_url}/admin/login/?next=/admin/monitor/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("#login-form input[type=submit]")
    expect(page.locator("#connection-status")).to_have_attribute("data-state", "connected")

    # When the supervisor opens the waiting chat: it offers the transfer, not to the queue it already waits in
    page.locator(f"#line-{team.line.key} .mon-queue [data-conversation-id='{conversation['id']}']").click()
    expect(page.locator("#watch-meta")).to_contain_text("waiting")
    expect(page.locator("#transfer-form")).to_be_visible()
    targets = page.locator("#transfer-target option")
    expect(targets).to_have_text(["Queue of Billing"])

    # and transfers it to Billing's queue: it waits there, and its customer is told
    page.select_option("#transfer-target", f"line:{billing.key}")
    page.click("#transfer-send")
    expect(
        page.locator(f"#line-{billing.key} .mon-queue [data-conversation-id='{conversation['id']}']")
    ).to_contain_text("Ada Lovelace")
    expect(
        page.locator(f"#line-{team.line.key} .mon-queue [data-conversation-id='{conversation['id']}']")
    ).to_have_count(0)
    expect(page.locator("#watch-meta")).to_contain_text(billing.key)
    customer.expect(
        "conversation.state",
        lambda f: f["conversation"]["id"] == conversation["id"] and f["conversation"]["business_line"] == billing.key,
    )
