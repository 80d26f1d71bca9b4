"""Labels and customer notes reach every agent of the line live, across two real Daphne workers: the agent who
changes them calls REST on one worker, the colleagues' sockets are on the other (docs/protocol.md,
`conversation.labels` and `customer.notes`)."""

from __future__ import annotations

import asyncio

import pytest

from chat.models import ConversationStatus
from cs_platform.stack import http_json
from desk.models import Label
from tests.factories import AgentFactory, BusinessLineFactory, ConversationFactory, CustomerFactory
from tests.integration.chatflows import agent_socket, play
from tests.integration.harness import agent_login
from tests.integration.wsclient import Clients

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_labels_and_notes_set_on_one_worker_reach_the_lines_agents_on_the_other(workers):
    worker1, worker2 = workers
    shop, billing = BusinessLineFactory(name="Shop"), BusinessLineFactory(name="Billing")
    alice, bob = AgentFactory(business_lines=[shop]), AgentFactory(business_lines=[shop])
    carol = AgentFactory(business_lines=[billing])
    vip = Label.objects.create(business_line=shop, name="vip")
    disputed = Label.objects.create(business_line=billing, name="disputed")
    customer = CustomerFactory(business_line=shop)
    here = ConversationFactory(customer=customer, status=ConversationStatus.WAITING)
    # An earlier conversation of the same customer, transferred to Billing since: Billing's agents see it.
    moved = ConversationFactory(customer=customer, business_line=billing, status=ConversationStatus.CLOSED)
    tokens = {agent.pk: agent_login(worker1, agent.user.username)["token"] for agent in (alice, bob, carol)}

    async def call(method: str, url: str, body: object, token: str) -> object:
        status, answer = await asyncio.to_thread(http_json, method, url, body, token)
        assert status in (200, 201), (status, answer)
        return answer

    async def scenario() -> None:
        async with Clients() as clients:
            # Given Bob (Shop) and Carol (Billing) with their workbench sockets on worker 2
            bob_socket = await agent_socket(clients, worker2, tokens[bob.pk], name="bob")
            carol_socket = await agent_socket(clients, worker2, tokens[carol.pk], name="carol")
            await bob_socket.expect("queue.snapshot")
            await carol_socket.expect("queue.snapshot")

            # When Alice labels the Shop conversation over REST on worker 1
            await call(
                "PUT", f"{worker1.url}/api/conversations/{here.pk}/labels/", {"label_ids": [vip.pk]}, tokens[alice.pk]
            )

            # Then Bob's socket hears the conversation's labels
            labels = await bob_socket.expect("conversation.labels", lambda f: f["conversation_id"] == here.pk)
            assert labels["labels"] == [{"id": vip.pk, "name": "vip"}]

            # When Carol labels the conversation now in Billing: her line hears it, from where it is now
            await call(
                "PUT",
                f"{worker2.url}/api/conversations/{moved.pk}/labels/",
                {"label_ids": [disputed.pk]},
                tokens[carol.pk],
            )
            moved_labels = await carol_socket.expect("conversation.labels", lambda f: f["conversation_id"] == moved.pk)
            assert [label["name"] for label in moved_labels["labels"]] == ["disputed"]

            # When Alice adds a note about the customer, then removes every label
            note = await call(
                "POST", f"{worker1.url}/api/customers/{customer.pk}/notes/", {"body": "Prefers email"}, tokens[alice.pk]
            )
            await call("PUT", f"{worker1.url}/api/conversations/{here.pk}/labels/", {"label_ids": []}, tokens[alice.pk])

            # Then both lines that see the customer hear the notes, and Bob the labels gone
            for socket in (bob_socket, carol_socket):
                notes = await socket.expect("customer.notes", lambda f: f["customer_id"] == customer.pk)
                assert [(n["id"], n["body"], n["author"]["id"]) for n in notes["notes"]] == [
                    (note["id"], "Prefers email", alice.pk)  # type: ignore[index]
                ]
            await bob_socket.expect(
                "conversation.labels", lambda f: f["conversation_id"] == here.pk and f["labels"] == []
            )
            # ... and nobody hears the labels of a conversation their line does not hold
            assert [f["conversation_id"] for f in carol_socket.frames("conversation.labels")] == [moved.pk]
            assert {f["conversation_id"] for f in bob_socket.frames("conversation.labels")} == {here.pk}

    play(scenario())
