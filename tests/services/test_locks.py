"""The lock order of `chat.locks` (customer -> conversation -> agent, agents by id), checked as locks are taken."""

import pytest
from django.db import transaction

from chat import lifecycle, locks
from chat.locks import LockOrderError
from chat.models import Conversation, ConversationStatus
from chat.services import system_message_append
from tests.factories import AgentFactory, BusinessLineFactory, ConversationFactory, CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def line():
    return BusinessLineFactory()


def test_the_order_customer_conversation_agent_is_allowed(line):
    customer = CustomerFactory(business_line=line)
    conversation = ConversationFactory(customer=customer)
    first, second = AgentFactory(business_lines=[line]), AgentFactory(business_lines=[line])
    with locks.transaction():
        assert locks.customer(customer_id=customer.id) == customer
        assert locks.customer_conversations(customer_id=customer.id) == [conversation]
        assert [agent.id for agent in locks.agents([second.id, first.id])] == sorted([first.id, second.id])


def test_a_conversation_locked_after_an_agent_is_refused(line):
    agent = AgentFactory(business_lines=[line])
    conversation = ConversationFactory(customer__business_line=line)
    with pytest.raises(LockOrderError, match="conversation locked after agent"), locks.transaction():
        locks.agent(agent_id=agent.id)
        locks.conversation_first(Conversation.objects.filter(id=conversation.id))


def test_agents_are_locked_in_ascending_ids_only(line):
    low, high = AgentFactory(business_lines=[line]), AgentFactory(business_lines=[line])
    with pytest.raises(LockOrderError, match=f"agent {low.id} locked after {high.id}"), locks.transaction():
        locks.agent(agent_id=high.id)
        locks.agent(agent_id=low.id)


def test_a_conversation_already_held_is_locked_again_after_agents(line):
    # the sequence statement re-locks the conversation it appends to, as an assignment does after locking agents
    agent = AgentFactory(business_lines=[line])
    conversation = ConversationFactory(customer__business_line=line)
    with locks.transaction():
        held = locks.conversation_first(Conversation.objects.filter(id=conversation.id), skip_locked=True)
        locks.agents([agent.id])
        system_message_append(conversation=held, event="note", body="appended under both locks")
    conversation.refresh_from_db()
    assert conversation.last_seq == 1


def test_a_row_lock_outside_a_locked_transaction_is_refused(line):
    agent = AgentFactory(business_lines=[line])
    with pytest.raises(LockOrderError, match=r"inside chat\.locks\.transaction\(\)"), transaction.atomic():
        locks.agent(agent_id=agent.id)


def test_a_customers_conversations_are_locked_under_the_customers_lock_only(line):
    conversation = ConversationFactory(customer__business_line=line)
    with pytest.raises(LockOrderError, match="under the customer's lock"), locks.transaction():
        locks.customer_conversations(customer_id=conversation.customer_id)


def test_a_status_change_needs_the_rows_locked_by_its_caller(line):
    agent = AgentFactory(business_lines=[line])
    conversation = ConversationFactory(customer__business_line=line)
    with pytest.raises(LockOrderError, match=f"agent {agent.id} must be locked"), locks.transaction():
        held = locks.conversation_first(Conversation.objects.filter(id=conversation.id))
        lifecycle.conversation_assign(conversation=held, agent=agent)
    conversation.refresh_from_db()
    assert (conversation.status, conversation.agent_id) == (ConversationStatus.WAITING, None)


@pytest.mark.django_db(transaction=True)
def test_what_runs_on_commit_starts_with_no_locks_held(line):
    # an on-commit callback (a Celery task run inline) locks afresh: the committed transaction holds nothing
    agent = AgentFactory(business_lines=[line])
    conversation = ConversationFactory(customer__business_line=line)
    locked_on_commit = []

    def lock_the_conversation():
        with locks.transaction():
            locked_on_commit.append(locks.conversation_first(Conversation.objects.filter(id=conversation.id)))

    with locks.transaction():
        locks.agent(agent_id=agent.id)
        transaction.on_commit(lock_the_conversation)
    assert locked_on_commit == [conversation]
