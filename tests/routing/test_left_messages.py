"""Left messages: one unanswered left message per customer; agents hear of each left message once."""

import pytest

from chat.events import agent_group
from chat.lifecycle import conversation_close, conversation_leave_message, conversation_start
from chat.models import CloseReason, Conversation, ConversationStatus, Message, Sender
from chat.permissions import Participant
from routing.services import assignment_pick, routing_sweep
from tests.factories import BusinessLineFactory, CustomerFactory
from tests.routing.helpers import agent_in, system_events, waiting_customer

pytestmark = pytest.mark.django_db


@pytest.fixture
def line():
    return BusinessLineFactory(wait_timeout=60)


def customer_bodies(conversation: Conversation) -> list[str]:
    return list(conversation.messages.filter(sender=Sender.CUSTOMER).order_by("seq").values_list("body", flat=True))


def missed_told(frames) -> list[int]:
    return [frame["conversation_id"] for frame in frames if frame["type"] == "conversation.missed"]


def test_a_second_left_message_joins_the_unanswered_one_and_agents_hear_once(
    line, listen, django_capture_on_commit_callbacks
):
    # given an offline agent of the line, and a customer who left a message nobody answered yet
    agent = agent_in(line, presence_status="offline", connected=False)
    agent_side = listen(agent_group(agent.id))
    customer = CustomerFactory(business_line=line)
    with django_capture_on_commit_callbacks(execute=True):
        first = conversation_leave_message(customer=customer, channel="web", body="Call me back")

    # when they leave more messages
    with django_capture_on_commit_callbacks(execute=True):
        again = [
            conversation_leave_message(customer=customer, channel="web", body=f"Still waiting ({n})") for n in range(3)
        ]

    # then each joins the first: one missed conversation, one thanks, and agents were told of it once
    assert {conversation.id for conversation in again} == {first.id}
    assert Conversation.objects.filter(customer=customer).count() == 1
    first.refresh_from_db()
    assert (first.status, first.close_reason) == (ConversationStatus.MISSED, CloseReason.OFFLINE)
    assert customer_bodies(first) == ["Call me back", "Still waiting (0)", "Still waiting (1)", "Still waiting (2)"]
    assert system_events(first) == ["left_message"]
    assert missed_told(agent_side.frames_until_marker()) == [first.id]


def test_once_an_agent_took_the_left_message_the_next_one_is_new(line, listen, django_capture_on_commit_callbacks):
    agent = agent_in(line)
    agent_side = listen(agent_group(agent.id))
    customer = CustomerFactory(business_line=line)
    first = conversation_leave_message(customer=customer, channel="web", body="Call me back")
    assignment_pick(agent_id=agent.id, conversation_id=first.id)
    conversation_close(participant=Participant(kind="agent", id=agent.id), conversation_id=first.id)
    agent_side.frames_until_marker()

    with django_capture_on_commit_callbacks(execute=True):
        second = conversation_leave_message(customer=customer, channel="web", body="One more thing")

    assert second.id != first.id
    assert customer_bodies(second) == ["One more thing"]
    assert missed_told(agent_side.frames_until_marker()) == [second.id]


def test_a_message_left_after_the_wait_timeout_takes_that_conversation_then_later_ones_join_it(
    line, listen, django_capture_on_commit_callbacks
):
    # given a chat that waited past the timeout: agents were told it was missed
    agent = agent_in(line, presence_status="offline", connected=False)
    timed_out = waiting_customer(line, ago=61)
    with django_capture_on_commit_callbacks(execute=True):
        routing_sweep()
    agent_side = listen(agent_group(agent.id))

    # when the customer leaves a message, then another
    with django_capture_on_commit_callbacks(execute=True):
        left = conversation_leave_message(customer=timed_out.customer, channel="web", body="Please call me")
    with django_capture_on_commit_callbacks(execute=True):
        again = conversation_leave_message(customer=timed_out.customer, channel="web", body="Or email me")

    # then both are in the timed-out conversation; agents heard of the left message once
    assert left.id == again.id == timed_out.id
    assert customer_bodies(left) == ["Please call me", "Or email me"]
    assert system_events(left) == ["greeting", "missed", "left_message"]
    assert missed_told(agent_side.frames_until_marker()) == [timed_out.id]
    assert Message.objects.filter(conversation__customer=timed_out.customer, event="left_message").count() == 1


def test_a_left_message_joins_the_unanswered_one_even_after_a_chat_in_between(line):
    # given an unanswered left message, then a chat the customer started and closed while waiting
    customer = CustomerFactory(business_line=line)
    first = conversation_leave_message(customer=customer, channel="web", body="Call me back")
    started, _ = conversation_start(customer=customer, channel="web")
    conversation_close(participant=Participant(kind="customer", id=customer.id), conversation_id=started.id)

    # when they leave another message
    again = conversation_leave_message(customer=customer, channel="web", body="Still there?")

    # then it joins the unanswered one
    assert again.id == first.id
    assert customer_bodies(first) == ["Call me back", "Still there?"]
