"""The permission rule's two forms agree: the SQL every message runs, and the ORM queryset and Python check."""

import pytest

from chat.errors import ChatError
from chat.models import ConversationStatus, Message
from chat.permissions import Participant, conversation_for, require_writable, visible_conversations
from chat.services import message_send
from cs_platform.errors import ErrorCode
from tests.factories import AgentFactory, BusinessLineFactory, ConversationFactory, CustomerFactory

pytestmark = pytest.mark.django_db


def test_conversation_for_sees_exactly_what_visible_conversations_holds():
    sales, support, empty = BusinessLineFactory(), BusinessLineFactory(), BusinessLineFactory()
    agents = [
        AgentFactory(business_lines=[sales]),
        AgentFactory(business_lines=[sales, support]),
        AgentFactory(business_lines=[]),
    ]
    customers = [CustomerFactory(business_line=line) for line in (sales, sales, support, empty)]
    conversations = [
        ConversationFactory(customer=customer, business_line=customer.business_line, status=status)
        for customer in customers
        for status in (ConversationStatus.CLOSED, ConversationStatus.WAITING)
    ]
    # Moved to another line after it started (a transfer): visibility follows the conversation's line.
    moved = ConversationFactory(customer=customers[2], business_line=sales, status=ConversationStatus.CLOSED)
    conversations.append(moved)
    participants = [Participant(kind="agent", id=agent.id) for agent in agents] + [
        Participant(kind="customer", id=customer.id) for customer in customers
    ]
    supervisor = Participant(kind="supervisor", id=1)  # a user id: supervisors see every conversation
    participants.append(supervisor)
    checked = 0
    for participant in participants:
        visible = set(visible_conversations(participant).values_list("id", flat=True))
        for conversation in conversations:
            for for_update in (False, True):
                try:
                    found = conversation_for(participant, conversation.id, for_update=for_update)
                except ChatError as refusal:
                    assert refusal.code == ErrorCode.NOT_FOUND
                    assert conversation.id not in visible, (participant, conversation.id)
                else:
                    assert conversation.id in visible, (participant, conversation.id)
                    assert found.id == conversation.id and found.status == conversation.status
                    assert found.customer_id == conversation.customer_id
                    assert found.business_line_id == conversation.business_line_id
                checked += 1
    assert checked == len(participants) * len(conversations) * 2
    # The cases are not all alike: a two-line agent sees more than a one-line agent, an agent of no line nothing.
    seen = [visible_conversations(participant).count() for participant in participants[:3]]
    assert seen[1] > seen[0] > seen[2] == 0
    assert visible_conversations(supervisor).count() == len(conversations)


def test_conversation_for_loads_every_field():
    conversation = ConversationFactory(status=ConversationStatus.WAITING, priority=3)
    found = conversation_for(Participant(kind="customer", id=conversation.customer_id), conversation.id)
    for field in type(conversation)._meta.concrete_fields:
        assert getattr(found, field.attname) == getattr(conversation, field.attname), field.name


@pytest.mark.parametrize("bad", ["1", 1.0, True, None])
def test_a_conversation_id_that_is_not_an_integer_is_refused(bad):
    with pytest.raises(ChatError) as refusal:
        conversation_for(Participant(kind="customer", id=1), bad)
    assert refusal.value.code == ErrorCode.INVALID_FIELD


def test_message_send_stores_exactly_when_require_writable_allows():
    line = BusinessLineFactory()
    alice, bob = AgentFactory(business_lines=[line]), AgentFactory(business_lines=[line])
    outsider = AgentFactory(business_lines=[BusinessLineFactory()])
    conversations = []
    for status, agent in [
        (ConversationStatus.WAITING, None),
        (ConversationStatus.ACTIVE, alice),
        (ConversationStatus.ACTIVE, bob),
        (ConversationStatus.CLOSED, alice),
        (ConversationStatus.MISSED, None),
    ]:
        customer = CustomerFactory(business_line=line)
        conversations.append(ConversationFactory(customer=customer, business_line=line, status=status, agent=agent))
    participants = [Participant(kind="agent", id=agent.id) for agent in (alice, bob, outsider)] + [
        Participant(kind="customer", id=conversation.customer_id) for conversation in conversations
    ]
    participants.append(Participant(kind="supervisor", id=1))  # writes nowhere: it whispers instead
    outcomes = set()
    for participant in participants:
        for conversation in conversations:
            try:
                expected = conversation_for(participant, conversation.id)
                require_writable(participant, expected)
            except ChatError as refusal:
                expected = refusal.code
            else:
                expected = "stored"
            try:
                message, created = message_send(
                    participant=participant,
                    conversation_id=conversation.id,
                    client_msg_id=f"{participant.kind}-{participant.id}",
                    body="hello",
                )
            except ChatError as refusal:
                outcome = refusal.code
            else:
                assert created
                assert message.seq == Message.objects.filter(conversation=conversation).count()
                outcome = "stored"
            assert outcome == expected, (participant, conversation.status, conversation.agent_id)
            outcomes.add(outcome)
    assert outcomes == {"stored", ErrorCode.NOT_FOUND, ErrorCode.NOT_ASSIGNED, ErrorCode.CONVERSATION_CLOSED}
