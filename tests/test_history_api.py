"""REST history for agents: scoped to their business lines, paginated by `seq`, with a fixed number of queries."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from agents.services import api_token_issue
from chat.models import CloseReason, ConversationStatus, Message, Sender
from customers.services import customer_token_issue
from tests.factories import (
    AgentFactory,
    BusinessLineFactory,
    ConversationFactory,
    CustomerFactory,
    MessageFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def conversations_url(customer_id: int) -> str:
    return f"/api/customers/{customer_id}/conversations/"


def messages_url(conversation_id: int) -> str:
    return f"/api/conversations/{conversation_id}/messages/"


@pytest.fixture
def line():
    return BusinessLineFactory()


@pytest.fixture
def agent(line):
    return AgentFactory(business_lines=[line])


def token_client(agent) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {api_token_issue(user=agent.user)}")
    return api


def closed_conversation(customer, *, channel: str, days_ago: int, agent=None):
    started = timezone.now() - timedelta(days=days_ago)
    return ConversationFactory(
        customer=customer,
        channel=channel,
        status=ConversationStatus.CLOSED,
        agent=agent,
        started_at=started,
        closed_at=started + timedelta(minutes=5),
        close_reason=CloseReason.AGENT,
    )


def transcript(conversation, count: int) -> list[Message]:
    return [
        MessageFactory(
            conversation=conversation, seq=seq, body=f"m{seq}", sender=Sender.CUSTOMER if seq % 2 else Sender.SYSTEM
        )
        for seq in range(1, count + 1)
    ]


class TestCustomerConversations:
    def test_every_conversation_on_every_channel_newest_first(self, line, agent):
        customer = CustomerFactory(business_line=line, external_id="u-1")
        web = closed_conversation(customer, channel="web", days_ago=3)
        app = closed_conversation(customer, channel="app", days_ago=2, agent=agent)
        h5 = ConversationFactory(customer=customer, channel="h5", status=ConversationStatus.ACTIVE, agent=agent)
        CustomerFactory(business_line=line)

        response = token_client(agent).get(conversations_url(customer.pk))

        assert response.status_code == 200
        body = response.json()
        assert body["customer"]["id"] == customer.pk
        assert body["customer"]["external_id"] == "u-1"
        assert [c["id"] for c in body["conversations"]] == [h5.pk, app.pk, web.pk]
        assert [c["channel"] for c in body["conversations"]] == ["h5", "app", "web"]
        assert body["conversations"][1] == {
            "id": app.pk,
            "status": "closed",
            "channel": "app",
            "business_line": line.key,
            "customer": {"id": customer.pk, "name": customer.name, "email": customer.email},
            "agent": {"id": agent.pk, "name": agent.display_name},
            "queue_position": None,
            "last_seq": app.last_seq,
            "started_at": app.started_at.isoformat(),
            "closed_at": app.closed_at.isoformat(),
            "close_reason": "agent",
        }
        assert body["conversations"][0]["agent"] == {"id": agent.pk, "name": agent.display_name}

    def test_a_customer_without_conversations_has_an_empty_history(self, line, agent):
        customer = CustomerFactory(business_line=line)

        response = token_client(agent).get(conversations_url(customer.pk))

        assert response.status_code == 200
        assert response.json()["conversations"] == []

    def test_an_agent_of_another_business_line_gets_404_like_a_missing_id(self, line):
        customer = CustomerFactory(business_line=line)
        closed_conversation(customer, channel="web", days_ago=1)
        outsider = AgentFactory(business_lines=[BusinessLineFactory()])

        foreign = token_client(outsider).get(conversations_url(customer.pk))
        missing = token_client(outsider).get(conversations_url(customer.pk + 1000))

        assert (foreign.status_code, missing.status_code) == (404, 404)
        assert foreign.json() == missing.json()
        assert foreign.json()["code"] == "not_found"

    def test_an_agent_of_several_business_lines_reads_each(self, line, agent):
        second = BusinessLineFactory()
        agent.business_lines.add(second)
        customer = CustomerFactory(business_line=second)

        response = token_client(agent).get(conversations_url(customer.pk))

        assert response.status_code == 200

    def test_query_count_does_not_grow_with_the_history(self, line, agent, django_assert_max_num_queries):
        customer = CustomerFactory(business_line=line)
        for days_ago in range(1, 11):
            closed_conversation(customer, channel="web", days_ago=days_ago, agent=AgentFactory(business_lines=[line]))
        api = token_client(agent)

        with django_assert_max_num_queries(4):
            response = api.get(conversations_url(customer.pk))

        assert len(response.json()["conversations"]) == 10


class TestConversationMessages:
    def test_messages_in_seq_order_with_their_payloads(self, line, agent):
        conversation = closed_conversation(CustomerFactory(business_line=line), channel="web", days_ago=1)
        messages = transcript(conversation, 3)

        response = token_client(agent).get(messages_url(conversation.pk))

        assert response.status_code == 200
        assert response.json() == {
            "conversation_id": conversation.pk,
            "messages": [
                {
                    "id": m.pk,
                    "conversation_id": conversation.pk,
                    "seq": seq,
                    "sender": sender,
                    "body": f"m{seq}",
                    "client_msg_id": m.client_msg_id,
                    "created_at": m.created_at.isoformat(),
                    "attachments": [],
                }
                for m, seq, sender in zip(messages, (1, 2, 3), ("customer", "system", "customer"))
            ],
            "has_more": False,
            "next_after_seq": 3,
        }

    def test_paginated_by_seq(self, line, agent):
        conversation = closed_conversation(CustomerFactory(business_line=line), channel="web", days_ago=1)
        transcript(conversation, 5)
        api = token_client(agent)

        pages = []
        after_seq, has_more = 0, True
        while has_more:
            page = api.get(messages_url(conversation.pk), {"after_seq": after_seq, "limit": 2}).json()
            pages.append([m["seq"] for m in page["messages"]])
            after_seq, has_more = page["next_after_seq"], page["has_more"]
        tail = api.get(messages_url(conversation.pk), {"after_seq": 5}).json()

        assert pages == [[1, 2], [3, 4], [5]]
        assert (tail["messages"], tail["has_more"], tail["next_after_seq"]) == ([], False, 5)

    def test_default_limit_is_100(self, line, agent):
        conversation = closed_conversation(CustomerFactory(business_line=line), channel="web", days_ago=1)
        Message.objects.bulk_create(
            Message(conversation=conversation, seq=seq, sender=Sender.CUSTOMER, body="x") for seq in range(1, 102)
        )

        page = token_client(agent).get(messages_url(conversation.pk)).json()

        assert [m["seq"] for m in page["messages"]] == list(range(1, 101))
        assert (page["has_more"], page["next_after_seq"]) == (True, 100)

    def test_agents_see_internal_notes(self, line, agent):
        conversation = ConversationFactory(
            customer=CustomerFactory(business_line=line), status=ConversationStatus.ACTIVE, agent=agent
        )
        MessageFactory(
            conversation=conversation, seq=1, sender=Sender.AGENT, agent=agent, body="note", is_internal_note=True
        )

        page = token_client(agent).get(messages_url(conversation.pk)).json()

        assert page["messages"][0]["internal"] is True
        assert page["messages"][0]["agent_id"] == agent.pk

    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"limit": 1001}, "limit"),
            ({"limit": 0}, "limit"),
            ({"after_seq": -1}, "after_seq"),
            ({"after_seq": "abc"}, "after_seq"),
        ],
    )
    def test_bad_paging_parameters_are_400(self, line, agent, params, field):
        conversation = closed_conversation(CustomerFactory(business_line=line), channel="web", days_ago=1)

        response = token_client(agent).get(messages_url(conversation.pk), params)

        assert response.status_code == 400
        assert response.json()["code"] == "invalid_request"
        assert field in response.json()["errors"]

    def test_an_agent_of_another_business_line_gets_404_like_a_missing_id(self, line):
        conversation = closed_conversation(CustomerFactory(business_line=line), channel="web", days_ago=1)
        transcript(conversation, 2)
        outsider = AgentFactory(business_lines=[BusinessLineFactory()])

        foreign = token_client(outsider).get(messages_url(conversation.pk))
        missing = token_client(outsider).get(messages_url(conversation.pk + 1000))

        assert (foreign.status_code, missing.status_code) == (404, 404)
        assert foreign.json() == missing.json()

    def test_query_count_does_not_grow_with_the_page(self, line, agent, django_assert_max_num_queries):
        conversation = closed_conversation(CustomerFactory(business_line=line), channel="web", days_ago=1)
        others = AgentFactory.create_batch(3, business_lines=[line])
        Message.objects.bulk_create(
            Message(conversation=conversation, seq=seq, sender=Sender.AGENT, agent=others[seq % 3], body="x")
            for seq in range(1, 201)
        )
        api = token_client(agent)

        # The token, the agent, the conversation, the page, and the page's attachments in one query.
        with django_assert_max_num_queries(5):
            response = api.get(messages_url(conversation.pk), {"limit": 200})

        assert len(response.json()["messages"]) == 200


class TestWhoMayRead:
    @pytest.fixture
    def conversation(self, line):
        conversation = closed_conversation(CustomerFactory(business_line=line), channel="web", days_ago=1)
        transcript(conversation, 1)
        return conversation

    @pytest.fixture(params=["conversations", "messages"])
    def url(self, request, conversation):
        if request.param == "conversations":
            return conversations_url(conversation.customer_id)
        return messages_url(conversation.pk)

    def test_no_credentials_is_401(self, url):
        response = APIClient().get(url)

        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"

    def test_a_customer_token_is_not_an_agent_token(self, url, conversation):
        token = customer_token_issue(customer=conversation.customer)

        by_header = APIClient().get(url, headers={"Authorization": f"Token {token}"})
        by_query = APIClient().get(url, {"token": token})

        assert (by_header.status_code, by_query.status_code) == (401, 401)
        assert by_header.json()["code"] == "authentication_failed"

    def test_a_forged_agent_token_is_401(self, url):
        response = APIClient().get(url, headers={"Authorization": "Token " + "f" * 40})

        assert response.status_code == 401

    def test_an_agent_by_query_token_reads(self, url, agent):
        token = api_token_issue(user=agent.user)

        assert APIClient().get(url, {"token": token}).status_code == 200

    def test_an_agent_by_session_cookie_reads(self, url, agent):
        api = APIClient()
        api.force_login(agent.user)

        assert api.get(url).status_code == 200

    def test_a_superuser_who_is_not_an_agent_is_403(self, url):
        api = APIClient()
        api.force_login(UserFactory(is_staff=True, is_superuser=True))

        response = api.get(url)

        assert response.status_code == 403
        assert response.json()["code"] == "not_an_agent"

    def test_a_non_agent_token_is_403(self, url):
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {api_token_issue(user=UserFactory())}")

        assert api.get(url).status_code == 403


def test_an_agent_lists_the_conversations_they_closed_since_a_time(line, agent):
    # Given, for Alice, a conversation closed today, one closed two days ago, one still open, and a colleague's
    customer = CustomerFactory(business_line=line, name="Ada")
    today = closed_conversation(customer, channel="web", days_ago=0, agent=agent)
    closed_conversation(CustomerFactory(business_line=line), channel="web", days_ago=2, agent=agent)
    ConversationFactory(customer=CustomerFactory(business_line=line), status=ConversationStatus.ACTIVE, agent=agent)
    colleague = AgentFactory(business_lines=[line])
    closed_conversation(CustomerFactory(business_line=line), channel="app", days_ago=0, agent=colleague)

    # When she asks for what she closed since yesterday
    since = (timezone.now() - timedelta(days=1)).isoformat()
    response = token_client(agent).get("/api/conversations/closed/", {"since": since})

    # Then she gets today's own closed one only
    assert response.status_code == 200
    assert [(c["id"], c["status"], c["customer"]["name"]) for c in response.json()["conversations"]] == [
        (today.id, "closed", "Ada")
    ]


def test_the_closed_list_needs_a_valid_since(agent):
    api = token_client(agent)
    assert api.get("/api/conversations/closed/").json()["code"] == "invalid_request"
    assert api.get("/api/conversations/closed/", {"since": "yesterday"}).status_code == 400
