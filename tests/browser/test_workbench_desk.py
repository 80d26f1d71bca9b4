"""The workbench's tools in Chromium (desk/): canned replies with variables, a label, a note about the customer,
and search finding a Chinese message, with scripted customers on the other end."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from desk.models import CannedReply, CustomerNote, Label
from tests.browser.workbench_conftest import (
    AgentPage,
    agent_page,
    screenshot,
    scripted,
    team,
    workbench_browser,
    workbench_processes,
    workbench_site,
)
from tests.factories import AgentFactory, BusinessLineFactory, ConversationFactory, CustomerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def online_with_a_customer(agent_page, scripted, team, **customer_fields):
    """The agent online in the workbench with a customer's conversation assigned and on screen."""
    agent_page.open_workbench(team.username)
    agent_page.set_presence("online")
    customer = scripted(line=team.line, **customer_fields)
    conversation = customer.start_with_agent()
    expect(agent_page.conversation(conversation["id"])).to_be_visible()
    agent_page.conversation(conversation["id"]).click()
    return customer, conversation


def test_a_canned_reply_typed_as_a_shortcut_goes_out_with_its_variables(agent_page, scripted, team, screenshot):
    # Given a canned reply of the line with variables, one of them unknown
    CannedReply.objects.create(
        business_line=team.line,
        shortcut="thanks",
        title="Thanks for waiting",
        body="Thank you {customer.name}, {agent.name} of {business_line.name} is on it. Order {order.number}?",
    )
    CannedReply.objects.create(business_line=team.line, shortcut="bye", title="Goodbye", body="Goodbye!")
    customer, _ = online_with_a_customer(agent_page, scripted, team, name="Ada Lovelace")
    page = agent_page.page
    composer = page.locator("#composer-input")

    # When the agent types /tha in the composer
    composer.press_sequentially("/tha")

    # Then the list shows only the matching reply, with its text for this customer
    picker = page.locator("#canned-picker")
    expect(picker).to_be_visible()
    expect(picker.locator("[role=option]")).to_have_count(1)
    expect(picker.locator("[role=option]")).to_contain_text("/thanks")
    screenshot(page, "workbench-canned-picker")

    # When they press Enter, the reply is inserted with the variables filled, the unknown one left visible
    composer.press("Enter")
    expected = "Thank you Ada Lovelace, Alice of Acme Shop is on it. Order {order.number}?"
    expect(composer).to_have_value(expected)
    expect(picker).to_be_hidden()

    # And a second Enter sends it to the customer
    composer.press("Enter")
    sent = customer.expect("message.new", lambda f: f["message"]["sender"] == "agent")["message"]
    assert sent["body"] == expected

    # When the agent adds a personal reply in the canned replies panel
    page.locator("#canned-manager summary").click()
    form = page.locator("#canned-manager form")
    form.locator("[name=shortcut]").fill("sig")
    form.locator("[name=title]").fill("Signature")
    form.locator("[name=body]").fill("Best regards, {agent.name}")
    form.locator("[type=submit]").click()

    # Then it is listed as theirs, and Tab inserts it after /sig
    expect(page.locator("#canned-manager .wb-canned-list")).to_contain_text("/sig")
    assert list(CannedReply.objects.filter(agent=team.agent).values_list("shortcut", "body")) == [
        ("sig", "Best regards, {agent.name}")
    ]
    composer.fill("")
    composer.press_sequentially("/sig")
    expect(picker.locator("[role=option]")).to_have_count(1)
    composer.press("Tab")
    expect(composer).to_have_value("Best regards, Alice")
    assert agent_page.console_errors == []


def test_a_label_and_a_note_are_set_and_seen_after_a_reload(agent_page, scripted, team, screenshot):
    # Given labels of the line, and another line's label that must not be offered
    Label.objects.create(business_line=team.line, name="refund")
    Label.objects.create(business_line=team.line, name="vip")
    Label.objects.create(business_line=BusinessLineFactory(), name="foreign")
    customer, conversation = online_with_a_customer(agent_page, scripted, team, name="Grace Hopper")
    page = agent_page.page
    labels = page.locator("#conversation-labels")

    # When the agent adds the label vip
    expect(labels.locator("select option")).to_have_text(["Add a label…", "refund", "vip"])
    labels.locator("select").select_option(label="vip")

    # Then it shows on the conversation, and is stored
    expect(labels.locator(".wb-label")).to_have_text(["vip×"])
    expect(labels.locator("select option")).to_have_text(["Add a label…", "refund"])

    # When they write a note about the customer
    notes = page.locator("#customer-notes")
    notes.locator("textarea").fill("Prefers to be called in the afternoon.")
    notes.locator("[type=submit]").click()
    expect(notes.locator(".wb-note")).to_have_count(1)
    screenshot(page, "workbench-label-and-note")

    # Then after a reload both are still there, the note with its author
    page.reload()
    expect(agent_page.connection).to_have_attribute("data-state", "connected")
    agent_page.conversation(conversation["id"]).click()
    expect(labels.locator(".wb-label")).to_have_text(["vip×"])
    expect(notes.locator(".wb-note")).to_have_count(1)
    expect(notes.locator(".wb-note")).to_contain_text("Prefers to be called in the afternoon.")
    expect(notes.locator(".wb-note .wb-conv-meta")).to_contain_text("Alice")
    assert list(Label.objects.get(name="vip").conversations.values_list("id", flat=True)) == [conversation["id"]]
    assert list(CustomerNote.objects.values_list("body", "author_id")) == [
        ("Prefers to be called in the afternoon.", team.agent.pk)
    ]

    # When the label is removed
    labels.locator(".wb-label-remove").click()
    expect(labels.locator(".wb-label")).to_have_count(0)
    assert not Label.objects.get(name="vip").conversations.exists()
    # The customer never saw any of it
    assert all("afternoon" not in str(frame) for frame in customer.received())
    assert agent_page.console_errors == []


def test_search_finds_a_chinese_message_of_my_line_and_opens_its_transcript(agent_page, team, screenshot):
    # Given a closed conversation of the agent's line in Chinese, and the same words in another line
    mine = ConversationFactory(
        customer=CustomerFactory(business_line=team.line, name="王芳"),
        status="closed",
        transcript=["你好，我想退货", "订单号是 20261130"],
    )
    ConversationFactory(
        customer=CustomerFactory(business_line=BusinessLineFactory(), name="李雷"),
        status="closed",
        transcript=["我想退货"],
    )
    AgentFactory(business_lines=[team.line])  # a colleague: search is by line, not by agent

    # When the agent searches for 退货
    agent_page.open_workbench(team.username)
    page = agent_page.page
    page.locator("#search-input").fill("退货")
    page.locator("#search-form [type=submit]").click()

    # Then only their line's conversation is found, with the message that matched
    results = page.locator("#search-results [data-search-id]")
    expect(results).to_have_count(1)
    expect(results).to_have_attribute("data-search-id", str(mine.pk))
    expect(results).to_contain_text("王芳")
    expect(results).to_contain_text("你好，我想退货")

    # When they open it, the transcript is shown read-only
    results.click()
    dialog = page.locator("#search-transcript")
    expect(dialog).to_be_visible()
    expect(dialog.locator(".wb-msg-body")).to_have_text(["你好，我想退货", "订单号是 20261130"])
    expect(dialog.locator("textarea, input[type=text]")).to_have_count(0)
    screenshot(page, "workbench-search")
    dialog.locator(".wb-dialog-close").click()
    expect(dialog).to_be_hidden()

    # And a search for nothing of theirs says so
    page.locator("#search-input").fill("李雷")
    page.locator("#search-form [type=submit]").click()
    expect(page.locator("#search-results")).to_contain_text("No conversation of your lines matches.")
    assert agent_page.console_errors == []


def test_a_canned_reply_with_a_file_sends_a_copy_in_the_conversation(agent_page, scripted, team, tmp_path, screenshot):
    # Given an agent in a conversation who keeps a personal reply with a PDF, made in the canned replies panel
    guide = tmp_path / "return guide.pdf"
    guide.write_bytes(b"%PDF-1.4\nhow to return\n%%EOF\n")
    customer, conversation = online_with_a_customer(agent_page, scripted, team, name="Ada Lovelace")
    page = agent_page.page
    page.locator("#canned-manager summary").click()
    form = page.locator("#canned-manager form")
    form.locator("[name=shortcut]").fill("guide")
    form.locator("[name=title]").fill("Return guide")
    form.locator("[name=body]").fill("Here is our return guide, {customer.name}.")
    form.locator("[name=file]").set_input_files(str(guide))
    form.locator("[type=submit]").click()
    expect(page.locator("#canned-manager .wb-canned-list")).to_contain_text("📎 return guide.pdf")

    # When they insert it with /guide and Enter
    composer = page.locator("#composer-input")
    composer.press_sequentially("/gui")
    expect(page.locator("#canned-picker [role=option]")).to_have_count(1)
    composer.press("Enter")

    # Then the text is in the composer and the reply's file is offered; sending both reaches the customer
    expect(composer).to_have_value("Here is our return guide, Ada Lovelace.")
    files = page.locator("#canned-files")
    expect(files).to_contain_text("return guide.pdf")
    screenshot(page, "workbench-canned-files")
    files.get_by_role("button", name="Send the files").click()
    expect(files).to_be_hidden()
    composer.press("Enter")
    with_file = customer.expect("message.new", lambda f: f["message"]["attachments"] != [])["message"]
    text = customer.expect("message.new", lambda f: f["message"]["body"].startswith("Here is"))["message"]
    assert [(a["name"], a["content_type"]) for a in with_file["attachments"]] == [
        ("return guide.pdf", "application/pdf")
    ]
    assert with_file["conversation_id"] == conversation["id"]
    assert text["body"] == "Here is our return guide, Ada Lovelace."
    expect(page.locator("#transcript .wb-attachment")).to_contain_text("return guide.pdf")
    assert agent_page.console_errors == []


def test_a_label_and_a_note_added_by_one_agent_appear_in_the_colleagues_workbench(
    agent_page, scripted, team, workbench_browser, workbench_site, screenshot
):
    # Given Bob in his own browser chatting with a customer, who hands the chat over to Alice; the conversation
    # stays on Bob's screen (read-only, as a transferred one does)
    Label.objects.create(business_line=team.line, name="vip")
    bob = AgentFactory(display_name="Bob", business_lines=[team.line], user__is_staff=True)
    bob_context = workbench_browser.new_context(viewport={"width": 1440, "height": 900})
    bob_page = AgentPage(page=bob_context.new_page(), base_url=workbench_site.web.url)
    bob_page.page.on("pageerror", lambda error: bob_page.problems.append(f"page error: {error}"))
    bob_page.open_workbench(bob.user.username)
    bob_page.set_presence("online")
    customer = scripted(line=team.line, name="Grace Hopper")
    conversation = customer.start_with_agent()
    bob_page.conversation(conversation["id"]).click()
    bob_labels, bob_notes = bob_page.page.locator("#conversation-labels"), bob_page.page.locator("#customer-notes")
    expect(bob_notes.locator(".wb-empty")).to_be_visible()
    agent_page.open_workbench(team.username)
    agent_page.set_presence("online")
    scripted(agent=bob).request(
        {"type": "conversation.transfer", "conversation_id": conversation["id"], "to_agent_id": team.agent.id},
        "conversation.state",
    )
    expect(agent_page.conversation(conversation["id"]).locator(".wb-badge")).to_have_text("active")
    agent_page.conversation(conversation["id"]).click()

    # When Alice adds a label and writes a note about the customer
    page = agent_page.page
    page.locator("#conversation-labels select").select_option(label="vip")
    page.locator("#customer-notes textarea").fill("Prefers to be called in the afternoon.")
    page.locator("#customer-notes [type=submit]").click()

    # Then both appear on Bob's screen without a reload
    expect(bob_labels.locator(".wb-label")).to_have_text(["vip×"])
    expect(bob_notes.locator(".wb-note")).to_have_count(1)
    expect(bob_notes.locator(".wb-note")).to_contain_text("Prefers to be called in the afternoon.")
    expect(bob_notes.locator(".wb-note .wb-conv-meta")).to_contain_text("Alice")
    screenshot(bob_page.page, "workbench-label-and-note-live")

    # ... where only its author may change it
    expect(bob_notes.locator(".wb-note").get_by_role("button")).to_have_count(0)

    # When Alice removes the label and rewrites her note, Bob's screen follows
    page.locator("#conversation-labels .wb-label-remove").click()
    expect(bob_labels.locator(".wb-label")).to_have_count(0)
    alice_note = page.locator("#customer-notes .wb-note")
    alice_note.get_by_role("button", name="Edit").click()
    alice_note.get_by_role("textbox").fill("Call after 3 pm.")
    alice_note.get_by_role("button", name="Save").click()
    expect(bob_notes.locator(".wb-note-body")).to_have_text(["Call after 3 pm."])

    # When she removes the note, it goes from Bob's screen too
    page.locator("#customer-notes .wb-note").get_by_role("button", name="Remove").click()
    expect(bob_notes.locator(".wb-note")).to_have_count(0)
    expect(bob_notes.locator(".wb-empty")).to_be_visible()
    assert bob_page.problems == [] and bob_page.console_errors == []
    bob_context.close()
    assert all("afternoon" not in str(frame) for frame in customer.received())
