"""Emails through a real SMTP server: a left message to the line's inbox, agents' answers to a customer who left,
the transcript on request; never an internal note. Celery tasks run inline here (tests/conftest.py); the real
worker sends them in tests/integration/test_emails_live.py."""

import io
from datetime import UTC, datetime

import pytest
import time_machine
from django.test import Client

from chat.lifecycle import conversation_close, conversation_leave_message, conversation_start
from chat.permissions import Participant
from chat.services import message_send
from customers.models import Customer
from customers.services import customer_token_issue
from routing.models import BusinessLine
from routing.services import assignment_pick, routing_sweep
from tests.factories import BusinessLineFactory, CustomerFactory
from tests.routing.helpers import agent_in, moved_back, redis_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def line():
    return BusinessLineFactory(name="Acme Shop", inbox_email="team@acme.test", time_zone="Asia/Shanghai")


def agent_says(conversation, agent, body, *, internal=False):
    message, _ = message_send(
        participant=Participant(kind="agent", id=agent.id),
        conversation_id=conversation.id,
        client_msg_id=f"a-{body}",
        body=body,
        internal=internal,
    )
    return message


def test_a_left_message_reaches_the_line_inbox_with_the_customer_to_reply_to(
    line, smtp_inbox, django_capture_on_commit_callbacks
):
    customer = CustomerFactory(business_line=line)

    with django_capture_on_commit_callbacks(execute=True):
        conversation_leave_message(
            customer=customer, channel="web", body="My parcel never came", name="Ada", email="ada@example.com"
        )

    [received] = smtp_inbox.received
    message = received.message
    assert received.rcpt_tos == ["team@acme.test"]
    assert message["To"] == "team@acme.test"
    assert message["From"] == "Acme support <support@acme.test>"
    assert message["Reply-To"] == "ada@example.com"
    assert message["Subject"] == "New message from Ada (Acme Shop)"
    assert message["Auto-Submitted"] == "auto-generated"
    text, html = received.part("text/plain"), received.part("text/html")
    assert "My parcel never came" in text and "Ada <ada@example.com>" in text
    assert "My parcel never came" in html and "Ada &lt;ada@example.com&gt;" in html


def test_a_line_without_an_inbox_sends_no_email(smtp_inbox, django_capture_on_commit_callbacks):
    customer = CustomerFactory(business_line=BusinessLineFactory(inbox_email=""))

    with django_capture_on_commit_callbacks(execute=True):
        conversation_leave_message(customer=customer, channel="web", body="Hello?", email="ada@example.com")

    assert smtp_inbox.received == []


def test_an_agents_answer_to_a_left_message_is_emailed_to_the_customer_who_left_without_internal_notes(
    line, smtp_inbox, django_capture_on_commit_callbacks
):
    # given a message left by a customer with an email, in Chinese, who is no longer connected
    agent = agent_in(line)
    customer = CustomerFactory(business_line=line, name="Ada", language="zh-hans")
    with django_capture_on_commit_callbacks(execute=True):
        left = conversation_leave_message(
            customer=customer, channel="h5", body="Where is my parcel?", email="ada@example.com"
        )
    smtp_inbox.received.clear()

    # when an agent picks it, writes an internal note and two answers
    with django_capture_on_commit_callbacks(execute=True):
        assignment_pick(agent_id=agent.id, conversation_id=left.id)
    with django_capture_on_commit_callbacks(execute=True):
        agent_says(left, agent, "Customer is a VIP, check the warehouse", internal=True)
        agent_says(left, agent, "It left our warehouse today.")

    # then the customer gets the answer by email, in their language, and never the note
    [received] = smtp_inbox.received
    assert received.rcpt_tos == ["ada@example.com"]
    assert received.message["Subject"] == "Acme Shop 回复了您的留言"
    assert received.message["Reply-To"] == "team@acme.test"
    text, html = received.part("text/plain"), received.part("text/html")
    assert "It left our warehouse today." in text and "It left our warehouse today." in html
    assert '<html lang="zh-hans">' in html
    assert "Ada，您好：" in text and "Acme Shop 回复了您的留言：" in text
    for part in (text, html):
        assert "VIP" not in part and "Where is my parcel?" not in part

    # and a later answer is sent alone, the first one not again
    with django_capture_on_commit_callbacks(execute=True):
        agent_says(left, agent, "It arrives tomorrow.")
    assert len(smtp_inbox.received) == 2
    later = smtp_inbox.received[1].part("text/plain")
    assert "It arrives tomorrow." in later and "It left our warehouse today." not in later


def test_a_customer_still_connected_reads_the_answer_in_the_widget_and_gets_no_email(
    line, smtp_inbox, django_capture_on_commit_callbacks, settings
):
    agent = agent_in(line)
    customer = CustomerFactory(business_line=line, email="ada@example.com")
    line.inbox_email = ""
    line.save()
    left = conversation_leave_message(customer=customer, channel="web", body="Anyone?")
    assignment_pick(agent_id=agent.id, conversation_id=left.id)
    # a live socket of the customer, as chat.sockets registers one
    key = f"{settings.REDIS_PREFIX}:sockets:customer:{customer.id}"
    redis_client().zadd(key, {"socket-1": 4102444800})
    try:
        with django_capture_on_commit_callbacks(execute=True):
            agent_says(left, agent, "Yes, here!")
    finally:
        redis_client().delete(key)

    assert smtp_inbox.received == []
    # the answer counts as seen: it is never emailed later
    with django_capture_on_commit_callbacks(execute=True):
        agent_says(left, agent, "Are you still there?")
    [received] = smtp_inbox.received
    assert "Are you still there?" in received.part("text/plain")
    assert "Yes, here!" not in received.part("text/plain")


def test_answers_in_a_chat_that_was_never_missed_are_not_emailed(line, smtp_inbox, django_capture_on_commit_callbacks):
    agent = agent_in(line)
    customer = CustomerFactory(business_line=line, email="ada@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        conversation, _ = conversation_start(customer=customer, channel="web")
    conversation.refresh_from_db()
    assert conversation.agent_id == agent.id

    with django_capture_on_commit_callbacks(execute=True):
        agent_says(conversation, agent, "Hello, how can I help?")

    assert smtp_inbox.received == []


def closed_conversation(line, agent, customer):
    left = conversation_leave_message(customer=customer, channel="web", body="I need the invoice")
    assignment_pick(agent_id=agent.id, conversation_id=left.id)
    agent_says(left, agent, "Internal: customer 42 owes nothing", internal=True)
    agent_says(left, agent, "Here it is: INV-7.")
    conversation_close(participant=Participant(kind="agent", id=agent.id), conversation_id=left.id)
    return left


def ask_transcript(conversation_id, token, **body):
    return Client().post(
        f"/api/conversations/{conversation_id}/transcript/email/",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {token}",
    )


def test_a_customer_asks_for_the_transcript_and_gets_both_parts_without_notes(
    line, smtp_inbox, django_capture_on_commit_callbacks
):
    # given a closed conversation with an internal note, on 4 March 2026 at 09:30 in Shanghai (01:30 UTC)
    line.inbox_email = ""
    line.save()
    agent = agent_in(line)
    customer = CustomerFactory(business_line=line, name="Ada")
    with time_machine.travel(datetime(2026, 3, 4, 1, 30, tzinfo=UTC), tick=False):
        conversation = closed_conversation(line, agent, customer)
    token = customer_token_issue(customer=customer)

    # when its customer asks for the transcript, giving their address
    with django_capture_on_commit_callbacks(execute=True):
        response = ask_transcript(conversation.id, token, email="ada@example.com")

    # then it is on its way, and arrives: plain text and HTML, the customer's and the agent's lines, no note
    assert response.status_code == 202, response.content
    assert response.json() == {"email": "ada@example.com"}
    [received] = smtp_inbox.received
    assert received.rcpt_tos == ["ada@example.com"]
    assert received.message["Subject"] == "Your conversation with Acme Shop"
    assert received.message.get_content_type() == "multipart/alternative"
    assert received.part("text/plain") == (
        "Your conversation with Acme Shop\n"
        "Started March 4, 2026, 9:30 a.m.\n"
        "\n"
        "[03/04/2026 9:30 a.m.] Ada:\n"
        "I need the invoice\n"
        "\n"
        f"[03/04/2026 9:30 a.m.] {agent.display_name}:\n"
        "Here it is: INV-7.\n"
        "\n"
        "Thank you for contacting us.\n"
    )
    html = received.part("text/html")
    assert '<div style="white-space:pre-wrap;">I need the invoice</div>' in html
    assert '<div style="white-space:pre-wrap;">Here it is: INV-7.</div>' in html
    assert f"{agent.display_name} · 03/04/2026 9:30 a.m." in html
    assert "owes nothing" not in html
    # and the address given becomes the customer's
    customer.refresh_from_db()
    assert customer.email == "ada@example.com"


def test_transcript_refusals_change_nothing(line, smtp_inbox, settings, django_capture_on_commit_callbacks):
    line.inbox_email = ""
    line.save()
    settings.TRANSCRIPT_EMAIL_RATE = "1/h"
    agent = agent_in(line)
    customer = CustomerFactory(business_line=line)
    token = customer_token_issue(customer=customer)
    closed = closed_conversation(line, agent, customer)
    other = closed_conversation(line, agent, CustomerFactory(business_line=line))
    open_one, _ = conversation_start(customer=customer, channel="web")

    with django_capture_on_commit_callbacks(execute=True):
        answers = {
            "no email known": ask_transcript(closed.id, token),
            "bad email": ask_transcript(closed.id, token, email="not-an-address"),
            "someone else's": ask_transcript(other.id, token, email="ada@example.com"),
            "still open": ask_transcript(open_one.id, token, email="ada@example.com"),
            "no token": Client().post(f"/api/conversations/{closed.id}/transcript/email/", {}),
        }
    assert {name: (r.status_code, r.json()["code"]) for name, r in answers.items()} == {
        "no email known": (400, "invalid_field"),
        "bad email": (400, "invalid_request"),
        "someone else's": (404, "not_found"),
        "still open": (409, "conversation_open"),
        "no token": (401, "not_authenticated"),
    }
    customer.refresh_from_db()
    assert customer.email == ""
    assert smtp_inbox.received == []

    # the rate: one transcript an hour here
    with django_capture_on_commit_callbacks(execute=True):
        first = ask_transcript(closed.id, token, email="ada@example.com")
        second = ask_transcript(closed.id, token)
    assert (first.status_code, second.status_code) == (202, 429)
    assert second.json()["code"] == "rate_limited" and int(second["Retry-After"]) >= 1
    assert len(smtp_inbox.received) == 1


@pytest.mark.parametrize(
    ("sent", "kept"),
    [("zh-CN", "zh-hans"), ("zh-Hans-CN", "zh-hans"), ("en-US", "en"), ("fr-FR", ""), ("", "")],
)
def test_the_widget_session_remembers_the_customers_language_when_we_speak_it(line, sent, kept):
    line.allowed_origins = "https://shop.example"
    line.save()
    response = Client().post(
        "/api/widget/session/",
        {"business_line": line.key, "channel": "web", "language": sent},
        content_type="application/json",
        HTTP_ORIGIN="https://shop.example",
    )

    assert response.status_code == 201, response.content
    assert Customer.objects.get(id=response.json()["customer_id"]).language == kept


def test_an_answer_to_a_chat_missed_in_the_queue_is_emailed_to_the_customer_who_left(
    smtp_inbox, django_capture_on_commit_callbacks
):
    # given: a chat that waited past the line's timeout while nobody was free; the customer's email is known
    line = BusinessLineFactory(name="Acme Shop", wait_timeout=60)
    missed, _ = conversation_start(customer=CustomerFactory(business_line=line, email="bob@example.com"), channel="web")
    moved_back(missed, seconds=61, fields=["started_at", "queued_at", "waiting_since"])
    with django_capture_on_commit_callbacks(execute=True):
        routing_sweep()
    missed.refresh_from_db()
    assert missed.status == "missed"

    # when an agent picks it later and answers
    agent = agent_in(line)
    with django_capture_on_commit_callbacks(execute=True):
        assignment_pick(agent_id=agent.id, conversation_id=missed.id)
    with django_capture_on_commit_callbacks(execute=True):
        agent_says(missed, agent, "Sorry for the wait: how can I help?")

    # then
    [received] = smtp_inbox.received
    assert received.rcpt_tos == ["bob@example.com"]
    assert "Sorry for the wait: how can I help?" in received.part("text/plain")


def test_what_a_customer_typed_never_breaks_the_headers(line, smtp_inbox, django_capture_on_commit_callbacks):
    customer = CustomerFactory(business_line=line, name="")

    with django_capture_on_commit_callbacks(execute=True):
        conversation_leave_message(
            customer=customer, channel="web", body="Hi", name="Ada\r\nBcc: everyone@example.com", email="ada@@example"
        )

    [received] = smtp_inbox.received
    assert received.rcpt_tos == ["team@acme.test"]
    assert received.message["Subject"] == "New message from Ada Bcc: everyone@example.com (Acme Shop)"
    assert received.message["Reply-To"] is None
    assert received.message["Bcc"] is None


def test_the_demo_lines_left_messages_go_to_its_inbox():
    from django.core.management import call_command

    call_command("seed_demo", stdout=io.StringIO())

    assert BusinessLine.objects.get(key="demo").inbox_email == "team@acme-shop.example"
