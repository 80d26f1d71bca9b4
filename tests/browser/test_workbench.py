"""The agent workbench in a real browser: Debian's Chromium on /workbench/, against live Daphne workers and a
Celery worker, with scripted customers on the other end of the chat (docs/protocol.md)."""

from __future__ import annotations

import re
import urllib.request

import pytest
from playwright.sync_api import expect

from desk.models import CannedReply
from tests.browser.workbench_conftest import (
    AgentPage,
    agent_page,
    in_thread,
    screenshot,
    scripted,
    team,
    workbench_browser,
    workbench_processes,
    workbench_site,
)
from tests.factories import AgentFactory, UserFactory, long_chat_write

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def bodies(frames: list[dict], conversation_id: int) -> list[str]:
    """Every message body a socket was given for a conversation, whatever frame carried it."""
    found = []
    for frame in frames:
        messages = [frame["message"]] if "message" in frame else frame.get("messages", [])
        found += [m["body"] for m in messages if m["conversation_id"] == conversation_id]
    return found


def test_an_agent_answers_a_customer_from_the_workbench(agent_page, scripted, team, screenshot):
    # Given a customer whose earlier question was closed unanswered, and who now writes while nobody is online
    check = "Let me check that for you, one moment please."
    CannedReply.objects.create(business_line=team.line, shortcut="check", title="Checking", body=check)
    customer = scripted(line=team.line, name="Ada Lovelace", email="ada@example.com")
    earlier = customer.start()
    customer.say(earlier["id"], "Do you ship to Norway?")
    customer.close_conversation(earlier["id"])
    conversation = customer.start()
    assert conversation["status"] == "waiting"
    customer.say(conversation["id"], "My parcel #1234 has not arrived")

    # When the agent logs in through the admin's login form and goes online
    agent_page.open_workbench(team.username)
    page = agent_page.page
    expect(page.locator("#site-name")).to_be_visible()
    agent_page.set_presence("online")

    # Then the conversation is assigned to them and shows the message written while waiting
    item = agent_page.conversation(conversation["id"])
    expect(item).to_contain_text("Ada Lovelace")
    expect(item.locator(".wb-badge")).to_have_text("active")
    expect(agent_page.transcript_message("My parcel #1234 has not arrived")).to_have_attribute(
        "data-sender", "customer"
    )
    expect(page.locator("#transcript .wb-msg--system").first).to_contain_text("Hello! How can we help you today?")
    customer.expect(
        "conversation.state",
        lambda f: f["conversation"]["id"] == conversation["id"] and f["conversation"]["status"] == "active",
    )

    # ... and the customer panel shows who it is and their whole history, the earlier conversation included
    details = page.locator("#customer-details")
    expect(details).to_contain_text("Ada Lovelace")
    expect(details).to_contain_text("ada@example.com")
    expect(details).to_contain_text("App")  # the channel, in words (static/workbench/words.js)
    page.locator(f"#history-list [data-history-id='{earlier['id']}']").click()
    expect(page.locator("#history-transcript")).to_contain_text("Do you ship to Norway?")
    screenshot(page, "workbench-1-assigned-with-history")

    # When the agent picks one of the line's canned replies from the list and presses Enter
    page.locator("#canned-replies").select_option(label="/check · Checking")
    expect(page.locator("#composer-input")).to_have_value("Let me check that for you, one moment please.")
    page.locator("#composer-input").press("Enter")

    # Then the customer receives it, and the workbench shows it as sent (no longer pending)
    reply = customer.expect("message.new", lambda f: f["message"]["sender"] == "agent")["message"]
    assert reply["body"] == "Let me check that for you, one moment please."
    assert reply["agent_id"] == team.agent.id
    expect(agent_page.transcript_message(reply["body"]).locator(".wb-msg-receipt")).to_have_text("Sent")
    sent = agent_page.sent_frames("message.send")[-1]
    assert sent["client_msg_id"] == reply["client_msg_id"] and len(sent["client_msg_id"]) == 36

    # When the agent writes an internal note, then another reply
    page.locator("#internal-note").check()
    agent_page.write("VIP customer, offer free shipping")
    expect(agent_page.transcript_message("VIP customer, offer free shipping")).to_contain_text("Internal note")
    page.locator("#internal-note").uncheck()
    agent_page.write("It ships tomorrow.")

    # Then the customer receives the reply but never the note
    customer.expect("message.new", lambda f: f["message"]["body"] == "It ships tomorrow.")
    assert "VIP customer, offer free shipping" not in bodies(customer.received(), conversation["id"])
    synced = customer.request({"type": "sync", "conversation_id": conversation["id"], "after_seq": 0}, "sync.result")
    assert "VIP customer, offer free shipping" not in bodies([synced], conversation["id"])
    screenshot(page, "workbench-2-reply-and-note")

    # When the agent closes the conversation
    page.locator("#close-button").click()

    # Then the customer is told, and the workbench shows it closed, with nothing left to write in
    closed = customer.expect(
        "conversation.state",
        lambda f: f["conversation"]["id"] == conversation["id"] and f["conversation"]["status"] == "closed",
    )
    assert closed["conversation"]["close_reason"] == "agent"
    expect(item.locator(".wb-badge")).to_have_text("closed")
    expect(page.locator("#composer")).to_be_hidden()
    expect(page.locator("#transcript")).to_contain_text("The agent closed the conversation.")
    expect(page.locator(f"#history-list [data-history-id='{conversation['id']}'] .wb-badge")).to_have_text("closed")
    assert agent_page.dialogs == ["Close the conversation with Ada Lovelace?"]
    assert agent_page.console_errors == []
    screenshot(page, "workbench-3-closed")


def test_a_staff_user_who_is_not_an_agent_gets_a_403_page(agent_page, workbench_site, screenshot):
    # Given a staff user without an agent profile (a supervisor)
    supervisor = UserFactory(is_staff=True)

    # When they log in and open the workbench
    agent_page.login(supervisor.username)
    expect(agent_page.page).to_have_url(f"{workbench_site.web.url}/workbench/")
    response = agent_page.page.goto(f"{workbench_site.web.url}/workbench/")

    # Then they get the admin's 403 page, and no socket is opened
    assert response.status == 403
    expect(agent_page.page.locator("#workbench-forbidden")).to_contain_text("for agents only")
    expect(agent_page.page.locator("#site-name")).to_be_visible()
    assert agent_page.sent == []
    screenshot(agent_page.page, "workbench-403")


def test_html_from_a_customer_is_shown_as_text(agent_page, scripted, team, screenshot):
    # Given an online agent
    agent_page.open_workbench(team.username)
    agent_page.set_presence("online")

    # When a customer whose name is HTML writes HTML
    body = '<img src=x onerror="alert(document.domain)"><b>bold</b><script>alert(1)</script>'
    customer = scripted(line=team.line, name="<i>Eve</i>")
    conversation = customer.start_with_agent()
    customer.say(conversation["id"], body)

    # Then the workbench shows both as typed, and no element of theirs exists in the page
    page = agent_page.page
    expect(agent_page.conversation(conversation["id"]).locator(".wb-conv-name")).to_have_text("<i>Eve</i>")
    expect(agent_page.transcript_message(body).locator(".wb-msg-body")).to_have_text(body)
    expect(page.locator("#transcript img, #transcript b, #transcript script, #conversation-list i")).to_have_count(0)
    expect(page.locator("#customer-details")).to_contain_text("<i>Eve</i>")
    screenshot(page, "workbench-html-as-text")


def test_an_agent_sends_a_pdf_and_the_customer_downloads_it(
    agent_page, scripted, team, workbench_site, tmp_path, screenshot
):
    # Given an agent chatting with a customer, and an invoice on the agent's disk
    agent_page.open_workbench(team.username)
    agent_page.set_presence("online")
    customer = scripted(line=team.line, name="Ada")
    conversation = customer.start_with_agent()
    page = agent_page.page
    agent_page.conversation(conversation["id"]).click()
    invoice = tmp_path / "invoice 1234.pdf"
    invoice.write_bytes(b"%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF\n")

    # When the agent attaches it (the upload held while its progress bar shows, then let through)
    held = []

    def hold(route):
        held.append(route)

    page.route("**/api/conversations/*/attachments/", hold)
    with page.expect_request("**/api/conversations/*/attachments/"):
        page.locator("#attach-input").set_input_files(str(invoice))
    progress = page.get_by_role("progressbar", name="Sending invoice 1234.pdf")
    expect(progress).to_be_visible()
    [upload] = held
    upload.continue_()

    # Then the customer gets it, and downloads it as a file, never a page; the bar is gone
    message = customer.expect("message.new", lambda f: f["message"]["attachments"] != [])["message"]
    expect(progress).to_have_count(0)
    [attachment] = message["attachments"]
    assert (message["sender"], attachment["name"], attachment["content_type"]) == (
        "agent",
        "invoice 1234.pdf",
        "application/pdf",
    )
    with urllib.request.urlopen(workbench_site.chat.url + attachment["url"], timeout=10) as download:
        assert download.read() == invoice.read_bytes()
        assert (download.headers["Content-Disposition"], download.headers["X-Content-Type-Options"]) == (
            'attachment; filename="invoice 1234.pdf"',
            "nosniff",
        )
    # ... and the workbench shows it as a file card in the transcript
    expect(page.locator("#transcript .wb-attachment")).to_contain_text("invoice 1234.pdf")
    screenshot(page, "workbench-attachment-sent")


def test_unread_messages_are_counted_until_the_conversation_is_opened(agent_page, scripted, team):
    # Given an online agent with two conversations, the first one on screen
    agent_page.open_workbench(team.username)
    agent_page.set_presence("online")
    first = scripted(line=team.line, name="Alan").start()
    expect(agent_page.conversation(first["id"])).to_have_attribute("aria-current", "true")
    customer = scripted(line=team.line, name="Joan")
    second = customer.start()
    other = agent_page.conversation(second["id"])
    expect(other.locator(".wb-badge")).to_have_text("active")

    # When the customer of the other conversation writes twice
    customer.say(second["id"], "Hello")
    customer.say(second["id"], "Anyone there?")

    # Then the list counts them, and so does the tab's title
    expect(other.locator(".wb-unread")).to_have_text("2")
    expect(agent_page.page).to_have_title(re.compile(r"^\(2\) "))

    # When the agent opens it, then the count is gone and the customer learns it was read
    other.click()
    expect(other.locator(".wb-unread")).to_have_count(0)
    expect(agent_page.page).not_to_have_title(re.compile(r"^\("))
    customer.expect("read", lambda f: f["conversation_id"] == second["id"] and f["seq"] >= 3)


def test_typing_and_read_receipts_travel_both_ways(agent_page, scripted, team, screenshot):
    # Given an online agent with a customer's conversation on screen
    agent_page.open_workbench(team.username)
    agent_page.set_presence("online")
    customer = scripted(line=team.line, name="Grace")
    conversation = customer.start()
    page = agent_page.page
    expect(agent_page.conversation(conversation["id"])).to_be_visible()

    # When the customer starts and stops typing, then the workbench shows it and hides it again
    indicator = page.locator("#typing-indicator")
    customer.send({"type": "typing", "conversation_id": conversation["id"], "typing": True})
    expect(indicator).to_have_text("Grace is typing…")
    expect(indicator).to_be_visible()
    customer.send({"type": "typing", "conversation_id": conversation["id"], "typing": False})
    expect(indicator).to_be_hidden()

    # When the agent types ten characters, then the customer is told the agent is typing, in fewer frames
    page.locator("#composer-input").press_sequentially("Hi Grace, ")
    typing = customer.expect("typing", lambda f: f["typing"] is True)
    assert typing == {"type": "typing", "conversation_id": conversation["id"], "typing": True, "sender": "agent"}
    assert 1 <= len([f for f in agent_page.sent_frames("typing") if f["typing"]]) < 10

    # When the customer writes while the conversation is on screen, then the workbench says it was read
    question = customer.say(conversation["id"], "Can I change my delivery address?")
    read = customer.expect("read", lambda f: f["seq"] >= question["seq"])
    assert read["sender"] == "agent" and read["conversation_id"] == conversation["id"]

    # When the agent answers and the customer reads the answer
    page.locator("#composer-input").press_sequentially("yes, tell me the new one.")
    page.locator("#composer-input").press("Enter")
    answer = customer.expect("message.new", lambda f: f["message"]["sender"] == "agent")["message"]
    assert answer["body"] == "Hi Grace, yes, tell me the new one."
    receipt = agent_page.transcript_message(answer["body"]).locator(".wb-msg-receipt")
    expect(receipt).to_have_text("Sent")
    customer.send({"type": "read", "conversation_id": conversation["id"], "seq": answer["seq"]})

    # Then the workbench marks the answer read
    expect(receipt).to_have_text("Read")
    screenshot(page, "workbench-read-receipt")
    page.emulate_media(color_scheme="dark")
    screenshot(page, "workbench-read-receipt-dark")


def test_a_missed_conversation_is_listed_and_can_be_picked(agent_page, scripted, team, workbench_site, screenshot):
    # Given an agent at the workbench but offline, and a business line where nobody waits at all
    team.line.wait_timeout = 0
    team.line.save(update_fields=["wait_timeout"])
    agent_page.open_workbench(team.username)
    expect(agent_page.page.locator("#presence-switch input[value=offline]")).to_be_checked()
    customer = scripted(line=team.line, name="Linus")
    conversation = customer.start()
    customer.say(conversation["id"], "Please call me back about my invoice")

    # When the sweep finds it waited too long
    workbench_site.run_sweep()

    # Then it is listed as missed with the customer's message
    missed = agent_page.page.locator(f"#missed-list [data-missed-id='{conversation['id']}']")
    expect(missed).to_contain_text("Please call me back about my invoice")
    customer.expect(
        "conversation.state",
        lambda f: f["conversation"]["id"] == conversation["id"] and f["conversation"]["status"] == "missed",
    )
    screenshot(agent_page.page, "workbench-missed")

    # When the agent goes online and picks it
    agent_page.set_presence("online")
    missed.get_by_role("button", name="Take").click()

    # Then it becomes one of their conversations, and the customer is told
    expect(agent_page.conversation(conversation["id"]).locator(".wb-badge")).to_have_text("active")
    expect(missed).to_have_count(0)
    expect(agent_page.transcript_message("Please call me back about my invoice")).to_be_visible()
    state = customer.expect(
        "conversation.state",
        lambda f: f["conversation"]["id"] == conversation["id"] and f["conversation"]["status"] == "active",
    )
    assert state["conversation"]["agent"]["id"] == team.agent.id


def test_after_a_reload_the_queue_and_the_missed_list_are_there_and_a_take_leaves_every_list(
    agent_page, scripted, team, workbench_browser, workbench_site, screenshot
):
    # Given a customer waiting and one who left a message, while nobody is online
    waiting = scripted(line=team.line, name="Grace")
    queued = waiting.start()
    waiting.say(queued["id"], "Where is my order?")
    leaving = scripted(line=team.line, name="Linus")
    left = leaving.request(
        {"type": "conversation.leave_message", "body": "Please call me back about my invoice"}, "conversation.state"
    )["conversation"]
    # and Alice's colleague Bob at the workbench in another browser
    bob = AgentFactory(display_name="Bob", business_lines=[team.line], user__is_staff=True)
    bob_context = workbench_browser.new_context(viewport={"width": 1440, "height": 900})
    bob_page = AgentPage(page=bob_context.new_page(), base_url=workbench_site.web.url)
    bob_page.open_workbench(bob.user.username)
    bob_missed = bob_page.page.locator(f"#missed-list [data-missed-id='{left['id']}']")
    expect(bob_missed).to_contain_text("Please call me back about my invoice")

    # When Alice, mid-shift, reloads the workbench
    agent_page.open_workbench(team.username)
    page = agent_page.page
    page.reload()
    expect(agent_page.connection).to_have_attribute("data-state", "connected")

    # Then she sees the waiting queue, each with a running timer, and the missed list with an answer action
    in_queue = page.locator(f"#queue-list [data-queue-id='{queued['id']}']")
    expect(in_queue).to_contain_text("Grace")
    expect(in_queue).to_contain_text("Where is my order?")
    expect(in_queue).to_contain_text("position 1")
    timer = in_queue.locator(".wb-wait")
    shown = timer.text_content()
    assert re.fullmatch(r"\d+:\d\d", shown or "")
    expect(timer).not_to_have_text(shown)
    expect(in_queue.get_by_role("button")).to_have_count(0)  # offline: no room to take it
    missed = page.locator(f"#missed-list [data-missed-id='{left['id']}']")
    expect(missed).to_contain_text("Linus")
    expect(missed).to_contain_text("left a message")
    expect(missed.get_by_role("button", name="Take")).to_be_disabled()  # offline: no room to take it
    expect(missed.get_by_role("button", name="Answer")).to_be_enabled()  # answering takes no slot
    screenshot(page, "workbench-queue")

    # When she goes online (routing gives her the waiting one) and takes the left message
    agent_page.set_presence("online")
    expect(agent_page.conversation(queued["id"]).locator(".wb-badge")).to_have_text("active")
    expect(in_queue).to_have_count(0)
    missed.get_by_role("button", name="Take").click()

    # Then it is hers, and it leaves her list and Bob's
    expect(agent_page.conversation(left["id"]).locator(".wb-badge")).to_have_text("active")
    expect(missed).to_have_count(0)
    expect(bob_missed).to_have_count(0)
    expect(bob_page.page.locator("#queue-empty")).to_be_visible()
    bob_context.close()


def test_an_agent_transfers_a_conversation_to_a_colleague(agent_page, scripted, team):
    # Given Alice chatting with a customer, and her colleague Bob online
    agent_page.open_workbench(team.username)
    agent_page.set_presence("online")
    customer = scripted(line=team.line, name="Barbara")
    conversation = customer.start_with_agent()
    customer.say(conversation["id"], "I would like to speak to billing")
    item = agent_page.conversation(conversation["id"])
    expect(item.locator(".wb-badge")).to_have_text("active")
    bob = AgentFactory(display_name="Bob", business_lines=[team.line])
    bob_socket = scripted(agent=bob)
    bob_socket.request({"type": "presence.set", "status": "online"}, "presence.state")

    # When Alice transfers it to Bob, picked from the line's agents
    page = agent_page.page
    page.locator("#transfer-button").click()
    page.locator("#transfer-agents").get_by_label("Bob").check()
    page.locator("#transfer-submit").click()

    # Then Bob has it, with what was said, and Alice's workbench shows it as transferred, read-only
    assigned = bob_socket.expect("conversation.assigned", lambda f: f["conversation"]["id"] == conversation["id"])
    assert "I would like to speak to billing" in bodies([assigned], conversation["id"])
    expect(item).to_have_count(0)  # it left her list at once
    expect(page.locator("#composer")).to_be_hidden()
    expect(page.locator("#transcript")).to_contain_text("Alice transferred the conversation to Bob.")
    state = customer.expect(
        "conversation.state",
        lambda f: (
            f["conversation"]["id"] == conversation["id"] and (f["conversation"]["agent"] or {}).get("id") == bob.id
        ),
    )
    assert state["conversation"]["status"] == "active"


def test_after_losing_its_worker_the_workbench_reconnects_and_catches_up(
    agent_page, scripted, team, workbench_site, screenshot
):
    # Given a chat, the workbench on the `web` worker and the customer on the `chat` worker
    agent_page.open_workbench(team.username)
    agent_page.set_presence("online")
    customer = scripted(line=team.line, name="Ken")
    conversation = customer.start_with_agent()
    first = customer.say(conversation["id"], "Hello?")
    expect(agent_page.transcript_message("Hello?")).to_be_visible()

    # When the workbench's worker goes away and the customer writes meanwhile
    sent_before = len(agent_page.sent)
    workbench_site.web.stop()
    expect(agent_page.connection).to_have_attribute("data-state", "reconnecting")
    screenshot(agent_page.page, "workbench-reconnecting")
    customer.say(conversation["id"], "Are you still there?")
    workbench_site.web.start()

    # Then the workbench reconnects, syncs from the last seq it held and shows what it missed, once
    expect(agent_page.connection).to_have_attribute("data-state", "connected", timeout=40_000)
    expect(agent_page.transcript_message("Are you still there?")).to_have_count(1)
    assert {
        "type": "sync",
        "conversation_id": conversation["id"],
        "after_seq": first["seq"],
        "ref": f"sync:{conversation['id']}",
    } in agent_page.sent[sent_before:]
    expect(agent_page.transcript_message("Hello?")).to_have_count(1)


def test_a_chat_longer_than_one_frame_reaches_the_workbench_in_pages(agent_page, scripted, team):
    # Given a waiting customer who wrote 70 messages of 4,000 emoji: more than Daphne's 1 MiB in one frame
    customer = scripted(line=team.line, name="Grace")
    conversation = customer.start()
    in_thread(long_chat_write, customer_id=customer.hello["customer_id"], conversation_id=conversation["id"], count=70)

    # When the agent goes online and the chat is assigned to them
    agent_page.open_workbench(team.username)
    agent_page.set_presence("online")

    # Then the workbench gets it page by page, syncing on from the last seq it holds, on the same socket
    transcript = agent_page.page.locator("#transcript .wb-msg[data-sender=customer]")
    expect(transcript).to_have_count(70)
    expect(transcript.last).to_contain_text("69 ")
    syncs = [f for f in agent_page.sent_frames("sync") if f["conversation_id"] == conversation["id"]]
    assert syncs and all(f["after_seq"] > 0 for f in syncs)
    expect(agent_page.connection).to_have_attribute("data-state", "connected")
