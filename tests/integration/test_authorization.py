"""Nobody reaches what is not theirs, across real workers: other customers, other teams, bad tokens, origins."""

import hashlib
import hmac

import pytest
from django.test import Client as DjangoClient

from cs_platform.stack import http_json
from customers.models import Customer
from tests.integration.chatflows import (
    customer_socket,
    customer_token,
    expect_message,
    full_transcript,
    make_team,
    new_client_msg_id,
    online_agent,
    open_chat,
    play,
    send_message,
)
from tests.integration.harness import customer_session
from tests.integration.wsclient import Clients, attempt

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def foreign_frames(conversation_id: int) -> list[dict]:
    """Every frame that names a conversation, aimed at someone else's."""
    return [
        {"type": "sync", "conversation_id": conversation_id, "after_seq": 0},
        {
            "type": "message.send",
            "conversation_id": conversation_id,
            "client_msg_id": new_client_msg_id(),
            "body": "Let me in",
        },
        {"type": "typing", "conversation_id": conversation_id, "typing": True},
        {"type": "read", "conversation_id": conversation_id, "seq": 1},
        {"type": "conversation.close", "conversation_id": conversation_id},
    ]


def test_a_customer_cannot_touch_another_customers_conversation(workers):
    worker1, worker2 = workers
    team = make_team(worker1)

    async def scenario():
        async with Clients() as clients:
            # Given customer A's chat, and customer B of the same business line on the same worker
            chat = await open_chat(clients, worker1, worker2, team)
            before = await full_transcript(chat.agent, chat.conversation_id)
            intruder = await customer_socket(clients, worker1, customer_token(worker1, team), name="customer-B")

            # When B aims every conversation frame at A's conversation
            answers = [await intruder.request(frame) for frame in foreign_frames(chat.conversation_id)]

            # Then each gets not_found, as for a conversation that does not exist
            assert [(answer["type"], answer["code"]) for answer in answers] == [("error", "not_found")] * 5
            # ... A's conversation is unchanged and still works
            assert await full_transcript(chat.agent, chat.conversation_id) == before
            sent = await send_message(chat.customer, chat.conversation_id, "Still here")
            await expect_message(chat.agent, sent["id"])
            # ... and B was never told anything about it
            await intruder.request({"type": "sync", "conversation_id": chat.conversation_id, "after_seq": 0})
            leaked = [frame for frame in intruder.received if frame.get("type") not in ("hello", "error")]
            assert leaked == []

    play(scenario())


def test_an_agent_of_another_business_line_cannot_reach_the_conversation(workers):
    worker1, worker2 = workers
    team = make_team(worker1)
    other_team = make_team(worker1)

    async def scenario():
        async with Clients() as clients:
            # Given a chat of one team, and an online agent of another business line
            chat = await open_chat(clients, worker1, worker2, team)
            before = await full_transcript(chat.agent, chat.conversation_id)
            outsider = await online_agent(clients, worker2, other_team, name="other-agent")

            # When the outsider aims every conversation frame at it
            answers = [await outsider.request(frame) for frame in foreign_frames(chat.conversation_id)]

            # Then each gets not_found, and nothing changed
            assert [(answer["type"], answer["code"]) for answer in answers] == [("error", "not_found")] * 5
            assert await full_transcript(chat.agent, chat.conversation_id) == before
            return chat.conversation_id

    conversation_id = play(scenario())
    # ... nor can they read it over REST
    status, body = http_json(
        "GET", f"{worker1.url}/api/conversations/{conversation_id}/messages/", token=other_team.token
    )
    assert (status, body["code"]) == (404, "not_found")  # the same answer as for a conversation that does not exist
    status, _ = http_json("GET", f"{worker1.url}/api/conversations/{conversation_id}/messages/", token=team.token)
    assert status == 200


def test_missing_and_forged_tokens_are_refused(workers):
    worker1, worker2 = workers
    team = make_team(worker1)
    token = customer_token(worker1, team)
    forged_customer = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    forged_agent = "f" * len(team.token) if team.token != "f" * len(team.token) else "e" * len(team.token)
    urls = {
        "customer without token": worker1.ws_url("/ws/customer/"),
        "customer with empty token": worker1.ws_url("/ws/customer/?token="),
        "customer with forged token": worker1.ws_url(f"/ws/customer/?token={forged_customer}"),
        "customer with an agent's token": worker1.ws_url(f"/ws/customer/?token={team.token}"),
        "agent without token": worker2.ws_url("/ws/agent/"),
        "agent with forged token": worker2.ws_url(f"/ws/agent/?token={forged_agent}"),
        "agent with a customer's token": worker2.ws_url(f"/ws/agent/?token={token}"),
    }

    async def scenario():
        return {case: await attempt(url) for case, url in urls.items()}

    # When each socket is opened
    outcomes = play(scenario())

    # Then each is refused at the handshake or closed with a 4xxx code before any greeting
    assert {case: outcome.refused for case, outcome in outcomes.items()} == dict.fromkeys(urls, True), outcomes


def test_a_foreign_origin_is_refused_on_the_customer_socket(workers):
    worker1, _ = workers
    team = make_team(worker1)
    token = customer_token(worker1, team)
    url = worker1.ws_url(f"/ws/customer/?token={token}")

    async def scenario():
        async with Clients() as clients:
            # Given pages served by the product itself, and a site the business line does not list
            await customer_socket(clients, worker1, token, origin=worker1.url)
            # When the widget's socket comes from the foreign site
            return await attempt(url, origin="https://evil.example")

    # Then it is refused
    outcome = play(scenario())
    assert outcome.refused, outcome


def test_an_agent_session_cookie_from_a_foreign_origin_is_refused(workers):
    worker1, _ = workers
    team = make_team(worker1)
    browser = DjangoClient()
    browser.force_login(team.line.agents.get().user)
    cookie = f"sessionid={browser.cookies['sessionid'].value}"

    async def scenario():
        async with Clients() as clients:
            # Given an agent logged in to the workbench: their cookie works from the product's own pages
            own = await clients.connect(
                worker1.ws_url("/ws/agent/"), origin=worker1.url, headers={"Cookie": cookie}, name="workbench"
            )
            hello = await own.expect("hello")
            assert hello["role"] == "agent"
            # When another site's page opens a socket with the same cookie
            return await attempt(
                worker1.ws_url("/ws/agent/"), origin="https://evil.example", headers={"Cookie": cookie}
            )

    # Then it is refused
    outcome = play(scenario())
    assert outcome.refused, outcome


def test_an_agent_session_cookie_from_another_port_or_scheme_of_the_same_host_is_refused(workers):
    worker1, worker2 = workers
    team = make_team(worker1)
    browser = DjangoClient()
    browser.force_login(team.line.agents.get().user)
    cookie = f"sessionid={browser.cookies['sessionid'].value}"
    # Given pages of the same host served elsewhere: the other worker's port, and https on this one's
    origins = [worker2.url, worker1.url.replace("http://", "https://")]

    async def scenario():
        return [
            await attempt(worker1.ws_url("/ws/agent/"), origin=origin, headers={"Cookie": cookie}) for origin in origins
        ]

    # When they open the agent socket with the cookie, then each is closed with 4403 before any greeting
    outcomes = play(scenario())
    assert [(outcome.close_code, outcome.frames[-1]["code"]) for outcome in outcomes] == [
        (4403, "origin_forbidden")
    ] * 2, outcomes


def test_a_wrong_identity_hash_is_refused_and_creates_nothing(workers):
    worker1, _ = workers
    team = make_team(worker1)
    line = team.line
    right = hmac.new(line.identity_secret.encode(), b"user-42", hashlib.sha256).hexdigest()
    url = f"{worker1.url}/api/widget/session/"

    # When a customer claims an external id with a wrong hash
    status, _ = http_json(
        "POST", url, {"business_line": line.key, "channel": "web", "external_id": "user-42", "identity_hash": "0" * 64}
    )

    # Then it is refused and no customer exists for it
    assert status == 403
    assert not Customer.objects.filter(external_id="user-42").exists()

    # When they identify correctly, from two channels
    first = customer_session(worker1, line.key, external_id="user-42", identity_hash=right)
    second = customer_session(worker1, line.key, external_id="user-42", identity_hash=right, channel="app")

    # Then both sessions are the same customer
    assert first["customer_id"] == second["customer_id"]
