"""The send path's cost in SQL statements: every chat message runs it, so a new query here must be a decision.

`message_send` stores a message in one statement (`chat.services._append`: the permission rule, the row lock,
the next `seq`, the insert and the counters); only a send that stores nothing asks further why. The numbers were
counted on the code as it is and are written out (tests/README.md, "Literal expected values").
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chat.models import ConversationStatus, Message
from chat.permissions import Participant
from chat.services import message_send
from tests.factories import AgentFactory, BusinessLineFactory, ConversationFactory

pytestmark = pytest.mark.django_db


def send_counting_statements(participant, conversation_id, *, client_msg_id="m1", internal=False):
    with CaptureQueriesContext(connection) as queries:
        message, created = message_send(
            participant=participant,
            conversation_id=conversation_id,
            client_msg_id=client_msg_id,
            body="hello",
            internal=internal,
        )
    return message, created, len(queries.captured_queries)


@pytest.fixture
def active():
    line = BusinessLineFactory()
    agent = AgentFactory(business_lines=[line])
    return ConversationFactory(customer__business_line=line, status=ConversationStatus.ACTIVE, agent=agent)


def test_a_customers_message_is_one_statement(active):
    message, created, statements = send_counting_statements(
        Participant(kind="customer", id=active.customer_id), active.id
    )
    assert (created, message.seq, statements) == (True, 1, 1)
    assert Message.objects.filter(conversation=active).count() == 1


def test_an_agents_message_and_an_internal_note_are_one_statement_each(active):
    agent = Participant(kind="agent", id=active.agent_id)
    _, created, statements = send_counting_statements(agent, active.id, client_msg_id="a1")
    _, note_created, note_statements = send_counting_statements(agent, active.id, client_msg_id="n1", internal=True)
    assert (created, statements, note_created, note_statements) == (True, 1, True, 1)


def test_a_message_while_waiting_is_one_statement_and_asks_routing_only_after_commit():
    waiting = ConversationFactory()
    message, created, statements = send_counting_statements(
        Participant(kind="customer", id=waiting.customer_id), waiting.id
    )
    assert (created, message.seq, statements) == (True, 1, 1)


def test_a_retry_costs_one_more_statement_to_find_the_original(active):
    customer = Participant(kind="customer", id=active.customer_id)
    first, _, _ = send_counting_statements(customer, active.id, client_msg_id="again")
    again, created, statements = send_counting_statements(customer, active.id, client_msg_id="again")
    assert (created, again.id, statements) == (False, first.id, 2)
