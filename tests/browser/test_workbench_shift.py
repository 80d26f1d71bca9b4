"""The workbench for a whole shift (issue 12) in a real browser: Debian's Chromium on /workbench/ against live
Daphne workers and a Celery worker, with two agents and scripted customers (docs/protocol.md)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.workbench_conftest import (
    ScriptedCustomer,
    agent_page,
    screenshot,
    scripted,
    team,
    workbench_browser,
    workbench_processes,
    workbench_site,
)
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

    # When Alice answers it from the missed list and writes to them
    agent_page.open_workbench(team.username)
    agent_page.set_presence("online")
    page = agent_page.page
    page.locator(f"#missed-list [data-missed-id='{left['id']}']").get_by_role("button", name="Answer").click()
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
