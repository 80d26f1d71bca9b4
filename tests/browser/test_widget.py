"""The customer's side in a real browser: the demo site's widget (one script tag, an iframe of /chat/) and the
full-page H5 chat, against a live Daphne worker and a Celery worker, with a scripted agent on the other end."""

from __future__ import annotations

import json
import re
import struct
import time
import urllib.request
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection
from playwright.sync_api import FrameLocator, Locator, Page, expect

from chat.lifecycle import conversation_close
from chat.models import Attachment, CloseReason, Conversation, ConversationStatus, Message, Sender
from chat.permissions import Participant
from chat.services import message_send
from customers.models import Customer
from customers.selectors import customer_identity_hash
from tests.factories import BusinessLineFactory, long_chat_write

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

XSS = "<img src=x onerror=alert(1)>"


def open_widget(page: Page, server_url: str) -> FrameLocator:
    """The demo site, with the launcher clicked: the chat panel's frame."""
    page.goto(f"{server_url}/")
    page.get_by_role("button", name=re.compile("^Open the chat")).click()
    return page.frame_locator("iframe[title='Chat with us']")


def messages(chat: FrameLocator) -> Locator:
    return chat.locator("#messages > li")


def test_the_demo_sites_launcher_opens_the_chat_panel(page, server, demo_line, screenshot):
    # given
    page.goto(f"{server.url}/")
    launcher = page.get_by_role("button", name="Open the chat")
    expect(launcher).to_be_visible()
    screenshot(page, "01-demo-site-launcher")

    # when
    launcher.click()

    # then
    frame = page.locator("iframe[title='Chat with us']")
    expect(frame).to_be_visible()
    chat = page.frame_locator("iframe[title='Chat with us']")
    expect(chat.locator("#title")).to_have_text("Acme Shop")
    expect(page.get_by_role("button", name="Close the chat")).to_be_visible()
    screenshot(page, "02-widget-open-nobody-online")


def test_with_nobody_online_a_left_message_becomes_a_missed_conversation(page, server, demo_line, screenshot):
    # given: no agent online, so the widget offers the form at once
    chat = open_widget(page, server.url)
    expect(chat.get_by_role("heading", name="Leave us a message")).to_be_visible()
    expect(chat.locator("#composer")).to_be_hidden()

    # when
    chat.get_by_role("textbox", name="Name").fill("Ada Lovelace")
    chat.get_by_role("textbox", name="Email").fill("ada@example.com")
    chat.get_by_role("textbox", name="Your message").fill("Please call me back about order #1234 🙏")
    chat.get_by_role("button", name="Send message").click()

    # then
    expect(chat.locator("#ended-text")).to_have_text("Your message is with our team. Need anything else?")
    screenshot(page, "03-left-a-message-thanks")
    conversation = Conversation.objects.select_related("customer").get()
    assert conversation.status == ConversationStatus.MISSED
    assert conversation.close_reason == CloseReason.OFFLINE
    assert (conversation.customer.name, conversation.customer.email) == ("Ada Lovelace", "ada@example.com")
    assert conversation.messages.filter(sender=Sender.CUSTOMER).get().body == (
        "Please call me back about order #1234 🙏"
    )


def test_a_chat_nobody_answers_in_time_offers_to_leave_a_message(page, server, demo_line, routing_sweeps, screenshot):
    # given: a customer who chose to wait, on a line that gives up after a second
    demo_line.wait_timeout = 1
    demo_line.save()
    chat = open_widget(page, server.url)
    chat.get_by_role("button", name="Wait for an agent instead").click()
    chat.get_by_role("button", name="Start chat").click()
    expect(chat.locator("#status")).to_contain_text("You are number 1 in the queue")

    # when: the timeouts run
    routing_sweeps()

    # then: the conversation is missed and the form is offered
    expect(chat.get_by_role("heading", name="Leave us a message")).to_be_visible()
    expect(chat.locator("#leave-text")).to_contain_text("Sorry, nobody could answer in time.")
    expect(chat.locator("#messages .msg-system.event-missed")).to_have_count(1)
    screenshot(page, "04-missed-leave-a-message")

    # when
    chat.get_by_role("textbox", name="Email").fill("bob@example.com")
    chat.get_by_role("textbox", name="Your message").fill("Please email me the tracking number.")
    chat.get_by_role("button", name="Send message").click()

    # then
    expect(chat.locator("#ended-text")).to_have_text("Your message is with our team. Need anything else?")
    left = Message.objects.select_related("conversation__customer").get(
        sender=Sender.CUSTOMER, body="Please email me the tracking number."
    )
    assert left.conversation.status == ConversationStatus.MISSED
    assert left.conversation.customer.email == "bob@example.com"


def test_a_customer_waits_in_the_queue_then_chats_with_the_agent_both_ways(
    page, server, alice, scripted_agent, screenshot
):
    # given: nobody online yet; the customer chooses to wait and starts a chat
    chat = open_widget(page, server.url)
    chat.get_by_role("button", name="Wait for an agent instead").click()
    chat.get_by_role("button", name="Start chat").click()
    expect(chat.locator("#status")).to_contain_text("You are number 1 in the queue")
    screenshot(page, "05-waiting-in-the-queue")
    conversation_id = Conversation.objects.get().id

    # when: the agent goes online
    agent = scripted_agent(alice)
    agent.go_online()

    # then: the conversation is assigned and the customer sees who answers
    agent.expect("conversation.assigned", lambda frame: frame["conversation"]["id"] == conversation_id)
    expect(chat.locator("#status")).to_have_text("Chatting with Alice")

    # when: the customer types and writes, with an emoji
    chat.get_by_role("textbox", name="Type your message").press_sequentially("Hello")
    agent.expect("typing", lambda frame: frame["typing"] is True and frame["sender"] == "customer")
    chat.get_by_role("textbox", name="Type your message").fill("Hello 👋 where is my parcel?")
    chat.get_by_role("textbox", name="Type your message").press("Enter")

    # then: the agent gets it as written, and the customer's copy is acknowledged
    received = agent.expect("message.new", lambda frame: frame["message"]["sender"] == "customer")["message"]
    assert received["body"] == "Hello 👋 where is my parcel?"
    customer_message = messages(chat).filter(has_text="where is my parcel?")
    expect(customer_message).to_have_count(1)
    expect(customer_message.locator(".receipt")).to_have_text("Sent")
    expect(chat.locator("#pending > li")).to_have_count(0)

    # when: the agent reads it
    agent.send({"type": "read", "conversation_id": conversation_id, "seq": received["seq"]})

    # then
    expect(customer_message.locator(".receipt")).to_have_text("Seen")

    # when: the customer picks an emoji from the picker and sends it
    chat.get_by_role("button", name="Insert emoji").click()
    chat.get_by_role("option", name="👍").click()
    expect(chat.get_by_role("textbox", name="Type your message")).to_have_value("👍")
    chat.get_by_role("button", name="Send", exact=True).click()

    # then
    thumbs_up = agent.expect("message.new", lambda frame: frame["message"]["body"] == "👍")["message"]
    assert thumbs_up["seq"] > received["seq"]

    # when: the agent types, then answers with an emoji
    agent.send({"type": "typing", "conversation_id": conversation_id, "typing": True})

    # then
    expect(chat.locator("#typing")).to_have_text("Alice is typing…")
    screenshot(page, "06-agent-typing")
    reply = agent.say(conversation_id, "On its way 🚚 it arrives tomorrow.")
    expect(messages(chat).filter(has_text="On its way 🚚 it arrives tomorrow.")).to_have_count(1)
    expect(chat.locator("#typing")).to_be_hidden()
    read = agent.expect("read", lambda frame: frame["seq"] >= reply["seq"])
    assert read["sender"] == "customer"
    screenshot(page, "07-chatting")

    # when: the panel is closed and the agent writes again
    chat.get_by_role("button", name="Close the chat window").click()
    expect(page.locator("iframe[title='Chat with us']")).to_be_hidden()
    agent.say(conversation_id, "Anything else I can do?")

    # then: the launcher shows an unread badge, gone once the panel opens
    badge_launcher = page.get_by_role("button", name="Open the chat (1 unread)")
    expect(badge_launcher).to_be_visible()
    screenshot(page, "08-unread-badge")
    badge_launcher.click()
    expect(page.get_by_role("button", name="Close the chat")).to_be_visible()
    expect(messages(chat).filter(has_text="Anything else I can do?")).to_be_visible()


def test_a_reload_of_the_h5_page_keeps_the_customer_and_the_transcript(
    phone, server, alice, scripted_agent, screenshot
):
    # given: an agent online, and a customer on a phone who started a chat and got a reply
    agent = scripted_agent(alice)
    agent.go_online()
    page = phone
    page.goto(f"{server.url}/h5/?business_line=demo")
    page.get_by_role("textbox", name="Type your message").fill("Do you ship to Mars? 🚀")
    page.get_by_role("button", name="Send").click()
    assigned = agent.expect("conversation.assigned")
    conversation_id = assigned["conversation"]["id"]
    agent.say(conversation_id, "Only on Tuesdays.")
    expect(page.locator("#messages > li")).to_have_count(4)  # greeting, assigned, question, answer
    expect(page.locator("#messages > li").last).to_contain_text("Only on Tuesdays.")
    before = page.locator("#messages > li").all_inner_texts()

    # when
    page.reload()

    # then: the same customer, the same transcript, in order, each message once
    expect(page.locator("#status")).to_have_text("Chatting with Alice")
    expect(page.locator("#messages > li")).to_have_count(len(before))
    assert page.locator("#messages > li").all_inner_texts() == before
    seqs = [int(seq) for seq in page.locator("#messages > li").evaluate_all("items => items.map(i => i.dataset.seq)")]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert Customer.objects.count() == 1
    conversation = Conversation.objects.get()
    assert (conversation.id, conversation.channel) == (conversation_id, "h5")
    screenshot(page, "09-h5-after-reload")


def test_a_chat_longer_than_one_frame_is_synced_in_pages_after_a_reload(phone, server, alice, scripted_agent):
    # given: a customer chatting with an agent, whose chat then grows past Daphne's 1 MiB frame limit
    agent = scripted_agent(alice)
    agent.go_online()
    page = phone
    page.goto(f"{server.url}/h5/?business_line=demo")
    page.get_by_role("textbox", name="Type your message").fill("A long story, sorry")
    page.get_by_role("button", name="Send").click()
    conversation_id = agent.expect("conversation.assigned")["conversation"]["id"]
    expect(page.locator("#messages > li")).to_have_count(3)  # greeting, assigned, question
    in_thread(long_chat_write, customer_id=Customer.objects.get().id, conversation_id=conversation_id, count=70)

    # when: the page is reloaded, so the widget syncs the whole chat from seq 0
    page.reload()

    # then: every message arrives, page after page, each once and in order
    expect(page.locator("#status")).to_have_text("Chatting with Alice")
    expect(page.locator("#messages > li")).to_have_count(73)
    expect(page.locator("#messages > li").last).to_contain_text("69 ")
    seqs = [int(seq) for seq in page.locator("#messages > li").evaluate_all("items => items.map(i => i.dataset.seq)")]
    assert seqs == list(range(1, 74))


def test_the_customer_ends_the_chat_and_rates_it(page, server, alice, scripted_agent, screenshot):
    # given: a chat with an agent
    agent = scripted_agent(alice)
    agent.go_online()
    chat = open_widget(page, server.url)
    expect(chat.get_by_role("button", name="Start chat")).to_be_visible()
    expect(chat.locator("#greeting")).to_have_text("Hello! How can we help you today?")
    screenshot(page, "10-intro-agents-online")
    chat.get_by_role("textbox", name="Type your message").fill("Thanks, that is all.")
    chat.get_by_role("textbox", name="Type your message").press("Enter")
    conversation_id = agent.expect("conversation.assigned")["conversation"]["id"]
    expect(chat.locator("#status")).to_have_text("Chatting with Alice")

    # when: the customer ends it
    chat.get_by_role("button", name="End chat").click()
    chat.locator("#confirm-end").get_by_role("button", name="End chat").click()

    # then: both sides learn it closed, and the customer is asked for a rating
    closed = agent.expect("conversation.state", lambda frame: frame["conversation"]["status"] == "closed")
    assert closed["conversation"]["close_reason"] == "customer"
    expect(chat.get_by_role("heading", name="How was your chat?")).to_be_visible()
    expect(chat.locator("#composer")).to_be_hidden()

    # when
    chat.get_by_role("radio", name="4 stars").click()
    chat.get_by_label("Comment").fill("Quick and friendly 😊")
    screenshot(page, "11-rating")
    chat.get_by_role("button", name="Send rating").click()

    # then
    expect(chat.locator("#ended-text")).to_have_text("Thanks for your feedback!")
    conversation = Conversation.objects.get(id=conversation_id)
    assert (conversation.status, conversation.rating, conversation.rating_comment) == (
        ConversationStatus.CLOSED,
        4,
        "Quick and friendly 😊",
    )


def test_markup_in_messages_is_shown_as_text(page, server, alice, scripted_agent, screenshot):
    # given: a chat with an agent
    agent = scripted_agent(alice)
    agent.go_online()
    chat = open_widget(page, server.url)
    chat.get_by_role("button", name="Start chat").click()
    conversation_id = agent.expect("conversation.assigned")["conversation"]["id"]

    # when: markup comes from both sides
    chat.get_by_role("textbox", name="Type your message").fill(XSS)
    chat.get_by_role("textbox", name="Type your message").press("Enter")
    agent.expect("message.new", lambda frame: frame["message"]["sender"] == "customer")
    agent.say(conversation_id, f"You wrote {XSS}")

    # then: it is text on the screen, no element, no script ran (the page fixture fails on any dialog)
    expect(messages(chat).filter(has_text=f"You wrote {XSS}")).to_have_count(1)
    expect(messages(chat).locator(".bubble").get_by_text(XSS, exact=True)).to_have_count(1)
    expect(chat.locator("#messages img")).to_have_count(0)
    assert Message.objects.filter(conversation_id=conversation_id, body=XSS).exists()
    screenshot(page, "12-markup-as-text")


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def one_pixel_png() -> bytes:
    """A real 1x1 PNG, so the browser can show it."""
    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", pixels) + png_chunk(b"IEND", b"")


def test_a_customer_attaches_an_image_and_the_agent_gets_it(page, server, alice, scripted_agent, tmp_path, screenshot):
    # given: a chat with an agent, and a screenshot on the customer's disk under a name with a path in it
    agent = scripted_agent(alice)
    agent.go_online()
    chat = open_widget(page, server.url)
    chat.get_by_role("button", name="Start chat").click()
    conversation_id = agent.expect("conversation.assigned")["conversation"]["id"]
    picture = tmp_path / "экран.png"
    picture.write_bytes(one_pixel_png())

    # when: the customer attaches it
    chat.locator("#attach-input").set_input_files(str(picture))

    # then: the agent gets a message carrying it, and downloads it inline with nosniff
    message = agent.expect("message.new", lambda frame: frame["message"]["attachments"] != [])["message"]
    [attachment] = message["attachments"]
    assert message["conversation_id"] == conversation_id
    assert (attachment["name"], attachment["content_type"], attachment["size"]) == (
        "экран.png",
        "image/png",
        len(one_pixel_png()),
    )
    with urllib.request.urlopen(server.url + attachment["url"], timeout=10) as download:
        assert download.read() == one_pixel_png()
        assert (download.headers["X-Content-Type-Options"], download.headers["Content-Disposition"]) == (
            "nosniff",
            "inline; filename*=utf-8''%D1%8D%D0%BA%D1%80%D0%B0%D0%BD.png",
        )
    # and the customer sees its preview, loaded from the signed link
    preview = messages(chat).locator(".attachment-image img")
    expect(preview).to_have_count(1)
    expect(preview).to_have_js_property("naturalWidth", 1)

    # when: the customer pastes a screenshot into the message box
    chat.get_by_role("textbox", name="Type your message").evaluate(
        """(box, bytes) => {
            const data = new DataTransfer();
            data.items.add(new File([new Uint8Array(bytes)], "pasted.png", { type: "image/png" }));
            box.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
        }""",
        list(one_pixel_png()),
    )

    # then: it is sent too, and shown
    pasted = agent.expect("message.new", lambda f: [a["name"] for a in f["message"]["attachments"]] == ["pasted.png"])
    assert pasted["message"]["attachments"][0]["content_type"] == "image/png"
    expect(preview).to_have_count(2)

    # when: the customer picks a page dressed as a picture
    disguised = tmp_path / "cat.png"
    disguised.write_bytes(b"<html><script>alert(1)</script></html>")
    chat.locator("#attach-input").set_input_files(str(disguised))

    # then: it is refused with a clear message, and nothing more is sent
    expect(chat.locator("#toast")).to_have_text("Files of that type cannot be sent here.")
    assert Attachment.objects.filter(conversation_id=conversation_id).count() == 2
    screenshot(page, "13-attachment-preview")


def test_a_message_the_server_refuses_is_explained_politely_and_can_be_retried(
    page, server, alice, scripted_agent, screenshot
):
    # given: a chat with an agent
    agent = scripted_agent(alice)
    agent.go_online()
    chat = open_widget(page, server.url)
    chat.get_by_role("button", name="Start chat").click()
    conversation_id = agent.expect("conversation.assigned")["conversation"]["id"]
    expect(chat.locator("#status")).to_have_text("Chatting with Alice")

    # when: the customer writes while disconnected, and meanwhile the agent closes the chat
    server.stop()
    expect(chat.locator("#banner")).to_have_text("Connection lost. Reconnecting…")
    chat.get_by_role("textbox", name="Type your message").fill("One more question")
    chat.get_by_role("textbox", name="Type your message").press("Enter")
    in_thread(agent_closes, agent_id=alice.id, conversation_id=conversation_id)
    server.start()

    # then: the server's refusal is explained, the message is marked, and the chat offers the rating
    expect(chat.get_by_role("alert")).to_have_text("This chat has ended. Start a new one to keep talking.")
    refused = chat.locator("#pending > li.is-failed")
    expect(refused).to_contain_text("One more question")
    expect(refused.locator(".receipt")).to_have_text("Not sent. Retry")
    expect(chat.get_by_role("heading", name="How was your chat?")).to_be_visible()
    screenshot(page, "13-refused-message")

    # when
    refused.get_by_role("button", name="Retry").click()

    # then: it starts a new chat with that message, stored once
    expect(messages(chat).filter(has_text="One more question")).to_have_count(1)
    expect(chat.locator("#pending > li")).to_have_count(0)
    retried = Message.objects.get(sender=Sender.CUSTOMER, body="One more question")
    assert retried.conversation_id != conversation_id


def test_after_a_lost_connection_the_chat_resends_pending_messages_and_catches_up(
    page, server, alice, scripted_agent, screenshot
):
    # given: a chat with an agent
    agent = scripted_agent(alice)
    agent.go_online()
    chat = open_widget(page, server.url)
    chat.get_by_role("button", name="Start chat").click()
    conversation_id = agent.expect("conversation.assigned")["conversation"]["id"]
    expect(chat.locator("#status")).to_have_text("Chatting with Alice")

    # when: the web worker goes away; the customer writes meanwhile, and the agent's side stores a note and a
    # reply whose pushes nobody hears
    server.stop()
    expect(chat.locator("#banner")).to_have_text("Connection lost. Reconnecting…")
    chat.get_by_role("textbox", name="Type your message").fill("Are you still there?")
    chat.get_by_role("textbox", name="Type your message").press("Enter")
    expect(chat.locator("#pending > li")).to_have_text(re.compile("Are you still there\\?.*Sending…"))
    screenshot(page, "14-reconnecting-with-a-pending-message")
    in_thread(agent_writes, agent_id=alice.id, conversation_id=conversation_id, note="VIP", body="Back in a sec.")
    server.start()

    # then: the pending message is resent and stored once; the reply arrives through sync; the note never shows
    expect(chat.locator("#banner")).to_be_hidden()
    expect(messages(chat).filter(has_text="Are you still there?")).to_have_count(1)
    expect(messages(chat).filter(has_text="Back in a sec.")).to_have_count(1)
    expect(chat.locator("#pending > li")).to_have_count(0)
    expect(messages(chat).filter(has_text="VIP")).to_have_count(0)
    assert Message.objects.filter(conversation_id=conversation_id, body="Are you still there?").count() == 1


def agent_writes(*, agent_id: int, conversation_id: int, note: str, body: str) -> None:
    """An internal note and a reply, stored by the chat services from outside any web worker."""
    agent = Participant(kind="agent", id=agent_id)
    for client_msg_id, text, internal in (("note-1", note, True), ("reply-1", body, False)):
        message_send(
            participant=agent,
            conversation_id=conversation_id,
            client_msg_id=client_msg_id,
            body=text,
            internal=internal,
        )


def agent_closes(*, agent_id: int, conversation_id: int) -> None:
    conversation_close(participant=Participant(kind="agent", id=agent_id), conversation_id=conversation_id)


def in_thread(function: Callable[..., None], **kwargs: Any) -> None:
    """Runs Django code off the thread where Playwright's event loop runs."""

    def run() -> None:
        try:
            function(**kwargs)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as executor:
        executor.submit(run).result(timeout=30)


def test_a_site_on_another_origin_embeds_the_widget_for_its_logged_in_user(
    page, server, demo_line, other_site, screenshot
):
    # given: the business line's own site, elsewhere, with the script tag naming a logged-in user
    identity_hash = customer_identity_hash(business_line=demo_line, external_id="user-42")
    site_url = other_site(
        "<!doctype html><meta charset='utf-8'><title>Partner shop</title><h1>Partner shop</h1>"
        f'<script src="{server.url}/static/widget/widget.js" data-business-line="demo" data-external-id="user-42" '
        f'data-identity-hash="{identity_hash}" data-name="Ada" data-email="ada@example.com" defer></script>'
    )
    demo_line.allowed_origins = f"{server.url}\n{site_url.rstrip('/')}"
    demo_line.save()

    # when
    page.goto(site_url)
    page.get_by_role("button", name="Open the chat").click()

    # then: the chat opens in the frame, as that user
    chat = page.frame_locator("iframe[title='Chat with us']")
    expect(chat.get_by_role("heading", name="Leave us a message")).to_be_visible()
    expect(chat.get_by_role("textbox", name="Name")).to_have_value("Ada")
    screenshot(page, "15-partner-site-identified-user")
    customer = Customer.objects.get()
    assert (customer.external_id, customer.name, customer.email) == ("user-42", "Ada", "ada@example.com")


def test_a_site_signs_an_expiring_identity_for_its_logged_in_user(page, server, demo_line, other_site):
    # given: a business line that accepts only expiring identities, and its site signing one valid for an hour
    expires = int(time.time()) + 3600
    identity_hash = customer_identity_hash(business_line=demo_line, external_id="user-7", expires=expires)
    site_url = other_site(
        "<!doctype html><meta charset='utf-8'><title>Partner shop</title><h1>Partner shop</h1>"
        f'<script src="{server.url}/static/widget/widget.js" data-business-line="demo" data-external-id="user-7" '
        f'data-identity-hash="{identity_hash}" data-identity-expires="{expires}" data-name="Bo" defer></script>'
    )
    demo_line.allowed_origins = f"{server.url}\n{site_url.rstrip('/')}"
    demo_line.identity_requires_expiry = True
    demo_line.save()

    # when
    page.goto(site_url)
    page.get_by_role("button", name="Open the chat").click()

    # then: the chat opens as that user
    chat = page.frame_locator("iframe[title='Chat with us']")
    expect(chat.get_by_role("textbox", name="Name")).to_have_value("Bo")
    assert Customer.objects.get().external_id == "user-7"


def test_too_many_sessions_from_one_network_are_explained_then_retried(page, server, demo_line):
    # given: the session call answers as the API does past WIDGET_SESSION_RATE, once (the worker of these tests
    # has no limit: the answer itself is tested in tests/test_widget_session.py)
    message = "Too many chat sessions were opened from your network. Please try again in 2 seconds."
    refused = []

    def refuse_once(route):
        if refused:
            route.continue_()
            return
        refused.append(route.request.url)
        route.fulfill(
            status=429,
            headers={"Retry-After": "2"},
            content_type="application/json",
            body=json.dumps({"code": "rate_limited", "message": message}),
        )

    page.route("**/api/widget/session/", refuse_once)

    # when
    page.goto(f"{server.url}/h5/?business_line=demo")

    # then: the customer reads why, and once the window has passed the chat opens by itself
    expect(page.locator("#banner")).to_have_text(message)
    expect(page.get_by_role("heading", name="Leave us a message")).to_be_visible()
    expect(page.locator("#banner")).to_be_hidden()
    assert len(refused) == 1 and Customer.objects.count() == 1


def test_on_a_phone_the_widget_fills_the_screen_and_closes_from_inside(phone, server, demo_line, screenshot):
    # given
    chat = open_widget(phone, server.url)
    expect(chat.get_by_role("heading", name="Leave us a message")).to_be_visible()

    # then: the panel covers the screen, launcher included
    frame = phone.locator("iframe[title='Chat with us']")
    # The panel's opening transition may still be a fraction of a pixel short: wait for it to settle.
    full_screen = {"x": 0, "y": 0, "width": 390, "height": 844}
    box = None
    for _ in range(40):
        box = {key: round(value) for key, value in frame.bounding_box().items()}
        if box == full_screen:
            break
        phone.wait_for_timeout(50)
    assert box == full_screen
    expect(phone.get_by_role("button", name="Close the chat")).to_be_hidden()
    screenshot(phone, "16-phone-widget-open")

    # when
    chat.get_by_role("button", name="Close the chat window").click()

    # then
    expect(frame).to_be_hidden()
    expect(phone.get_by_role("button", name="Open the chat")).to_be_visible()


def content_security_policy(response) -> dict[str, str]:
    return dict(part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";") if part.strip())


def test_the_chat_page_may_be_framed_by_the_business_lines_sites_only(client):
    # given: its sites, one written with a default port and a slash, and a line that is no origin
    BusinessLineFactory(
        key="shop",
        allowed_origins="https://shop.example\nhttps://www.shop.example:443/\nhttps://x.example; script-src *",
    )

    # when
    response = client.get("/chat/", {"business_line": "shop", "channel": "web", "embed": "1"})

    # then
    assert response.status_code == 200
    policy = content_security_policy(response)
    assert policy["frame-ancestors"] == "'self' https://shop.example https://www.shop.example"
    assert (policy["script-src"], policy["style-src"]) == ("'self'", "'self'")
    assert policy["connect-src"] == "'self' ws://testserver"
    assert "X-Frame-Options" not in response


@pytest.mark.parametrize("path", ["/", "/admin/login/", "/api/docs/"])
def test_every_other_page_may_be_framed_by_nobody(client, path):
    response = client.get(path, follow=True)
    assert response.status_code == 200
    policy = content_security_policy(response)
    assert (policy["frame-ancestors"], policy["script-src"], policy["style-src"]) == ("'none'", "'self'", "'self'")
    assert response["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize(
    ("path", "asked", "channel"),
    [("/chat/", None, "web"), ("/chat/", "h5", "h5"), ("/chat/", "app", "web"), ("/h5/", None, "h5")],
)
def test_the_chat_page_speaks_for_its_channel(client, path, asked, channel):
    # given
    BusinessLineFactory(key="shop")

    # when
    response = client.get(path, {"business_line": "shop", **({"channel": asked} if asked else {})})

    # then
    assert response.status_code == 200
    assert response.context["config"]["channel"] == channel


def test_an_unknown_business_line_has_no_chat_page(client):
    # when
    response = client.get("/h5/", {"business_line": "nope"})

    # then
    assert response.status_code == 404
