"""Live chat across two real Daphne workers: the customer on one, the agent on the other (docs/protocol.md)."""

import asyncio
import time

import pytest
import redis
from django.conf import settings

from cs_platform.stack import WebWorker
from tests.integration.chatflows import (
    agent_socket,
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
    start_conversation,
    sync,
    until_active,
)
from tests.integration.wsclient import Clients, messages_seen

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_messages_reach_every_socket_of_the_conversation_on_both_workers(workers):
    worker1, worker2 = workers
    team = make_team(worker1)

    async def scenario():
        async with Clients() as clients:
            # Given a chat with the customer on worker 1, the agent on worker 2
            chat = await open_chat(clients, worker1, worker2, team)
            # ... and a second socket of the same customer on worker 2, which is told about its open conversation
            second = await customer_socket(clients, worker2, chat.customer_token, name="customer-tab-2")
            state = await second.expect("conversation.state")
            assert state["conversation"]["id"] == chat.conversation_id
            assert state["conversation"]["status"] == "active"

            # When the customer writes
            from_customer = await send_message(chat.customer, chat.conversation_id, "Hello, my parcel is late")

            # Then every socket of the conversation, on both workers, gets the same stored message
            for client in (chat.customer, second, chat.agent):
                assert await expect_message(client, from_customer["id"]) == from_customer
            assert from_customer["sender"] == "customer"
            assert from_customer["body"] == "Hello, my parcel is late"
            assert from_customer["conversation_id"] == chat.conversation_id

            # When the agent answers
            from_agent = await send_message(chat.agent, chat.conversation_id, "Let me check that for you")

            # Then both customer sockets get it, right after the customer's message
            for client in (chat.customer, second, chat.agent):
                assert await expect_message(client, from_agent["id"]) == from_agent
            assert from_agent["sender"] == "agent"
            assert from_agent["seq"] == from_customer["seq"] + 1

    play(scenario())


def test_a_retried_client_msg_id_is_acked_with_the_original_and_stored_once(workers):
    worker1, worker2 = workers
    team = make_team(worker1)

    async def scenario():
        async with Clients() as clients:
            # Given a chat and a message the customer sent
            chat = await open_chat(clients, worker1, worker2, team)
            client_msg_id = new_client_msg_id()
            original = await send_message(chat.customer, chat.conversation_id, "Once", client_msg_id=client_msg_id)

            # When the customer retries it, on the same socket and from another socket on the other worker
            again = await send_message(chat.customer, chat.conversation_id, "Once", client_msg_id=client_msg_id)
            elsewhere = await customer_socket(clients, worker2, chat.customer_token, name="customer-retry")
            from_elsewhere = await send_message(elsewhere, chat.conversation_id, "Once", client_msg_id=client_msg_id)
            following = await send_message(chat.customer, chat.conversation_id, "Next")

            # Then each retry is acked with the original message, and nothing new was stored
            assert again == original
            assert from_elsewhere == original
            assert following["seq"] == original["seq"] + 1
            transcript = await full_transcript(chat.agent, chat.conversation_id)
            assert [message["client_msg_id"] for message in transcript].count(client_msg_id) == 1
            assert [message["seq"] for message in transcript] == list(range(1, len(transcript) + 1))

    play(scenario())


def test_messages_written_while_waiting_arrive_with_the_assignment(workers):
    worker1, worker2 = workers
    team = make_team(worker1)

    async def scenario():
        async with Clients() as clients:
            # Given a connected agent who is not online yet, and a waiting customer who writes twice
            agent = await agent_socket(clients, worker2, team.token)
            customer = await customer_socket(clients, worker1, customer_token(worker1, team))
            conversation = await start_conversation(customer)
            assert conversation["status"] == "waiting"
            assert conversation["agent"] is None
            first = await send_message(customer, conversation["id"], "Is anyone there?")
            second = await send_message(customer, conversation["id"], "I need help with my order")

            # When the agent comes online
            await agent.send({"type": "presence.set", "status": "online"})

            # Then the assignment carries both messages, in order
            assigned = await agent.expect(
                "conversation.assigned", lambda frame: frame["conversation"]["id"] == conversation["id"]
            )
            assert assigned["conversation"]["status"] == "active"
            assert assigned["conversation"]["agent"]["id"] == team.agent_id
            carried = [message for message in assigned["messages"] if message["sender"] == "customer"]
            assert carried == [first, second]
            seqs = [message["seq"] for message in assigned["messages"]]
            assert seqs == sorted(seqs)
            # ... the customer learns who answers
            active = await until_active(customer, conversation)
            assert active["agent"]["id"] == team.agent_id
            # ... and the agent had not received those messages before the assignment
            waiting_ids = {first["id"], second["id"]}
            assert not [frame for frame in agent.frames("message.new") if frame["message"]["id"] in waiting_ids]

    play(scenario())


def test_typing_and_read_receipts_reach_the_other_side_with_their_sender(workers):
    worker1, worker2 = workers
    team = make_team(worker1)

    async def scenario():
        async with Clients() as clients:
            # Given a chat with one message from each side
            chat = await open_chat(clients, worker1, worker2, team)
            conversation_id = chat.conversation_id
            from_customer = await send_message(chat.customer, conversation_id, "Hi")
            from_agent = await send_message(chat.agent, conversation_id, "Hello")

            # When the customer types and the agent types back
            await chat.customer.send({"type": "typing", "conversation_id": conversation_id, "typing": True})
            await chat.agent.send({"type": "typing", "conversation_id": conversation_id, "typing": False})

            # Then each side sees the other's typing state, with its sender
            seen_by_agent = await chat.agent.expect("typing", lambda frame: frame["sender"] == "customer")
            assert seen_by_agent == {**seen_by_agent, "conversation_id": conversation_id, "typing": True}
            seen_by_customer = await chat.customer.expect("typing", lambda frame: frame["sender"] == "agent")
            assert seen_by_customer == {**seen_by_customer, "conversation_id": conversation_id, "typing": False}

            # When each side reads the other's message
            await chat.agent.send({"type": "read", "conversation_id": conversation_id, "seq": from_customer["seq"]})
            await chat.customer.send({"type": "read", "conversation_id": conversation_id, "seq": from_agent["seq"]})

            # Then each side gets the other's receipt
            receipt = await chat.customer.expect("read", lambda frame: frame["sender"] == "agent")
            assert receipt == {**receipt, "conversation_id": conversation_id, "seq": from_customer["seq"]}
            receipt = await chat.agent.expect("read", lambda frame: frame["sender"] == "customer")
            assert receipt == {**receipt, "conversation_id": conversation_id, "seq": from_agent["seq"]}

    play(scenario())


@pytest.mark.parametrize("closer", ["customer", "agent"])
def test_closing_tells_every_socket_of_the_conversation(workers, closer):
    worker1, worker2 = workers
    team = make_team(worker1)

    async def scenario():
        async with Clients() as clients:
            # Given a chat, with a second customer socket on the agent's worker
            chat = await open_chat(clients, worker1, worker2, team)
            second = await customer_socket(clients, worker2, chat.customer_token, name="customer-tab-2")
            await second.expect("conversation.state")
            sockets = {"customer": chat.customer, "agent": chat.agent}

            # When one side closes it
            await sockets[closer].send({"type": "conversation.close", "conversation_id": chat.conversation_id})

            # Then every socket gets the closed conversation
            for client in (chat.customer, second, chat.agent):
                await client.expect(
                    "conversation.state",
                    lambda frame: (
                        frame["conversation"]["id"] == chat.conversation_id
                        and frame["conversation"]["status"] == "closed"
                    ),
                )
            # ... the transcript ends with the closing, as a system message
            transcript = await full_transcript(chat.agent, chat.conversation_id)
            assert transcript[-1]["sender"] == "system"
            # ... and nobody can write in it any more
            refused = await chat.customer.request(
                {
                    "type": "message.send",
                    "conversation_id": chat.conversation_id,
                    "client_msg_id": new_client_msg_id(),
                    "body": "Wait!",
                },
                "message.ack",
            )
            assert refused["type"] == "error" and refused["code"] == "conversation_closed", refused

    play(scenario())


def test_a_customer_resumes_on_the_other_worker_with_exactly_the_missed_messages(workers):
    worker1, worker2 = workers
    team = make_team(worker1)

    async def scenario():
        async with Clients() as clients:
            # Given a chat where the customer saw everything up to their own last message
            chat = await open_chat(clients, worker1, worker2, team)
            last_seen = await send_message(chat.customer, chat.conversation_id, "I'll be right back")
            await expect_message(chat.agent, last_seen["id"])

            # When the customer goes away, the agent writes three messages
            await chat.customer.close()
            missed = [await send_message(chat.agent, chat.conversation_id, f"Update {n}") for n in range(3)]
            assert [message["seq"] for message in missed] == [last_seen["seq"] + n for n in (1, 2, 3)]

            # ... and the customer comes back on the other worker and syncs from what they saw
            back = await customer_socket(clients, worker2, chat.customer_token, name="customer-back")
            state = await back.expect("conversation.state")
            assert state["conversation"]["id"] == chat.conversation_id
            result = await sync(back, chat.conversation_id, last_seen["seq"])

            # Then they get exactly the missed messages, in order
            assert result["messages"] == missed
            assert not result.get("has_more")

    play(scenario())


async def live_sockets_once(worker: WebWorker, agent_id: int, condition, timeout: float = 30.0) -> int:
    """The number of live sockets the workers registered for the agent, once `condition` holds for it."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    key = f"{worker.env['REDIS_PREFIX']}:presence:agent:{agent_id}"
    deadline = time.monotonic() + timeout
    try:
        while not condition(live := client.zcount(key, time.time(), "+inf")):
            assert time.monotonic() < deadline, f"agent {agent_id} still has {live} live sockets"
            await asyncio.sleep(0.05)
        return live
    finally:
        client.close()


@pytest.mark.parametrize("same_worker", [False, True], ids=["new-socket-on-other-worker", "new-socket-on-same-worker"])
def test_an_old_socket_closing_after_a_new_one_opened_leaves_the_agent_assignable(workers, same_worker):
    worker1, worker2 = workers
    team = make_team(worker1)

    async def scenario():
        async with Clients() as clients:
            # Given an online agent who opens a new socket (a reload), then loses the old one
            old = await online_agent(clients, worker1, team, name="agent-old")
            new = await agent_socket(clients, worker1 if same_worker else worker2, team.token, name="agent-new")
            assert await live_sockets_once(worker1, team.agent_id, lambda live: live == 2) == 2
            await old.close()
            # ... and worker 1 has handled the old socket's disconnect: the new socket is still registered
            assert await live_sockets_once(worker1, team.agent_id, lambda live: live != 2) == 1

            # When a customer starts a conversation
            customer = await customer_socket(clients, worker1, customer_token(worker1, team))
            conversation = await start_conversation(customer)

            # Then the agent, still online through the new socket, gets it
            assigned = await new.expect(
                "conversation.assigned", lambda frame: frame["conversation"]["id"] == conversation["id"]
            )
            assert assigned["conversation"]["agent"]["id"] == team.agent_id
            active = await until_active(customer, conversation)
            assert active["agent"]["id"] == team.agent_id

    play(scenario())


def test_every_frame_a_client_was_given_agrees_with_the_transcript(workers):
    worker1, worker2 = workers
    team = make_team(worker1)

    async def scenario():
        async with Clients() as clients:
            # Given a short exchange
            chat = await open_chat(clients, worker1, worker2, team)
            for n in range(3):
                sent = await send_message(chat.customer, chat.conversation_id, f"Question {n}")
                await expect_message(chat.agent, sent["id"])
                sent = await send_message(chat.agent, chat.conversation_id, f"Answer {n}")
                await expect_message(chat.customer, sent["id"])

            # When the transcript is read back
            transcript = await full_transcript(chat.agent, chat.conversation_id)

            # Then it is gap-free from 1, and every message a socket was given is in it unchanged
            assert [message["seq"] for message in transcript] == list(range(1, len(transcript) + 1))
            by_seq = {message["seq"]: message for message in transcript}
            for client in (chat.customer, chat.agent):
                for seq, message in messages_seen(client, chat.conversation_id).items():
                    assert by_seq[seq] == message

    play(scenario())
