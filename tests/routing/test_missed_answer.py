"""Answering from the missed list (`chat.lifecycle.conversation_answer`): an answer takes no slot, closes the
conversation as answered for every agent at once, reaches the customer by email when they have left, and is given
once, by an agent of the line."""

import pytest

from chat.errors import ChatError
from chat.events import line_agents_group
from chat.lifecycle import conversation_answer, conversation_leave_message, conversation_start
from chat.models import CloseReason, Conversation, ConversationStatus, Message, Sender
from cs_platform.errors import ErrorCode
from notifications.services import answer_email
from routing.services import assignment_pick
from tests.factories import BusinessLineFactory, CustomerFactory
from tests.routing.helpers import agent_in, load, system_events, waiting_customer

pytestmark = pytest.mark.django_db


@pytest.fixture
def line():
    return BusinessLineFactory(wait_timeout=60)


def left_message(line, **customer_fields) -> Conversation:
    customer = CustomerFactory(business_line=line, **customer_fields)
    return conversation_leave_message(customer=customer, channel="web", body="Please call me back")


def agent_messages(conversation: Conversation) -> list[str]:
    return list(conversation.messages.filter(sender=Sender.AGENT).order_by("seq").values_list("body", flat=True))


def test_a_full_agent_answers_a_left_message_without_taking_a_slot(
    line, listen, django_capture_on_commit_callbacks, mailoutbox
):
    # Given an agent at capacity, and a customer who left a message with their email and went away
    agent = agent_in(line, capacity=1)
    busy = waiting_customer(line)
    assignment_pick(agent_id=agent.id, conversation_id=busy.id)
    left = left_message(line, email="ada@example.com")
    colleagues = listen(line_agents_group(line.id))

    # When the agent answers it from the missed list
    with django_capture_on_commit_callbacks(execute=True):
        answer = conversation_answer(
            agent_id=agent.id, conversation_id=left.id, client_msg_id="a-1", body="We will call you at nine."
        )

    # Then the answer is stored and the conversation closed as answered, credited to them, their load unchanged
    left.refresh_from_db()
    assert (answer.sender, answer.agent_id, answer.body) == (Sender.AGENT, agent.id, "We will call you at nine.")
    assert (left.status, left.close_reason, left.agent_id) == (
        ConversationStatus.CLOSED,
        CloseReason.ANSWERED,
        agent.id,
    )
    assert system_events(left) == ["left_message", "closed"]
    assert load(agent) == 1
    # ... every agent of the line reads the missed list again at once
    assert {"type": "chat.queue", "business_line_id": line.id} in colleagues.events_until_marker()
    # ... and the customer, away, is emailed the answer (Celery runs eagerly in these tests), once
    assert [(mail.to, "We will call you at nine." in mail.body) for mail in mailoutbox] == [(["ada@example.com"], True)]
    assert answer_email(conversation_id=left.id) is None


def test_a_second_answer_is_refused_and_stores_nothing(line):
    alice, bob = agent_in(line), agent_in(line)
    left = left_message(line)
    first = conversation_answer(agent_id=alice.id, conversation_id=left.id, client_msg_id="a-1", body="Done")
    stored = Message.objects.filter(conversation=left).count()

    with pytest.raises(ChatError) as refused:
        conversation_answer(agent_id=bob.id, conversation_id=left.id, client_msg_id="b-1", body="Me too")
    retried = conversation_answer(agent_id=alice.id, conversation_id=left.id, client_msg_id="a-1", body="Done")

    assert refused.value.code == ErrorCode.ALREADY_ANSWERED
    assert retried.id == first.id  # the same answer again (a retry after a lost reply) changes nothing
    assert Message.objects.filter(conversation=left).count() == stored
    assert agent_messages(left) == ["Done"]


def test_a_picked_conversation_is_already_answered_and_a_waiting_one_is_not_missed(line):
    agent = agent_in(line)
    left = left_message(line)
    assignment_pick(agent_id=agent.id, conversation_id=left.id)
    waiting = waiting_customer(line)

    with pytest.raises(ChatError) as picked:
        conversation_answer(agent_id=agent.id, conversation_id=left.id, client_msg_id="a-1", body="Hello")
    with pytest.raises(ChatError) as not_missed:
        conversation_answer(agent_id=agent.id, conversation_id=waiting.id, client_msg_id="a-2", body="Hello")

    assert (picked.value.code, not_missed.value.code) == (ErrorCode.ALREADY_ANSWERED, ErrorCode.NOT_FOUND)
    assert agent_messages(left) == agent_messages(waiting) == []


def test_only_an_agent_of_the_line_answers(line):
    stranger = agent_in(BusinessLineFactory())
    left = left_message(line)

    with pytest.raises(ChatError) as refused:
        conversation_answer(agent_id=stranger.id, conversation_id=left.id, client_msg_id="s-1", body="Hi")

    left.refresh_from_db()
    assert refused.value.code == ErrorCode.NOT_FOUND
    assert (left.status, left.agent_id) == (ConversationStatus.MISSED, None)
    assert agent_messages(left) == []


def test_an_empty_or_too_long_answer_is_refused(line, settings):
    agent = agent_in(line)
    left = left_message(line)

    with pytest.raises(ChatError) as empty:
        conversation_answer(agent_id=agent.id, conversation_id=left.id, client_msg_id="a-1", body="   ")
    with pytest.raises(ChatError) as too_long:
        conversation_answer(
            agent_id=agent.id,
            conversation_id=left.id,
            client_msg_id="a-2",
            body="x" * (settings.CHAT_MAX_BODY_CHARS + 1),
        )

    assert (empty.value.code, too_long.value.code) == (ErrorCode.INVALID_FIELD, ErrorCode.BODY_TOO_LONG)
    left.refresh_from_db()
    assert left.status == ConversationStatus.MISSED


def test_the_customer_back_in_a_new_chat_is_answered_there(line):
    agent = agent_in(line, capacity=0)
    left = left_message(line)
    conversation_start(customer=left.customer, channel="web")

    with pytest.raises(ChatError) as refused:
        conversation_answer(agent_id=agent.id, conversation_id=left.id, client_msg_id="a-1", body="Hello")

    assert refused.value.code == ErrorCode.AGENT_UNAVAILABLE
