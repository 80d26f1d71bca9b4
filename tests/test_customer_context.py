"""`customer.context`: where the customer is and the site's attributes, kept for the agents' contact panel, and
a `customer.updated` push to the agents of the customer's open conversation (never to the customer)."""

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from rest_framework.test import APIClient

from agents.services import api_token_issue
from chat import lifecycle
from cs_platform.asgi import application
from customers.models import Customer
from routing.services import assignment_run
from tests.factories import AgentFactory, BusinessLineFactory, CustomerFactory
from tests.routing.helpers import connect
from tests.test_consumers import customer_path, expect

pytestmark = [pytest.mark.django_db(transaction=True)]

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


async def customer_socket(customer, user_agent=FIREFOX):
    headers = [(b"host", b"testserver"), (b"user-agent", user_agent.encode())]
    socket = WebsocketCommunicator(application, customer_path(customer), headers=headers)
    connected, _ = await socket.connect()
    assert connected
    assert (await socket.receive_json_from())["type"] == "hello"
    return socket


@pytest.fixture
def customer(db):
    return CustomerFactory(business_line=BusinessLineFactory(), attributes={"plan": "Free", "seats": 1})


async def test_the_context_and_attributes_are_kept_with_the_handshakes_user_agent(customer):
    socket = await customer_socket(customer)
    await socket.send_json_to(
        {
            "type": "customer.context",
            "page_url": "https://shop.example/pricing",
            "page_title": "Pricing",
            "referrer": "https://search.example/?q=shop",
            "language": "de-DE",
            "time_zone": "Europe/Berlin",
            "attributes": {"plan": "Pro", "vip": True},
            "ref": "c1",
        }
    )
    assert await socket.receive_json_from() == {"type": "customer.context.saved", "ref": "c1"}
    await socket.disconnect()

    stored = await database_sync_to_async(Customer.objects.get)(id=customer.id)
    assert {k: v for k, v in stored.context.items() if k != "updated_at"} == {
        "page_url": "https://shop.example/pricing",
        "page_title": "Pricing",
        "referrer": "https://search.example/?q=shop",
        "language": "de-DE",
        "time_zone": "Europe/Berlin",
        "user_agent": FIREFOX,
    }
    assert stored.attributes == {"plan": "Pro", "seats": 1, "vip": True}


@pytest.mark.parametrize(
    "fields",
    [
        {"page_url": 7},
        {"language": "x" * 36},
        {"attributes": ["plan"]},
        {"attributes": {"plan": {"nested": 1}}},
        {"attributes": {"": "x"}},
        {"attributes": {f"k{i}": i for i in range(51)}},
        {"page_url": "https://shop.example/", "attributes": {"note": "x" * 501}},
    ],
)
async def test_a_bad_field_is_refused_and_nothing_is_kept(customer, fields):
    socket = await customer_socket(customer)
    await socket.send_json_to({"type": "customer.context", **fields, "ref": "bad"})
    error = await socket.receive_json_from()
    assert (error["type"], error["code"], error["ref"]) == ("error", "invalid_field", "bad")
    await socket.disconnect()
    stored = await database_sync_to_async(Customer.objects.get)(id=customer.id)
    assert (stored.context, stored.attributes) == ({}, {"plan": "Free", "seats": 1})


async def test_the_agent_of_the_open_conversation_is_told_and_reads_it_in_the_history_answer(customer):
    # Given the customer chatting with an agent
    agent = await database_sync_to_async(AgentFactory)(business_lines=[customer.business_line], presence="online")
    await database_sync_to_async(connect)(agent)
    conversation, _created = await database_sync_to_async(lifecycle.conversation_start)(
        customer=customer, channel="web"
    )
    await database_sync_to_async(assignment_run)(business_line_id=customer.business_line_id)
    token = await database_sync_to_async(api_token_issue)(user=agent.user)
    agent_socket = WebsocketCommunicator(application, f"/ws/agent/?token={token}", headers=[(b"host", b"testserver")])
    assert (await agent_socket.connect())[0]
    await expect(agent_socket, "conversation.assigned")
    socket = await customer_socket(customer)

    # When the customer's page says where they are
    await socket.send_json_to({"type": "customer.context", "page_url": "https://shop.example/cart", "ref": "c"})
    await expect(socket, "customer.context.saved")

    # Then the agent is told, and the history answer holds it; the customer got no such push
    assert await expect(agent_socket, "customer.updated") == {"type": "customer.updated", "customer_id": customer.id}
    await socket.send_json_to({"type": "ping", "ref": "after"})
    before_pong = []
    while (frame := await socket.receive_json_from())["type"] != "pong":
        before_pong.append(frame["type"])
    assert "customer.updated" not in before_pong
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    answer = await database_sync_to_async(api.get)(f"/api/customers/{customer.id}/conversations/")
    data = answer.json()["customer"]
    assert (data["context"]["page_url"], data["context"]["user_agent"], data["conversation_count"]) == (
        "https://shop.example/cart",
        FIREFOX,
        1,
    )
    assert [c["id"] for c in answer.json()["conversations"]] == [conversation.id]
    await socket.disconnect()
    await agent_socket.disconnect()
