"""What the customer's chat delivers, found by trying it as a new user (issue 10, item 8), in a real browser: a
burst of messages past the socket's rate limit, a reload in the middle of it, read receipts after a reload, and
no false error when the agent closes the chat. The protocol client itself is unit-tested in tests/client/."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from chat.models import Message, Sender

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Writes each body through the composer, as fast as the page takes them (far faster than anyone types).
WRITE_ALL = """(bodies) => {
  const input = document.getElementById("input");
  const form = document.getElementById("composer-form");
  for (const body of bodies) {
    input.value = body;
    form.requestSubmit();
  }
}"""

# Every text the toast shows, from the page's start (the toast hides itself after a few seconds).
WATCH_TOASTS = """
window.__toasts = [];
document.addEventListener("DOMContentLoaded", () => {
  const toast = document.getElementById("toast");
  new MutationObserver(() => {
    if (!toast.hidden) window.__toasts.push(toast.textContent);
  }).observe(toast, { attributes: true, childList: true, characterData: true, subtree: true });
});
"""

BURST = [f"burst {number}" for number in range(1, 61)]


def chat_with_alice(page: Page, server_url: str, agent) -> int:
    """The H5 page, with a chat the agent has taken; returns its id."""
    page.goto(f"{server_url}/h5/?business_line=demo")
    page.get_by_role("textbox", name="Type your message").fill("Hello")
    page.get_by_role("button", name="Send").click()
    conversation_id = agent.expect("conversation.assigned")["conversation"]["id"]
    expect(page.locator("#status")).to_have_text("Chatting with Alice")
    return conversation_id


def burst_bodies_received(agent, count: int) -> list[str]:
    return [
        agent.expect("message.new", lambda frame: frame["message"]["body"].startswith("burst "))["message"]["body"]
        for _ in range(count)
    ]


def stored_burst(conversation_id: int) -> list[str]:
    return list(
        Message.objects.filter(conversation_id=conversation_id, sender=Sender.CUSTOMER, body__startswith="burst ")
        .order_by("seq")
        .values_list("body", flat=True)
    )


def test_sixty_messages_written_at_once_all_reach_the_agent_in_order(page, server, alice, scripted_agent, screenshot):
    # given: a chat with an agent
    agent = scripted_agent(alice)
    agent.go_online()
    conversation_id = chat_with_alice(page, server.url, agent)

    # when: the customer writes 60 messages at once, more than the socket's rate limit lets through in a burst
    page.evaluate(WRITE_ALL, BURST)

    # then: all arrive at the agent, in order, each once, and none is left "Not sent"
    assert burst_bodies_received(agent, 60) == BURST
    expect(page.locator("#messages > li.msg-customer")).to_have_count(61)
    expect(page.locator("#pending > li")).to_have_count(0)
    assert stored_burst(conversation_id) == BURST
    screenshot(page, "client-burst-of-sixty")


def test_a_reload_in_the_middle_of_a_burst_keeps_the_unsent_messages(page, server, alice, scripted_agent):
    # given: a chat with an agent, and 60 messages written at once
    agent = scripted_agent(alice)
    agent.go_online()
    conversation_id = chat_with_alice(page, server.url, agent)
    page.evaluate(WRITE_ALL, BURST)
    first = burst_bodies_received(agent, 30)

    # when: the page is reloaded before the rest went out
    page.reload()

    # then: the rest are sent from where they stopped, each stored once, in order, and all show as sent
    assert first + burst_bodies_received(agent, 30) == BURST
    expect(page.locator("#messages > li.msg-customer")).to_have_count(61)
    expect(page.locator("#pending > li")).to_have_count(0)
    assert stored_burst(conversation_id) == BURST


def test_seen_receipts_stay_seen_after_a_reload(page, server, alice, scripted_agent):
    # given: a message the agent has read
    agent = scripted_agent(alice)
    agent.go_online()
    conversation_id = chat_with_alice(page, server.url, agent)
    question = page.locator("#messages > li.msg-customer").filter(has_text="Hello")
    expect(question.locator(".receipt")).to_have_text("Sent")
    seq = int(question.get_attribute("data-seq"))
    agent.send({"type": "read", "conversation_id": conversation_id, "seq": seq})
    expect(question.locator(".receipt")).to_have_text("Seen")

    # when
    page.reload()

    # then
    expect(page.locator("#status")).to_have_text("Chatting with Alice")
    expect(page.locator("#messages > li.msg-customer").filter(has_text="Hello").locator(".receipt")).to_have_text(
        "Seen"
    )


def test_the_agent_closing_the_chat_shows_the_rating_and_no_error_on_the_h5_page(
    phone, server, alice, scripted_agent, screenshot
):
    # given: a customer on the H5 page chatting with an agent
    agent = scripted_agent(alice)
    agent.go_online()
    phone.add_init_script(WATCH_TOASTS)
    conversation_id = chat_with_alice(phone, server.url, agent)

    # when: the agent closes it
    agent.request({"type": "conversation.close", "conversation_id": conversation_id}, "conversation.state")

    # then: the rating is offered; once a rating went and its reply came back (after any error the close caused
    # on this socket), no error was ever shown
    expect(phone.get_by_role("heading", name="How was your chat?")).to_be_visible()
    phone.get_by_role("radio", name="5 stars").click()
    phone.get_by_role("button", name="Send rating").click()
    expect(phone.locator("#ended-text")).to_have_text("Thanks for your feedback!")
    screenshot(phone, "client-h5-closed-by-agent")
    assert phone.evaluate("window.__toasts") == []
