"""Email for real: a web worker and a Celery worker (cs_platform/stack.py) configured by `EMAIL_URL` to send to an
SMTP server this test runs (aiosmtpd). A left message reaches the line's inbox, the agent's answer reaches the
customer who left, the transcript reaches them on request; the internal note never leaves (docs/operations.md,
"Email")."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import pytest
import redis

from cs_platform.stack import Stack, http_json
from tests.factories import AgentFactory, BusinessLineFactory
from tests.integration.chatflows import Team, customer_socket, online_agent, play, send_message, sync
from tests.integration.harness import agent_login, customer_session, stack_on_test_database
from tests.integration.wsclient import Clients
from tests.smtp_server import SmtpInbox

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

REDIS_PREFIX = f"csemaillive{os.getpid()}"


@pytest.fixture(scope="module")
def smtp_inbox() -> Iterator[SmtpInbox]:
    inbox = SmtpInbox()
    inbox.start()
    yield inbox
    inbox.stop()


@pytest.fixture(scope="module")
def email_stack(
    django_db_setup: None, tmp_path_factory: pytest.TempPathFactory, smtp_inbox: SmtpInbox
) -> Iterator[Stack]:
    """One web worker and one Celery worker whose email goes to `smtp_inbox`, answers emailed after 1 s."""
    env = {
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp_inbox.port}/?timeout=5",
        "EMAIL_FROM": "Acme support <support@acme.test>",
        "EMAIL_ANSWER_DELAY": "1",
    }
    with stack_on_test_database(
        tmp_path_factory.mktemp("emails_live"), redis_prefix=REDIS_PREFIX, env=env, web=1, beat=False
    ) as stack:
        yield stack


def customer_sockets_live(redis_url: str, customer_id: int) -> int:
    client = redis.Redis.from_url(redis_url)
    try:
        return int(client.zcard(f"{REDIS_PREFIX}:sockets:customer:{customer_id}"))
    finally:
        client.close()


def test_left_message_answer_and_transcript_by_email_through_the_celery_worker(
    email_stack: Stack, smtp_inbox: SmtpInbox, request: pytest.FixtureRequest, settings
):
    request.node.process_log_offsets = email_stack.log_offsets()
    worker = email_stack.web[0]
    line = BusinessLineFactory(name="Acme Mail", inbox_email="team@acme.test")
    agent = AgentFactory(business_lines=[line])
    login = agent_login(worker, agent.user.username)
    team = Team(line=line, username=agent.user.username, token=login["token"], agent_id=agent.id)
    session = customer_session(worker, line.key)

    async def scenario() -> None:
        async with Clients() as clients:
            # Given a customer who leaves a message while nobody is online, then leaves
            customer = await customer_socket(clients, worker, session["token"])
            left = await customer.request(
                {
                    "type": "conversation.leave_message",
                    "body": "My parcel never came",
                    "name": "Ada",
                    "email": "ada@example.com",
                },
                "conversation.state",
            )
            assert left["type"] == "conversation.state", left
            conversation_id = left["conversation"]["id"]

            # Then the line's inbox gets it, Reply-To the customer
            inbox_mail = await asyncio.to_thread(
                smtp_inbox.wait_for, "the left message at the inbox", lambda r: "team@acme.test" in r.rcpt_tos
            )
            assert inbox_mail.message["Subject"] == "New message from Ada (Acme Mail)"
            assert inbox_mail.message["From"] == "Acme support <support@acme.test>"
            assert inbox_mail.message["Reply-To"] == "ada@example.com"
            assert "My parcel never came" in inbox_mail.part("text/plain")
            assert "My parcel never came" in inbox_mail.part("text/html")

            await customer.close()
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 10
            while await asyncio.to_thread(customer_sockets_live, settings.REDIS_URL, session["customer_id"]):
                assert loop.time() < deadline, "the customer's socket is still counted"
                await asyncio.sleep(0.05)

            # When an agent picks it, writes an internal note, and answers
            agent_side = await online_agent(clients, worker, team)
            picked = await agent_side.request(
                {"type": "conversation.pick", "conversation_id": conversation_id}, "conversation.assigned"
            )
            assert picked["type"] == "conversation.assigned", picked
            note = await agent_side.request(
                {
                    "type": "message.send",
                    "conversation_id": conversation_id,
                    "client_msg_id": "note-1",
                    "body": "VIP customer, check warehouse B",
                    "internal": True,
                },
                "message.ack",
            )
            assert note["type"] == "message.ack", note
            await send_message(agent_side, conversation_id, "It left our warehouse today.")

            # Then the customer, who has left, gets the answer by email, without the note
            answer_mail = await asyncio.to_thread(
                smtp_inbox.wait_for, "the answer to the customer", lambda r: "ada@example.com" in r.rcpt_tos
            )
            assert answer_mail.message["Subject"] == "Acme Mail answered your message"
            assert answer_mail.message["Reply-To"] == "team@acme.test"
            for part in (answer_mail.part("text/plain"), answer_mail.part("text/html")):
                assert "It left our warehouse today." in part
                assert "warehouse B" not in part

            # When the agent closes it and the customer, back, asks for the transcript (their email is known)
            closed = await agent_side.request(
                {"type": "conversation.close", "conversation_id": conversation_id}, "conversation.state"
            )
            assert closed["conversation"]["status"] == "closed", closed
            status, body = await asyncio.to_thread(
                http_json,
                "POST",
                f"{worker.url}/api/conversations/{conversation_id}/transcript/email/",
                {},
                token=session["token"],
            )
            assert (status, body) == (202, {"email": "ada@example.com"})

            # Then the transcript arrives: both parts, both sides' lines, never the note
            transcript_mail = await asyncio.to_thread(
                smtp_inbox.wait_for,
                "the transcript",
                lambda r: r.message["Subject"] == "Your conversation with Acme Mail",
            )
            assert transcript_mail.rcpt_tos == ["ada@example.com"]
            assert transcript_mail.message.get_content_type() == "multipart/alternative"
            text = transcript_mail.part("text/plain")
            assert text.index("Ada:\nMy parcel never came") < text.index(
                f"{agent.display_name}:\nIt left our warehouse today."
            )
            html = transcript_mail.part("text/html")
            assert "My parcel never came" in html and "It left our warehouse today." in html
            assert "warehouse B" not in text and "warehouse B" not in html

            # And back in the widget, the customer reads the answer in the conversation (never the note)
            back = await customer_socket(clients, worker, session["token"], name="customer-back")
            messages = (await sync(back, conversation_id, 0))["messages"]
            bodies = [m["body"] for m in messages if m["sender"] != "system"]
            assert bodies == ["My parcel never came", "It left our warehouse today."]

    play(scenario(), timeout=90)
    assert len(smtp_inbox.to("ada@example.com")) == 2
