"""Issue 9's findings 1, 2 and the socket cap against real Daphne workers, whose own limits (1 MiB frames, UTF-8
on the way out) WebsocketCommunicator does not have: hostile frames, a chat over 1 MiB, sockets per token."""

from __future__ import annotations

import asyncio
import json

import pytest
import redis
from django.conf import settings
from django.db import connection

from tests.factories import long_chat_write
from tests.integration.chatflows import (
    agent_socket,
    customer_socket,
    customer_token,
    expect_message,
    full_transcript,
    make_team,
    open_chat,
    play,
    send_message,
)
from tests.integration.conftest import REDIS_PREFIX
from tests.integration.wsclient import Clients, attempt

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

DAPHNE_MAX_MESSAGE_BYTES = 1024 * 1024


def hostile_frames(conversation_id: int) -> list[tuple[str, str]]:
    """Raw frames (as a client could write them) and the error code each must get."""
    deep = "[" * 1100 + "]" * 1100
    return [
        (deep, "invalid_json"),
        ('{"type":"ping","ref":"\\ud800"}', "invalid_field"),
        (
            json.dumps(
                {"type": "message.send", "conversation_id": conversation_id, "client_msg_id": "nul", "body": "a\x00b"}
            ),
            "invalid_field",
        ),
        (
            json.dumps(
                {
                    "type": "message.send",
                    "conversation_id": conversation_id,
                    "client_msg_id": "lone",
                    "body": "lone \ud83d",
                }
            ),
            "invalid_field",
        ),
        ('{"type":"sync","conversation_id":1' + "0" * 400 + ',"after_seq":0}', "invalid_field"),
        (f'{{"type":"sync","conversation_id":{conversation_id},"after_seq":NaN}}', "invalid_field"),
        ('{"type":"sync","conversation_id":9223372036854775808,"after_seq":0}', "invalid_field"),
    ]


def presence_entries(agent_id: int) -> int:
    """The agent's live sockets as the workers registered them (agents/presence.py's key, the workers' prefix)."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        return client.zcard(f"{REDIS_PREFIX}:presence:agent:{agent_id}")
    finally:
        client.close()


def write_long_chat(*, customer_id: int, conversation_id: int) -> None:
    try:
        long_chat_write(customer_id=customer_id, conversation_id=conversation_id, count=70)
    finally:
        connection.close()


def test_hostile_frames_get_errors_and_the_agent_stays_online_and_answering(workers):
    worker1, worker2 = workers
    team = make_team(worker1)

    async def scenario():
        async with Clients() as clients:
            # Given an agent chatting with a customer
            chat = await open_chat(clients, worker1, worker2, team)
            # When the agent's socket receives each hostile frame
            for raw, code in hostile_frames(chat.conversation_id):
                await chat.agent.send_raw(raw)
                error = await chat.agent.expect("error")
                # Then each gets its error code, and the socket is still open
                assert error["code"] == code, (raw[:80], error)
            # ... the agent is still online, and the chat still works both ways
            assert await asyncio.to_thread(presence_entries, team.agent_id) == 1
            sent = await send_message(chat.agent, chat.conversation_id, "Still with you")
            await expect_message(chat.customer, sent["id"])
            # ... and nothing hostile was stored
            bodies = [message["body"] for message in await full_transcript(chat.agent, chat.conversation_id)]
            assert "Still with you" in bodies and not [body for body in bodies if "\x00" in body]

    play(scenario())


def test_an_agent_whose_chat_is_over_one_frame_connects_and_gets_it_all(workers):
    worker1, worker2 = workers
    team = make_team(worker1)

    async def scenario():
        async with Clients() as clients:
            # Given an agent's chat of 70 messages of 4,000 emoji (over 1 MiB)
            chat = await open_chat(clients, worker1, worker2, team)
            customer_id = chat.assigned["conversation"]["customer"]["id"]
            await asyncio.to_thread(write_long_chat, customer_id=customer_id, conversation_id=chat.conversation_id)
            # When the agent connects again
            await chat.agent.close()
            agent = await agent_socket(clients, worker2, team.token, name="agent-again")
            # Then conversation.assigned fits Daphne's limit, says has_more, and sync pages bring the rest
            assigned = await agent.expect("conversation.assigned", timeout=15)
            assert len(json.dumps(assigned, ensure_ascii=False).encode()) < DAPHNE_MAX_MESSAGE_BYTES
            assert assigned["has_more"] is True
            messages = await full_transcript(agent, chat.conversation_id)
            assert [message["seq"] for message in messages] == list(range(1, len(messages) + 1))
            assert len([m for m in messages if m["sender"] == "customer"]) == 70

    play(scenario(), timeout=120)


def test_one_customer_token_cannot_open_more_than_its_cap_of_sockets(workers):
    worker1, worker2 = workers
    team = make_team(worker1)
    token = customer_token(worker1, team)

    async def scenario():
        async with Clients() as clients:
            # Given ten sockets of one customer, on both workers
            for n in range(10):
                await customer_socket(clients, (worker1, worker2)[n % 2], token, name=f"tab-{n}")
            # When the same token opens five more, on either worker
            refusals = await asyncio.gather(
                *(attempt((worker1, worker2)[n % 2].ws_url(f"/ws/customer/?token={token}")) for n in range(5))
            )
            # Then each is refused with 4429 and too_many_connections
            assert [r.close_code for r in refusals] == [4429] * 5
            assert all(r.frames[0]["code"] == "too_many_connections" for r in refusals)

    play(scenario())
