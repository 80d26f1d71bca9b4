"""A customer who left a message and comes back finds the agent's answer in the widget: a new socket gets the
answered left message's state unasked even once it was closed (docs/protocol.md, "`hello` and what a new socket
receives unasked"), until the customer rates it or starts another conversation."""

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from chat.events import customer_group, frame_event
from chat.lifecycle import conversation_close, conversation_leave_message, conversation_start
from chat.permissions import Participant
from chat.services import conversation_rate, message_send
from routing.services import assignment_pick
from tests.factories import BusinessLineFactory, CustomerFactory
from tests.routing.helpers import agent_in
from tests.test_consumers import SHOP, customer_socket

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def line(db):
    return BusinessLineFactory(allowed_origins=SHOP)


def answered_and_closed(line, customer):
    """A left message an agent picked, answered and closed while the customer was away."""
    agent = agent_in(line)
    left = conversation_leave_message(customer=customer, channel="web", body="Where is my parcel?")
    assignment_pick(agent_id=agent.id, conversation_id=left.id)
    as_agent = Participant(kind="agent", id=agent.id)
    message_send(participant=as_agent, conversation_id=left.id, client_msg_id="a1", body="It arrives tomorrow.")
    conversation_close(participant=as_agent, conversation_id=left.id)
    return left


async def frames_after_hello(socket, customer_id):
    """Every frame the new socket gets unasked, up to a marker published to the customer's own group after them."""
    marker = {"type": "test.marker"}
    await get_channel_layer().group_send(customer_group(customer_id), frame_event(marker))
    frames = []
    while (frame := await socket.receive_json_from(timeout=5)) != marker:
        frames.append(frame)
    return frames


async def test_the_answered_left_message_is_shown_to_the_customer_who_comes_back(line):
    customer = await database_sync_to_async(CustomerFactory)(business_line=line)
    left = await database_sync_to_async(answered_and_closed)(line, customer)

    socket = await customer_socket(customer)
    frames = await frames_after_hello(socket, customer.id)

    assert [(f["type"], f["conversation"]["id"], f["conversation"]["status"]) for f in frames] == [
        ("conversation.state", left.id, "closed")
    ]
    await socket.send_json_to({"type": "sync", "conversation_id": left.id, "after_seq": 0, "ref": "s"})
    synced = await socket.receive_json_from(timeout=5)
    assert [m["body"] for m in synced["messages"] if m["sender"] != "system"] == [
        "Where is my parcel?",
        "It arrives tomorrow.",
    ]
    await socket.disconnect()


@pytest.mark.parametrize("then", ["rated", "new conversation"])
async def test_once_rated_or_followed_by_another_conversation_it_is_not_shown_again(line, then):
    customer = await database_sync_to_async(CustomerFactory)(business_line=line)
    left = await database_sync_to_async(answered_and_closed)(line, customer)
    if then == "rated":
        await database_sync_to_async(conversation_rate)(customer_id=customer.id, conversation_id=left.id, rating=5)
    else:
        newer, _ = await database_sync_to_async(conversation_start)(customer=customer, channel="web")
        await database_sync_to_async(conversation_close)(
            participant=Participant(kind="customer", id=customer.id), conversation_id=newer.id
        )

    socket = await customer_socket(customer)
    assert await frames_after_hello(socket, customer.id) == []
    await socket.disconnect()


async def test_a_closed_chat_that_was_never_missed_is_not_shown_again(line):
    customer = await database_sync_to_async(CustomerFactory)(business_line=line)

    def chat_and_close():
        agent_in(line)
        conversation, _ = conversation_start(customer=customer, channel="web")
        conversation.refresh_from_db()
        as_agent = Participant(kind="agent", id=conversation.agent_id)
        message_send(participant=as_agent, conversation_id=conversation.id, client_msg_id="a1", body="Hi!")
        conversation_close(participant=as_agent, conversation_id=conversation.id)

    await database_sync_to_async(chat_and_close)()

    socket = await customer_socket(customer)
    assert await frames_after_hello(socket, customer.id) == []
    await socket.disconnect()
