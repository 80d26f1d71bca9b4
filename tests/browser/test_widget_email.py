"""Email from the customer's side in a real browser: a message left in the widget reaches the team's inbox, the
agent's answer reaches the customer who left and waits for them in the widget when they come back, and the
transcript is emailed on request from the widget and the H5 page; in English and in Chinese (the decoded text and
HTML parts hold the catalogs' words). A web worker and a Celery worker of this module's own send to an SMTP server
the test runs (aiosmtpd)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
import redis
from django.conf import settings
from django.utils import formats, timezone, translation
from playwright.sync_api import Browser, FrameLocator, Page, expect

from agents.models import Agent
from chat.models import Conversation
from cs_platform.stack import Stack
from customers.models import Customer
from tests.browser.catalog import LANGUAGES, SUFFIX, page_words, words
from tests.browser.conftest import REDIS_PREFIX
from tests.browser.content_policy import watch_content_security_policy
from tests.browser.workbench_conftest import AgentPage, ScriptedCustomer
from tests.factories import AgentFactory
from tests.integration.harness import customer_session, stack_on_test_database
from tests.smtp_server import SmtpInbox

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def smtp_inbox() -> Iterator[SmtpInbox]:
    inbox = SmtpInbox()
    inbox.start()
    yield inbox
    inbox.stop()


@pytest.fixture(scope="module")
def chat_processes(
    django_db_setup: None, tmp_path_factory: pytest.TempPathFactory, smtp_inbox: SmtpInbox
) -> Iterator[Stack]:
    """The browser tests' web worker and Celery worker (tests/browser/conftest.py), emailing `smtp_inbox`."""
    env = {
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp_inbox.port}/?timeout=5",
        "EMAIL_FROM": "Acme support <support@acme.test>",
        "EMAIL_ANSWER_DELAY": "1",
    }
    with stack_on_test_database(
        tmp_path_factory.mktemp("browser-email"), redis_prefix=REDIS_PREFIX, env=env, web=1, pool="solo", beat=False
    ) as stack:
        yield stack


@pytest.fixture(autouse=True)
def inbox_emptied(smtp_inbox: SmtpInbox) -> None:
    smtp_inbox.received.clear()


def open_widget(page: Page, server_url: str, language: str = "en") -> FrameLocator:
    """The demo site in `language`, with the launcher clicked: the chat panel's frame."""
    page.goto(f"{server_url}/?lang={language}")
    page.get_by_role("button", name=re.compile("^" + re.escape(words(language, "Open the chat")))).click()
    return page.frame_locator(f"iframe[title='{words(language, 'Chat with us')}']")


def until_no_live_socket(customer_id: int) -> None:
    """The customer has left: none of their sockets is counted any more (chat/sockets.py)."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    deadline = time.monotonic() + 10
    try:
        while client.zcard(f"{REDIS_PREFIX}:sockets:customer:{customer_id}"):
            assert time.monotonic() < deadline, "the customer's socket is still counted"
            time.sleep(0.05)
    finally:
        client.close()


# What each customer writes, in their language; the agent answers in it too.
WRITTEN = {
    "en": {"name": "Ada", "question": "Where is my parcel #1234?", "answer": "It arrives tomorrow morning."},
    "zh-hans": {"name": "阿达", "question": "我的包裹 #1234 到哪里了？", "answer": "明天上午送到。"},
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_left_message_is_emailed_answered_by_email_and_shown_when_the_customer_comes_back(
    page, server, demo_line, alice, scripted_agent, smtp_inbox, screenshot, language
):
    # given: a business line serving customers in `language`, with an inbox
    demo_line.inbox_email = "team@acme.test"
    demo_line.language = language
    demo_line.save()
    name, question, answer = (WRITTEN[language][key] for key in ("name", "question", "answer"))

    # given: nobody online, a customer leaves a message in the widget, in their language
    chat = open_widget(page, server.url, language)
    chat.get_by_role("textbox", name=page_words(language, "Name")).fill(name)
    chat.get_by_role("textbox", name=page_words(language, "Email")).fill("ada@example.com")
    chat.get_by_role("textbox", name=page_words(language, "Your message")).fill(question)
    chat.get_by_role("button", name=page_words(language, "Send message")).click()
    expect(chat.locator("#ended-text")).to_have_text(
        words(language, "Your message is with our team. Need anything else?")
    )

    # then: the team's inbox has it, in the line's language
    inbox_mail = smtp_inbox.wait_for("the left message", lambda r: r.rcpt_tos == ["team@acme.test"])
    assert inbox_mail.message["Subject"] == page_words(
        language, "New message from %(customer)s (%(line)s)", customer=name, line="Acme Shop"
    )
    for part in ("text/plain", "text/html"):
        assert question in inbox_mail.part(part)
        assert page_words(language, "A customer left a message for %(line)s.", line="Acme Shop") in inbox_mail.part(
            part
        )

    # when: the customer leaves the site, and Alice picks the message, answers and closes it
    page.goto("about:blank")
    customer = Customer.objects.get()
    assert customer.language == language
    until_no_live_socket(customer.id)
    agent = scripted_agent(alice)
    agent.go_online()
    conversation_id = customer.conversations.get().id
    agent.request({"type": "conversation.pick", "conversation_id": conversation_id}, "conversation.assigned")
    agent.say(conversation_id, answer)

    # then: the customer gets the answer by email, in their language, as plain text and HTML
    answer_mail = smtp_inbox.wait_for("the answer", lambda r: r.rcpt_tos == ["ada@example.com"])
    assert answer_mail.message["Subject"] == page_words(language, "%(line)s answered your message", line="Acme Shop")
    for part in ("text/plain", "text/html"):
        text = answer_mail.part(part)
        assert answer in text
        assert page_words(language, "Hello %(name)s,", name=name) in text
        assert page_words(language, "%(line)s answered the message you left us:", line="Acme Shop") in text
    assert f'<html lang="{language}">' in answer_mail.part("text/html")
    agent.request({"type": "conversation.close", "conversation_id": conversation_id}, "conversation.state")

    # when: the customer comes back to the site (in the same tab, the chat panel opens as they left it)
    page.goto(f"{server.url}/?lang={language}")
    expect(page.get_by_role("button", name=words(language, "Close the chat"))).to_be_visible()
    chat = page.frame_locator(f"iframe[title='{words(language, 'Chat with us')}']")

    # then: the answer waits for them in the widget, with the offer of the transcript by email
    expect(chat.locator("#messages > li").filter(has_text=answer)).to_have_count(1)
    expect(chat.get_by_role("heading", name=page_words(language, "How was your chat?"))).to_be_visible()
    expect(chat.get_by_role("textbox", name=page_words(language, "Your email"))).to_be_hidden()  # known
    screenshot(page, f"20-answer-waiting-on-return{SUFFIX[language]}")

    # when: they ask for the transcript
    chat.get_by_role("button", name=page_words(language, "Email me the transcript")).click()

    # then: it arrives in their language, its start written as their language writes dates
    expect(chat.locator("#transcript-done")).to_have_text(
        words(language, "We are sending the transcript to %(email)s.", email="ada@example.com")
    )
    subject = page_words(language, "Your conversation with %(line)s", line="Acme Shop")
    transcript = smtp_inbox.wait_for("the transcript", lambda r: r.message["Subject"] == subject)
    assert transcript.rcpt_tos == ["ada@example.com"]
    text = transcript.part("text/plain")
    assert text.index(f"{name}:\n{question}") < text.index(f"Alice:\n{answer}")
    started = timezone.localtime(Conversation.objects.get(id=conversation_id).started_at, ZoneInfo(demo_line.time_zone))
    with translation.override(language):
        started_text = formats.date_format(started, "DATETIME_FORMAT")
    assert page_words(language, "Started %(started)s", started=started_text) in text
    assert answer in transcript.part("text/html")

    # and the answer's email, as a mail program shows it (in a blank page: none of the chat's policy)
    page.goto("about:blank")
    page.set_content(answer_mail.part("text/html"))
    screenshot(page, f"22-email-answer{SUFFIX[language]}")


@pytest.mark.parametrize("language", LANGUAGES)
def test_on_the_h5_page_the_transcript_asks_for_an_email_when_none_is_known(
    phone, server, alice, scripted_agent, smtp_inbox, screenshot, language
):
    # given: a chat on the H5 page in the customer's language, ended by the agent; the customer gave no email
    agent = scripted_agent(alice)
    agent.go_online()
    phone.goto(f"{server.url}/h5/?business_line=demo&lang={language}")
    phone.get_by_role("textbox", name=page_words(language, "Type your message")).fill("Is the shop open on Sunday?")
    phone.get_by_role("button", name=page_words(language, "Send"), exact=True).click()
    conversation_id = agent.expect("conversation.assigned")["conversation"]["id"]
    agent.say(conversation_id, "Yes, from 10 to 16.")
    agent.request({"type": "conversation.close", "conversation_id": conversation_id}, "conversation.state")
    expect(phone.get_by_role("heading", name=page_words(language, "How was your chat?"))).to_be_visible()
    send = phone.get_by_role("button", name=page_words(language, "Email me the transcript"))
    address = phone.get_by_role("textbox", name=page_words(language, "Your email"))

    # when: they ask for the transcript without an address, then with a wrong one
    send.click()
    expect(phone.locator("#transcript-error")).to_have_text(words(language, "Please enter your email address."))
    address.fill("bob@example")
    send.click()
    expect(phone.locator("#transcript-error")).to_have_text(words(language, "Please check your email address."))

    # when: with their address
    address.fill("bob@example.com")
    screenshot(phone, f"21-h5-transcript-by-email{SUFFIX[language]}")
    send.click()

    # then: it is sent there, in their language, and the address is now the customer's
    expect(phone.locator("#transcript-done")).to_have_text(
        words(language, "We are sending the transcript to %(email)s.", email="bob@example.com")
    )
    transcript = smtp_inbox.wait_for("the transcript", lambda r: r.rcpt_tos == ["bob@example.com"])
    assert transcript.message["Subject"] == page_words(language, "Your conversation with %(line)s", line="Acme Shop")
    assert "Yes, from 10 to 16." in transcript.part("text/plain")
    assert page_words(language, "Thank you for contacting us.") in transcript.part("text/plain")
    assert Customer.objects.get().email == "bob@example.com"


def agent_workbench(browser: Browser, server_url: str, agent: Agent) -> tuple[AgentPage, list[str]]:
    """The agent's workbench in a browser profile of its own; the list collects its script errors and
    Content-Security-Policy violations."""
    agent_page = AgentPage(
        page=browser.new_context(viewport={"width": 1440, "height": 900}).new_page(), base_url=server_url
    )
    problems: list[str] = []
    agent_page.page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    watch_content_security_policy(agent_page.page, problems)
    agent_page.open_workbench(agent.user.username)
    return agent_page, problems


def test_a_full_agent_answers_a_left_message_from_the_missed_list_and_it_reaches_the_customer(
    page, browser, server, demo_line, smtp_inbox, screenshot
):
    # Given a customer who left a message with their email in the widget while nobody was online, and left the site
    chat = open_widget(page, server.url)
    chat.get_by_role("textbox", name="Name").fill("Ada")
    chat.get_by_role("textbox", name="Email").fill("ada@example.com")
    chat.get_by_role("textbox", name="Your message").fill("Can I still change my delivery address?")
    chat.get_by_role("button", name="Send message").click()
    expect(chat.locator("#ended-text")).to_have_text("Your message is with our team. Need anything else?")
    page.goto("about:blank")
    ada = Customer.objects.get()
    until_no_live_socket(ada.id)
    left_id = ada.conversations.get().id
    # ... Alice at the workbench with no room left (capacity 1, one chat), and Bob at his, offline
    alice = AgentFactory(display_name="Alice", business_lines=[demo_line], capacity=1, user__is_staff=True)
    bob = AgentFactory(display_name="Bob", business_lines=[demo_line], user__is_staff=True)
    alice_page, alice_problems = agent_workbench(browser, server.url, alice)
    alice_page.set_presence("online")
    session = customer_session(server, demo_line.key, channel="app", name="Busy Bee")
    busy = ScriptedCustomer(url=server.ws_url(f"/ws/customer/?token={session['token']}"), name="Busy Bee")
    try:
        chatting = busy.start_with_agent()
    finally:
        busy.close()
    expect(alice_page.conversation(chatting["id"]).locator(".wb-badge")).to_have_text("active")
    bob_page, bob_problems = agent_workbench(browser, server.url, bob)
    alice_missed = alice_page.page.locator(f"#missed-list [data-missed-id='{left_id}']")
    bob_missed = bob_page.page.locator(f"#missed-list [data-missed-id='{left_id}']")
    expect(bob_missed).to_contain_text("Can I still change my delivery address?")
    expect(alice_missed.get_by_role("button", name="Take")).to_be_disabled()

    # When Alice answers it from the missed list
    alice_missed.get_by_role("button", name="Answer").click()
    composer = alice_page.page.locator("#missed-answer")
    expect(composer).to_contain_text("Your answer to Ada")
    composer.get_by_role("textbox").fill("Yes: reply with the new address and we will change it.")
    screenshot(alice_page.page, "workbench-missed-answer")
    composer.get_by_role("button", name="Send the answer").click()

    # Then it leaves her missed list and Bob's at once, and her chat stays hers alone
    expect(alice_page.page.locator("#notices")).to_contain_text("Answer sent to Ada.")
    expect(alice_missed).to_have_count(0)
    expect(bob_missed).to_have_count(0)
    expect(composer).to_be_hidden()
    expect(alice_page.page.locator("#conversation-list .wb-badge[data-status=active]")).to_have_count(1)
    # ... the customer, gone, gets the answer by email
    answer_mail = smtp_inbox.wait_for("the answer", lambda r: r.rcpt_tos == ["ada@example.com"])
    assert answer_mail.message["Subject"] == "Acme Shop answered your message"
    assert "Yes: reply with the new address and we will change it." in answer_mail.part("text/plain")

    # When the customer comes back to the site, the answer waits for them in the widget
    page.goto(f"{server.url}/")
    expect(page.get_by_role("button", name="Close the chat")).to_be_visible()  # the panel opens as they left it
    chat = page.frame_locator("iframe[title='Chat with us']")
    expect(chat.locator("#messages > li").filter(has_text="Yes: reply with the new address")).to_have_count(1)
    expect(chat.locator("#messages")).to_contain_text("An agent answered your message.")
    screenshot(page, "21-missed-answer-on-return")
    for agent_page in (alice_page, bob_page):
        agent_page.page.context.close()
    assert alice_problems == bob_problems == []
