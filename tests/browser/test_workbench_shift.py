"""The workbench for a whole shift (issue 12) in a real browser: Debian's Chromium on /workbench/ against live
Daphne workers and a Celery worker, with two agents and scripted customers (docs/protocol.md)."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from chat.models import CloseReason, Conversation, ConversationStatus
from customers.selectors import customer_identity_hash
from tests.browser.workbench_conftest import (
    AgentPage,
    ScriptedCustomer,
    agent_page,
    in_thread,
    screenshot,
    scripted,
    team,
    workbench_browser,
    workbench_processes,
    workbench_site,
)
from tests.factories import AgentFactory, BusinessLineFactory, ConversationFactory, CustomerFactory
from tests.integration.harness import customer_session

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

__all__ = ["agent_page", "screenshot", "scripted", "team", "workbench_browser", "workbench_processes"]


def bodies(frames: list[dict], conversation_id: int) -> list[str]:
    """Every message body a socket was given for a conversation, whatever frame carried it."""
    found = []
    for frame in frames:
        messages = [frame["message"]] if "message" in frame else frame.get("messages", [])
        found += [m["body"] for m in messages if m["conversation_id"] == conversation_id]
    return found


def test_after_a_reload_todays_closed_conversations_are_listed_and_open_read_only(
    agent_page, scripted, team, screenshot
):
    # Given Alice online, who closes one chat, and a customer who closes another
    agent_page.open_workbench(team.username)
    agent_page.set_presence("online")
    page = agent_page.page
    ada = scripted(line=team.line, name="Ada")
    first = ada.start_with_agent()
    ada.say(first["id"], "Thanks, that was all I needed")
    agent_page.conversation(first["id"]).click()
    expect(agent_page.transcript_message("Thanks, that was all I needed")).to_be_visible()
    page.locator("#close-button").click()
    ada.expect("conversation.state", lambda f: f["conversation"]["status"] == "closed")
    joan = scripted(line=team.line, name="Joan")
    second = joan.start_with_agent()
    joan.close_conversation(second["id"])
    expect(page.locator(f"#closed-list [data-closed-id='{second['id']}']")).to_be_visible()

    # When she reloads the workbench
    page.reload()
    expect(agent_page.connection).to_have_attribute("data-state", "connected")

    # Then both are listed as closed today, newest first, with who ended them
    closed = page.locator("#closed-list [data-closed-id]")
    expect(closed).to_have_count(2)
    expect(closed.nth(0)).to_contain_text("Joan")
    expect(closed.nth(0)).to_contain_text("closed by the customer")
    expect(closed.nth(1)).to_contain_text("Ada")
    expect(closed.nth(1)).to_contain_text("closed by you")

    # When she opens Ada's, then it shows as a transcript with nothing to write in
    closed.nth(1).click()
    dialog = page.locator("#transcript-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator(".wb-msg").filter(has_text="Thanks, that was all I needed")).to_have_count(1)
    expect(dialog).to_contain_text("The agent closed the conversation.")
    expect(dialog.locator("textarea, input")).to_have_count(0)
    screenshot(page, "workbench-closed-today")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()


def test_an_answer_to_a_left_message_reaches_the_customer_when_they_return(
    agent_page, team, workbench_site, screenshot
):
    # Given a customer who left a message while nobody was online, and went away
    session = customer_session(workbench_site.chat, team.line.key, channel="app", name="Linus")
    url = workbench_site.chat.ws_url(f"/ws/customer/?token={session['token']}")
    leaving = ScriptedCustomer(url=url, name="Linus")
    left = leaving.request(
        {"type": "conversation.leave_message", "body": "Please call me back about my invoice"}, "conversation.state"
    )["conversation"]
    leaving.close()

    # When Alice takes it from the missed list and writes to them
    agent_page.open_workbench(team.username)
    agent_page.set_presence("online")
    page = agent_page.page
    page.locator(f"#missed-list [data-missed-id='{left['id']}']").get_by_role("button", name="Take").click()
    expect(agent_page.conversation(left["id"]).locator(".wb-badge")).to_have_text("active")
    agent_page.write("We will call you tomorrow at nine.")
    expect(agent_page.transcript_message("We will call you tomorrow at nine.").locator(".wb-msg-receipt")).to_have_text(
        "Sent"
    )
    screenshot(page, "workbench-left-message-answered")

    # Then, when the customer comes back, their socket brings the conversation, and its messages the answer
    back = ScriptedCustomer(url=url, name="Linus again")
    try:
        state = back.expect("conversation.state", lambda f: f["conversation"]["id"] == left["id"])
        assert (state["conversation"]["status"], state["conversation"]["agent"]["name"]) == ("active", "Alice")
        synced = back.request({"type": "sync", "conversation_id": left["id"], "after_seq": 0}, "sync.result")
        assert bodies([synced], left["id"])[-1] == "We will call you tomorrow at nine."
        assert "Please call me back about my invoice" in bodies([synced], left["id"])
    finally:
        back.close()


# What the browser did for the page's alerts, recorded around its own APIs (the workbench's code runs unchanged):
# every tone started and every desktop notification shown.
RECORD_ALERTS = """
window.alertsSeen = { tones: 0, notifications: [] };
const startTone = OscillatorNode.prototype.start;
OscillatorNode.prototype.start = function (...args) {
  window.alertsSeen.tones += 1;
  return startTone.apply(this, args);
};
const NativeNotification = window.Notification;
window.Notification = class extends NativeNotification {
  constructor(title, options) {
    super(title, options);
    window.alertsSeen.notifications.push({ title, body: (options && options.body) || "" });
  }
};
"""

# A tab in the background, as the page sees it (headless Chromium keeps every tab visible and focused).
HIDE_TAB = """() => {
  Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "hidden" });
  Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
  document.hasFocus = () => false;
  document.dispatchEvent(new Event("visibilitychange"));
}"""
SHOW_TAB = """() => {
  delete document.visibilityState;
  delete document.hidden;
  delete document.hasFocus;
  document.dispatchEvent(new Event("visibilitychange"));
}"""


def alerts_seen(page) -> dict:
    return page.evaluate("() => window.alertsSeen")


def test_a_background_tab_gets_a_sound_a_notification_and_the_unread_count_in_its_title(
    agent_page, scripted, team, screenshot
):
    # Given Alice, who allowed notifications, online at the workbench, with the tab in the background
    page = agent_page.page
    page.context.grant_permissions(["notifications"], origin=agent_page.base_url)
    page.context.add_init_script(RECORD_ALERTS)
    agent_page.open_workbench(team.username)
    agent_page.set_presence("online")
    expect(page.locator("#notify-prompt")).to_be_hidden()  # allowed already: nothing to ask
    page.evaluate(HIDE_TAB)

    # When a customer's chat is assigned to her
    customer = scripted(line=team.line, name="Ada")
    conversation = customer.start_with_agent()

    # Then she hears it and gets a notification
    expect(agent_page.conversation(conversation["id"])).to_be_visible()
    page.wait_for_function("() => window.alertsSeen.notifications.length === 1")
    assert alerts_seen(page) == {
        "tones": 2,
        "notifications": [{"title": "New conversation: Ada", "body": "A customer is waiting for your answer."}],
    }

    # When the customer writes, then again a sound and a notification, and the tab's title counts it
    customer.say(conversation["id"], "Is anyone there?")
    expect(page).to_have_title(re.compile(r"^\(1\) Agent workbench"))
    page.wait_for_function("() => window.alertsSeen.notifications.length === 2")
    assert alerts_seen(page)["tones"] == 4
    assert alerts_seen(page)["notifications"][1] == {"title": "Ada wrote", "body": "Is anyone there?"}

    # When she turns the sound off and the customer writes again: a notification, no sound
    page.locator("#sound-switch").uncheck()
    customer.say(conversation["id"], "Hello?")
    page.wait_for_function("() => window.alertsSeen.notifications.length === 3")
    assert alerts_seen(page)["tones"] == 4
    expect(page).to_have_title(re.compile(r"^\(2\) Agent workbench"))

    # When she comes back to the tab, then the count is gone; after a reload the sound stays off
    page.evaluate(SHOW_TAB)
    expect(page).to_have_title(re.compile(r"^Agent workbench"))
    screenshot(page, "workbench-alerts")
    page.reload()
    expect(agent_page.connection).to_have_attribute("data-state", "connected")
    expect(page.locator("#sound-switch")).not_to_be_checked()
    # ... and a message while she looks at the chat makes no noise
    customer.say(conversation["id"], "Ah, there you are")
    expect(agent_page.transcript_message("Ah, there you are")).to_be_visible()
    assert alerts_seen(page) == {"tones": 0, "notifications": []}


def test_notifications_are_asked_for_once_from_a_clear_prompt(agent_page, team, screenshot):
    # Given an agent whose browser has not been asked about notifications
    agent_page.open_workbench(team.username)
    page = agent_page.page

    # Then the workbench says why it would like to send them, and waits for her to choose
    prompt = page.locator("#notify-prompt")
    expect(prompt).to_contain_text("desktop notification when a chat or a message arrives")
    expect(prompt.get_by_role("button", name="Turn on notifications")).to_be_visible()
    screenshot(page, "workbench-notification-prompt")

    # When she answers "Not now", then it is gone, and stays gone after a reload
    prompt.get_by_role("button", name="Not now").click()
    expect(prompt).to_be_hidden()
    page.reload()
    expect(agent_page.connection).to_have_attribute("data-state", "connected")
    expect(prompt).to_be_hidden()


def test_a_customer_waiting_past_the_reply_target_turns_red_and_an_idle_agent_goes_away(
    agent_page, scripted, team, screenshot
):
    # Given a business line whose reply target (its agent reply timeout; no sweep runs here) is 1 second, and
    # Alice online with a customer's chat
    team.line.agent_reply_timeout = 1
    team.line.save(update_fields=["agent_reply_timeout"])
    agent_page.open_workbench(team.username)
    agent_page.set_presence("online")
    customer = scripted(line=team.line, name="Grace")
    conversation = customer.start_with_agent()
    item = agent_page.conversation(conversation["id"])
    expect(item).to_be_visible()
    expect(item.locator(".wb-reply-wait")).to_have_count(0)  # only the greeting so far: nobody waits for her

    # When the customer asks something, then a timer runs beside the chat, and turns red past the target
    customer.say(conversation["id"], "Can I pay by invoice?")
    timer = item.locator(".wb-reply-wait")
    expect(timer).to_have_attribute("data-late", "true")
    expect(timer).to_have_class(re.compile(r"\bis-late\b"))
    assert re.fullmatch(r"\d+:\d\d", timer.text_content() or "")
    screenshot(agent_page.page, "workbench-reply-timer-late")

    # When she answers, then the timer is gone
    agent_page.write("Yes, we send it with the parcel.")
    expect(timer).to_have_count(0)

    # When she chose to go away by herself after 2 idle seconds (a short time for the test) and leaves the desk
    page = agent_page.page
    page.evaluate("() => localStorage.setItem('cs-workbench:auto-away', '2')")
    page.reload()

    # Then the workbench sets her away, and says so
    expect(page.locator("#presence-switch input[value=away]")).to_be_checked()
    expect(page.locator("#notices")).to_contain_text("You were set to Away after 2 seconds without activity")
    away = [f for f in agent_page.sent_frames("presence.set") if f["status"] == "away"]
    assert away == [{"type": "presence.set", "status": "away", "ref": "auto-away"}]


def test_a_transfer_by_picker_with_a_note_reaches_the_colleague_only(
    agent_page, scripted, team, workbench_browser, workbench_site, screenshot
):
    # Given Alice chatting with a customer; Bob online in his own browser, Carol away; and a Billing line where
    # one customer waits
    agent_page.open_workbench(team.username)
    agent_page.set_presence("online")
    customer = scripted(line=team.line, name="Barbara")
    conversation = customer.start_with_agent()
    customer.say(conversation["id"], "I was charged twice")
    expect(agent_page.conversation(conversation["id"]).locator(".wb-badge")).to_have_text("active")
    bob = AgentFactory(display_name="Bob", business_lines=[team.line], user__is_staff=True, capacity=2)
    bob_context = workbench_browser.new_context(viewport={"width": 1440, "height": 900})
    bob_page = AgentPage(page=bob_context.new_page(), base_url=workbench_site.web.url)
    bob_page.open_workbench(bob.user.username)
    bob_page.set_presence("online")
    carol = AgentFactory(display_name="Carol", business_lines=[team.line])
    scripted(agent=carol).request({"type": "presence.set", "status": "away"}, "presence.state")
    billing = BusinessLineFactory(name="Billing")
    scripted(line=billing, name="Someone").start()

    # When Alice opens the transfer picker
    page = agent_page.page
    page.locator("#transfer-button").click()

    # Then it lists the line's agents with presence and load, and the other lines with their queues
    agents = page.locator("#transfer-agents li")
    expect(agents).to_have_count(2)
    expect(agents.nth(0)).to_contain_text("Bob")
    expect(agents.nth(0)).to_contain_text("Online")
    expect(agents.nth(0)).to_contain_text("0 of 2 chats")
    expect(agents.nth(1)).to_contain_text("Carol")
    expect(agents.nth(1)).to_contain_text("Away")
    expect(page.locator("#transfer-agents").get_by_label("Carol")).to_be_disabled()
    billing_option = page.locator("#transfer-lines li").filter(has_text="Billing")
    expect(billing_option).to_contain_text("1 waiting")
    screenshot(page, "workbench-transfer-picker")

    # When she picks Bob and writes him a note
    page.locator("#transfer-agents").get_by_label("Bob").check()
    page.locator("#transfer-note").fill("Refund of the second charge approved by billing")
    page.locator("#transfer-submit").click()

    # Then Bob has the chat and is shown the note, marked as such in the transcript
    expect(bob_page.conversation(conversation["id"]).locator(".wb-badge")).to_have_text("active")
    expect(bob_page.page.locator("#notices")).to_contain_text(
        "Transferred to you with a note: “Refund of the second charge approved by billing”"
    )
    bob_page.conversation(conversation["id"]).click()
    note = bob_page.transcript_message("Refund of the second charge approved by billing")
    expect(note).to_contain_text("Transfer note")
    expect(agent_page.conversation(conversation["id"])).to_have_count(0)
    screenshot(bob_page.page, "workbench-transfer-note-received")
    bob_context.close()

    # ... and the customer's socket never carried it, now or when syncing
    customer.expect(
        "conversation.state",
        lambda f: (
            f["conversation"]["id"] == conversation["id"] and (f["conversation"]["agent"] or {}).get("id") == bob.id
        ),
    )
    synced = customer.request({"type": "sync", "conversation_id": conversation["id"], "after_seq": 0}, "sync.result")
    assert "Refund of the second charge approved by billing" not in bodies(
        [*customer.received(), synced], conversation["id"]
    )
    sent = agent_page.sent_frames("conversation.transfer")
    assert sent == [
        {
            "type": "conversation.transfer",
            "conversation_id": conversation["id"],
            "to_agent_id": bob.id,
            "note": "Refund of the second charge approved by billing",
            "ref": f"transfer:{conversation['id']}",
        }
    ]


def test_the_contact_panel_after_a_transfer_from_another_line_shows_where_the_customer_is(
    agent_page, team, workbench_browser, workbench_site, other_site, screenshot
):
    # Given Ada, a logged-in user of the shop who chatted once before, on the shop's pricing page, whose site set
    # attributes through the widget's JavaScript API
    ada = CustomerFactory(business_line=team.line, external_id="user-42", name="Ada", email="ada@example.com")
    closed_conversation = ConversationFactory(
        customer=ada, status=ConversationStatus.CLOSED, close_reason=CloseReason.AGENT, closed_at=timezone.now()
    )
    identity_hash = customer_identity_hash(business_line=team.line, external_id="user-42")
    chat_url = workbench_site.chat.url
    site_url = other_site(
        "<!doctype html><meta charset='utf-8'><title>Pricing · Acme</title><h1>Pricing</h1>"
        f'<script src="{chat_url}/static/widget/widget.js" data-business-line="{team.line.key}" '
        f'data-external-id="user-42" data-identity-hash="{identity_hash}" data-name="Ada" defer></script>'
        '<script>window.addEventListener("load", () => '
        'window.CSWidget.setAttributes({plan: "Pro", orders: 12, vip: true}));</script>'
    )
    team.line.allowed_origins = site_url.rstrip("/")
    team.line.save(update_fields=["allowed_origins"])
    # ... Bob, of the Billing line only, online in his browser; Alice, of Ada's line, online in hers
    billing = BusinessLineFactory(name="Billing")
    bob = AgentFactory(display_name="Bob", business_lines=[billing], user__is_staff=True)
    bob_context = workbench_browser.new_context(viewport={"width": 1440, "height": 900})
    bob_page = AgentPage(page=bob_context.new_page(), base_url=workbench_site.web.url)
    bob_page.open_workbench(bob.user.username)
    bob_page.set_presence("online")
    agent_page.open_workbench(team.username)
    agent_page.set_presence("online")

    # When Ada opens the chat and asks, and Alice transfers her to Billing
    customer_context = workbench_browser.new_context(
        viewport={"width": 1280, "height": 800}, locale="de-DE", timezone_id="Europe/Berlin"
    )
    shop = customer_context.new_page()
    shop.goto(site_url)
    shop.get_by_role("button", name="Open the chat").click()
    chat = shop.frame_locator("iframe[title='Chat with us']")
    chat.get_by_role("button", name="Start chat").click()
    chat.get_by_role("textbox", name="Type your message").fill("Why was I charged twice?")
    chat.get_by_role("textbox", name="Type your message").press("Enter")
    page = agent_page.page
    assigned = page.locator("#conversation-list [data-conversation-id]").filter(has_text="Why was I charged twice?")
    expect(assigned.locator(".wb-badge")).to_have_text("active")
    conversation_id = int(assigned.get_attribute("data-conversation-id") or 0)
    assert in_thread(lambda: Conversation.objects.get(id=conversation_id).customer_id) == ada.id
    assert conversation_id != closed_conversation.id
    page.locator("#transfer-button").click()
    page.locator("#transfer-lines").get_by_label("Billing").check()
    page.locator("#transfer-submit").click()

    # Then Bob, of another line, sees who she is, where she is, and her history
    expect(bob_page.conversation(conversation_id).locator(".wb-badge")).to_have_text("active")
    bob_page.conversation(conversation_id).click()
    details = bob_page.page.locator("#customer-details")
    expect(details).to_contain_text("Ada")
    expect(details).to_contain_text("ada@example.com")
    expect(details).to_contain_text("user-42")
    contact = bob_page.page.locator("#contact-details")
    page_link = contact.get_by_role("link", name="Pricing · Acme")
    expect(page_link).to_have_attribute("href", site_url)
    expect(page_link).to_have_attribute("rel", "noopener noreferrer nofollow")
    expect(contact).to_contain_text(re.compile(r"Chrome \d+ on Linux"))
    expect(contact.locator("[data-language]")).to_have_attribute("data-language", "de-DE")
    expect(contact.locator("[data-language]")).to_have_text("German (Germany)")  # named in the agent's language
    expect(contact).to_contain_text("Europe/Berlin")
    expect(contact.locator("[data-earlier]")).to_have_text("1")
    expect(contact).to_contain_text("plan")
    expect(contact).to_contain_text("Pro")
    expect(contact).to_contain_text("orders")
    expect(contact).to_contain_text("12")
    expect(bob_page.page.locator(f"#history-list [data-history-id='{conversation_id}']")).to_be_visible()
    expect(bob_page.page.locator("#notices .error")).to_have_count(0)
    screenshot(bob_page.page, "workbench-contact-panel-after-transfer")
    customer_context.close()
    bob_context.close()


def test_keyboard_shortcuts_move_between_chats_and_drafts_stay_with_their_chat(agent_page, scripted, team, screenshot):
    # Given Alice online with two chats, the first on screen
    agent_page.open_workbench(team.username)
    agent_page.set_presence("online")
    page = agent_page.page
    first = scripted(line=team.line, name="Ada").start_with_agent()
    expect(agent_page.conversation(first["id"])).to_have_attribute("aria-current", "true")
    second = scripted(line=team.line, name="Joan").start_with_agent()
    expect(agent_page.conversation(second["id"]).locator(".wb-badge")).to_have_text("active")
    composer = page.locator("#composer-input")
    page.locator("#chat-title").click()  # the page, not a text field, has focus

    # When she presses ?, then the list of shortcuts shows, and Esc closes it
    page.keyboard.press("?")
    shortcuts = page.locator("#shortcuts-dialog")
    expect(shortcuts).to_be_visible()
    expect(shortcuts).to_contain_text("Next conversation")
    screenshot(page, "workbench-shortcuts")
    page.keyboard.press("Escape")
    expect(shortcuts).to_be_hidden()

    # When she presses r and writes half a reply, then moves to the other chat with Alt+↓
    page.keyboard.press("r")
    expect(composer).to_be_focused()
    page.keyboard.type("Your parcel left our warehouse")
    selected = page.locator("#conversation-list [aria-current=true]")
    page.keyboard.press("Alt+ArrowDown")
    expect(selected).not_to_have_attribute("data-conversation-id", str(first["id"]))
    other_id = selected.get_attribute("data-conversation-id")
    assert other_id == str(second["id"])
    # Then the other chat's composer is empty; she writes there too, and j / k move on outside the composer
    expect(composer).to_have_value("")
    composer.fill("Joan, one moment")
    page.keyboard.press("Escape")
    expect(composer).not_to_be_focused()
    page.keyboard.press("k")
    expect(agent_page.conversation(first["id"])).to_have_attribute("aria-current", "true")
    expect(composer).to_have_value("Your parcel left our warehouse")

    # When she reloads, then each chat's draft is still its own
    page.reload()
    expect(agent_page.connection).to_have_attribute("data-state", "connected")
    agent_page.conversation(second["id"]).click()
    expect(composer).to_have_value("Joan, one moment")
    agent_page.conversation(first["id"]).click()
    expect(composer).to_have_value("Your parcel left our warehouse")
    # ... and a sent reply leaves no draft behind (the composer opens once the chat is resumed after the reload)
    expect(composer).to_be_enabled()
    composer.press("Enter")
    expect(agent_page.transcript_message("Your parcel left our warehouse")).to_be_visible()
    agent_page.conversation(second["id"]).click()
    agent_page.conversation(first["id"]).click()
    expect(composer).to_have_value("")

    # When she presses Shift+C outside the composer, then the chat is closed after her confirmation
    page.locator("#chat-title").click()
    page.keyboard.press("Shift+C")
    expect(agent_page.conversation(first["id"]).locator(".wb-badge")).to_have_text("closed")
    assert agent_page.dialogs == ["Close the conversation with Ada?"]

    # When she turns the shortcuts off, then the keys do nothing, after a reload too
    page.locator("#shortcuts-switch").uncheck()
    page.reload()
    expect(agent_page.connection).to_have_attribute("data-state", "connected")
    expect(page.locator("#shortcuts-switch")).not_to_be_checked()
    agent_page.conversation(second["id"]).click()
    page.locator("#chat-title").click()
    page.keyboard.press("?")
    page.keyboard.press("r")
    expect(shortcuts).to_be_hidden()
    expect(composer).not_to_be_focused()
    expect(composer).to_have_value("Joan, one moment")


def test_after_a_transfer_the_colleague_reads_earlier_messages_under_their_writers_names_with_safe_links(
    agent_page, scripted, team, workbench_browser, workbench_site, screenshot
):
    # Given Alice chatting with a customer who sends a link and a script address, and Alice answering with a link
    agent_page.open_workbench(team.username)
    agent_page.set_presence("online")
    page = agent_page.page
    customer = scripted(line=team.line, name="Ada")
    conversation = customer.start_with_agent()
    customer.say(conversation["id"], "My order: https://shop.example/orders/42. Also javascript:alert(1)")
    agent_page.write("Track it at https://track.example/?id=42 please")

    # Then both links are clickable, opening apart from the workbench; the script address stays text
    links = page.locator("#transcript .wb-msg-body a")
    expect(links).to_have_count(2)
    expect(links.nth(0)).to_have_attribute("href", "https://shop.example/orders/42")
    expect(links.nth(0)).to_have_attribute("rel", "noopener noreferrer nofollow")
    expect(links.nth(0)).to_have_attribute("target", "_blank")
    expect(links.nth(1)).to_have_attribute("href", "https://track.example/?id=42")
    expect(page.locator("#transcript a[href^='javascript']")).to_have_count(0)

    # When Carol, online when the picker opened, goes offline before Alice picks her
    carol = AgentFactory(display_name="Carol", business_lines=[team.line])
    carol_socket = scripted(agent=carol)
    carol_socket.request({"type": "presence.set", "status": "online"}, "presence.state")
    page.locator("#transfer-button").click()
    expect(page.locator("#transfer-agents").get_by_label("Carol")).to_be_enabled()
    carol_socket.request({"type": "presence.set", "status": "offline"}, "presence.state")
    page.locator("#transfer-agents").get_by_label("Carol").check()
    page.locator("#transfer-submit").click()

    # Then the refusal is said in words, without field names, and clears itself
    notice = page.locator("#notices li.error")
    expect(notice).to_have_text("That agent is not online in this business line.")
    screenshot(page, "workbench-refusal-in-words")
    expect(notice).to_have_count(0)

    # When she transfers to Bob instead
    bob = AgentFactory(display_name="Bob", business_lines=[team.line], user__is_staff=True)
    bob_context = workbench_browser.new_context(viewport={"width": 1440, "height": 900})
    bob_page = AgentPage(page=bob_context.new_page(), base_url=workbench_site.web.url)
    bob_page.open_workbench(bob.user.username)
    bob_page.set_presence("online")
    page.locator("#transfer-button").click()
    page.locator("#transfer-agents").get_by_label("Bob").check()
    page.locator("#transfer-submit").click()

    # Then it leaves Alice's list at once, and Bob reads her reply under her name
    expect(agent_page.conversation(conversation["id"])).to_have_count(0)
    bob_page.conversation(conversation["id"]).click()
    alice_reply = bob_page.transcript_message("Track it at https://track.example/?id=42 please")
    expect(alice_reply.locator(".wb-msg-who")).to_have_text("Alice")
    screenshot(bob_page.page, "workbench-transferred-names")
    bob_context.close()


def test_going_offline_or_away_with_chats_open_asks_what_becomes_of_them(agent_page, scripted, team, screenshot):
    # Given Alice online with a customer's chat, and Bob online with room
    agent_page.open_workbench(team.username)
    agent_page.set_presence("online")
    page = agent_page.page
    customer = scripted(line=team.line, name="Grace")
    conversation = customer.start_with_agent()
    item = agent_page.conversation(conversation["id"])
    expect(item.locator(".wb-badge")).to_have_text("active")
    bob = AgentFactory(display_name="Bob", business_lines=[team.line])
    bob_socket = scripted(agent=bob)
    bob_socket.request({"type": "presence.set", "status": "online"}, "presence.state")

    # When she chooses Offline, then she is asked, and nothing is sent yet
    page.locator("#presence-switch label.wb-offline").click()
    prompt = page.locator("#presence-dialog")
    expect(prompt).to_contain_text("You have 1 open chat. Going Offline, what should become of it?")
    expect(page.locator("#presence-switch input[value=online]")).to_be_checked()
    assert [f["status"] for f in agent_page.sent_frames("presence.set")] == ["online"]
    screenshot(page, "workbench-presence-prompt")

    # When she keeps it, then she is offline and still chatting
    prompt.get_by_role("button", name="Keep them until I close them").click()
    expect(page.locator("#presence-switch input[value=offline]")).to_be_checked()
    expect(item.locator(".wb-badge")).to_have_text("active")
    expect(page.locator("#composer")).to_be_visible()

    # When she then chooses Away and hands it back
    page.locator("#presence-switch label.wb-away").click()
    prompt.get_by_role("button", name="Hand them back to the queue").click()

    # Then Bob gets it, the customer is told without her name, and it left her list
    bob_socket.expect("conversation.assigned", lambda f: f["conversation"]["id"] == conversation["id"])
    expect(page.locator("#presence-switch input[value=away]")).to_be_checked()
    expect(item).to_have_count(0)
    notice = customer.expect("message.new", lambda f: f["message"].get("event") == "requeued")["message"]
    assert notice["body"] == "Your agent had to step away; another agent will be with you shortly."
    assert agent_page.sent_frames("presence.set")[1:] == [
        {"type": "presence.set", "status": "offline", "ref": "presence"},
        {"type": "presence.set", "status": "away", "ref": "presence", "hand_back": True},
    ]


def test_a_busy_workbench(agent_page, scripted, team, screenshot):
    """A shift in full swing, for the README (artifacts/screenshots/workbench-busy.png, copied to
    docs/images/workbench.png): three chats, one past its reply target, a queue, a left message, one closed."""
    # Given a line whose reply target (its agent reply timeout; no sweep runs here) is 1 second, and Alice
    # online with room for three
    team.line.agent_reply_timeout = 1
    team.line.save(update_fields=["agent_reply_timeout"])
    agent_page.open_workbench(team.username)
    page = agent_page.page
    page.locator("#notify-dismiss").click()
    agent_page.set_presence("online")
    done = scripted(line=team.line, name="Linus Torvalds")
    finished = done.start_with_agent()
    done.say(finished["id"], "Thanks, all sorted!")
    done.close_conversation(finished["id"])
    ada = scripted(line=team.line, name="Ada Lovelace", email="ada@example.com")
    chat = ada.start_with_agent()
    ada.send(
        {
            "type": "customer.context",
            "page_url": "https://shop.example/orders/1234",
            "page_title": "Order #1234 · Acme Shop",
            "language": "en-GB",
            "time_zone": "Europe/London",
            "attributes": {"plan": "Pro", "orders": 12},
        }
    )
    ada.say(chat["id"], "Hello! My parcel #1234 has not arrived yet.")
    for name, question in (("Grace Hopper", "Can I pay by invoice?"), ("Alan Turing", "Do you ship to Norway?")):
        customer = scripted(line=team.line, name=name)
        conversation = customer.start_with_agent()
        customer.say(conversation["id"], question)
    for name, question in (("Joan Clarke", "Is the blue one in stock?"), ("Tim Berners-Lee", "Hi, anyone there?")):
        customer = scripted(line=team.line, name=name)
        customer.say(customer.start()["id"], question)
    scripted(line=team.line, name="Katherine Johnson").request(
        {"type": "conversation.leave_message", "body": "Please call me back about my invoice"}, "conversation.state"
    )

    # When Alice opens Ada's chat and answers
    agent_page.conversation(chat["id"]).click()
    agent_page.write("Let me check: it left our warehouse yesterday, see https://track.example/1234")

    # Then everything that needs her is on one screen
    expect(page.locator("#conversation-list .wb-badge[data-status=active]")).to_have_count(3)
    expect(page.locator("#queue-list [data-queue-id]")).to_have_count(2)
    expect(page.locator("#missed-list [data-missed-id]")).to_have_count(1)
    expect(page.locator("#closed-list [data-closed-id]")).to_have_count(1)
    expect(page.locator("#conversation-list .wb-reply-wait.is-late")).to_have_count(2)
    expect(page.locator("#contact-details")).to_contain_text("Order #1234 · Acme Shop")
    expect(page.locator("#notices li")).to_have_count(0)  # the "new conversation" notices cleared themselves
    page.set_viewport_size({"width": 1920, "height": 1200})  # the README's: a common monitor, every list on one screen
    screenshot(page, "workbench-busy")
    # ... on a laptop's screen and on a large monitor too
    for width, height in ((1366, 768), (2560, 1440)):
        page.set_viewport_size({"width": width, "height": height})
        expect(page.locator("#composer-input")).to_be_visible()
        screenshot(page, f"workbench-busy-{width}x{height}")
