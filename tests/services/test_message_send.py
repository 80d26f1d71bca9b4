"""The sequence rule and idempotency of `message_send`, on the real PostgreSQL."""

import threading

import pytest
from django.db import connection

from chat import lifecycle, locks
from chat.errors import ChatError
from chat.lifecycle import conversation_close, conversation_start
from chat.models import ConversationStatus, Message, Sender
from chat.permissions import Participant
from chat.services import message_send
from cs_platform.errors import ErrorCode
from tests.factories import AgentFactory, BusinessLineFactory, ConversationFactory, CustomerFactory

pytestmark = pytest.mark.django_db


def customer_of(conversation):
    return Participant(kind="customer", id=conversation.customer_id)


def test_seq_starts_at_one_and_has_no_gaps():
    conversation = ConversationFactory()
    sent = [
        message_send(
            participant=customer_of(conversation),
            conversation_id=conversation.id,
            client_msg_id=f"c{i}",
            body=f"hello {i}",
        )[0]
        for i in range(5)
    ]
    assert [m.seq for m in sent] == [1, 2, 3, 4, 5]
    conversation.refresh_from_db()
    assert conversation.last_seq == 5
    assert conversation.last_customer_message_at is not None


def test_repeated_client_msg_id_returns_the_original_and_stores_nothing():
    conversation = ConversationFactory()
    first, created_first = message_send(
        participant=customer_of(conversation), conversation_id=conversation.id, client_msg_id="same", body="one"
    )
    again, created_again = message_send(
        participant=customer_of(conversation), conversation_id=conversation.id, client_msg_id="same", body="two"
    )
    assert (created_first, created_again) == (True, False)
    assert again.id == first.id and again.body == "one"
    assert Message.objects.filter(conversation=conversation).count() == 1


def test_another_customers_conversation_is_not_found_and_nothing_is_stored():
    conversation = ConversationFactory()
    stranger = CustomerFactory(business_line=conversation.business_line)
    with pytest.raises(ChatError) as refusal:
        message_send(
            participant=Participant(kind="customer", id=stranger.id),
            conversation_id=conversation.id,
            client_msg_id="x",
            body="hi",
        )
    assert refusal.value.code == ErrorCode.NOT_FOUND
    assert not Message.objects.exists()


def test_agent_writes_only_to_conversations_assigned_to_them():
    line = BusinessLineFactory()
    agent = AgentFactory(business_lines=[line])
    other = AgentFactory(business_lines=[line])
    conversation = ConversationFactory(customer__business_line=line, status=ConversationStatus.ACTIVE, agent=agent)
    with pytest.raises(ChatError) as refusal:
        message_send(
            participant=Participant(kind="agent", id=other.id),
            conversation_id=conversation.id,
            client_msg_id="x",
            body="hi",
        )
    assert refusal.value.code == ErrorCode.NOT_ASSIGNED
    message, _ = message_send(
        participant=Participant(kind="agent", id=agent.id),
        conversation_id=conversation.id,
        client_msg_id="x",
        body="hi",
    )
    assert message.sender == Sender.AGENT and message.agent_id == agent.id
    conversation.refresh_from_db()
    assert conversation.first_agent_reply_at is not None


def test_agent_of_another_business_line_does_not_see_the_conversation():
    conversation = ConversationFactory(status=ConversationStatus.ACTIVE, agent=AgentFactory())
    outsider = AgentFactory(business_lines=[BusinessLineFactory()])
    with pytest.raises(ChatError) as refusal:
        message_send(
            participant=Participant(kind="agent", id=outsider.id),
            conversation_id=conversation.id,
            client_msg_id="x",
            body="hi",
        )
    assert refusal.value.code == ErrorCode.NOT_FOUND


def test_closed_conversation_refuses_new_messages_but_acks_retries():
    conversation = ConversationFactory()
    customer = customer_of(conversation)
    original, _ = message_send(participant=customer, conversation_id=conversation.id, client_msg_id="a", body="hi")
    conversation_close(participant=customer, conversation_id=conversation.id)
    retried, created = message_send(participant=customer, conversation_id=conversation.id, client_msg_id="a", body="hi")
    assert (retried.id, created) == (original.id, False)
    with pytest.raises(ChatError) as refusal:
        message_send(participant=customer, conversation_id=conversation.id, client_msg_id="b", body="late")
    assert refusal.value.code == ErrorCode.CONVERSATION_CLOSED


def test_close_writes_a_system_message_in_the_sequence():
    conversation = ConversationFactory()
    customer = customer_of(conversation)
    message_send(participant=customer, conversation_id=conversation.id, client_msg_id="a", body="hi")
    closed = conversation_close(participant=customer, conversation_id=conversation.id)
    assert closed.status == ConversationStatus.CLOSED and closed.close_reason == "customer"
    last = Message.objects.get(conversation=conversation, seq=2)
    assert (last.sender, last.event) == (Sender.SYSTEM, "closed")


def test_start_returns_the_open_conversation_instead_of_a_second_one():
    customer = CustomerFactory()
    first, created_first = conversation_start(customer=customer, channel="web")
    second, created_second = conversation_start(customer=customer, channel="h5")
    assert first.id == second.id and (created_first, created_second) == (True, False)
    greeting = Message.objects.get(conversation=first)
    assert (greeting.seq, greeting.sender, greeting.event) == (1, Sender.SYSTEM, "greeting")


@pytest.mark.django_db(transaction=True)
def test_concurrent_sends_from_many_threads_keep_seq_unique_and_gap_free():
    conversation = ConversationFactory()
    customer = customer_of(conversation)
    threads, per_thread = 8, 15
    errors = []
    barrier = threading.Barrier(threads)

    def sender(worker: int) -> None:
        try:
            barrier.wait()
            for i in range(per_thread):
                # Every id is sent twice: retries race with first sends.
                for _ in range(2):
                    message_send(
                        participant=customer,
                        conversation_id=conversation.id,
                        client_msg_id=f"w{worker}-{i}",
                        body=f"{worker}/{i}",
                    )
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    workers = [threading.Thread(target=sender, args=(n,)) for n in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()

    assert errors == []
    seqs = list(Message.objects.filter(conversation=conversation).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, threads * per_thread + 1))
    conversation.refresh_from_db()
    assert conversation.last_seq == threads * per_thread


def test_an_agent_never_gets_a_colleagues_message_back_for_a_reused_client_msg_id():
    # Given Alice wrote "a-1" in a conversation that was then transferred to Bob
    line = BusinessLineFactory()
    alice, bob = AgentFactory(business_lines=[line]), AgentFactory(business_lines=[line])
    conversation = ConversationFactory(business_line=line, status=ConversationStatus.ACTIVE, agent=alice)
    mine, _ = message_send(
        participant=Participant(kind="agent", id=alice.id),
        conversation_id=conversation.id,
        client_msg_id="a-1",
        body="Alice here",
    )
    with locks.transaction():
        lifecycle.conversation_transfer_to_agent(
            conversation=locks.conversation_for(Participant(kind="agent", id=alice.id), conversation.id),
            agent=locks.agents([bob.id])[0],
        )
    # When Bob sends under the same client_msg_id
    with pytest.raises(ChatError) as refusal:
        message_send(
            participant=Participant(kind="agent", id=bob.id),
            conversation_id=conversation.id,
            client_msg_id="a-1",
            body="Bob here",
        )
    # Then he is told, is not acked with Alice's message, and nothing is stored
    assert refusal.value.code == ErrorCode.INVALID_FIELD
    written = Message.objects.filter(conversation=conversation, sender=Sender.AGENT)
    assert list(written.values_list("body", flat=True)) == ["Alice here"]
    # and Alice, no longer assigned, retrying her own id still gets her original back
    again, created = message_send(
        participant=Participant(kind="agent", id=alice.id),
        conversation_id=conversation.id,
        client_msg_id="a-1",
        body="Alice here",
    )
    assert (again.id, created) == (mine.id, False)
