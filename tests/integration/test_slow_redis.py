"""A slow Redis: every byte between the product and Redis held back (docs/operations.md, "A slow Redis").

Every process of the stack (two Daphne workers, a Celery worker and beat) reaches the test's own Redis through a
proxy that delays each chunk of bytes, both ways, by a delay the test changes while the chat runs. With 200 ms each
way every Redis round trip takes 400 ms: the channel layer's publishes and subscriptions, presence, the routing
flags and the Celery broker.

What the product guarantees, as checked here: the chat goes on, slower: every message is acknowledged and pushed
to the other side (later), nothing is lost or doubled, routing still assigns new chats, and `/healthz` stays 200
(each Redis round trip of its check has 2 seconds); slower than that, `/healthz` says Redis is down. Once Redis is
fast again, so is the chat, with nothing left behind.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from chat.models import Message
from cs_platform.stack import Stack, WebWorker
from tests.conftest import RedisServer
from tests.integration.chatflows import customer_socket, customer_token, full_transcript, play
from tests.integration.faults import RECOVERY_TIMEOUT, LatencyProxy, healthz, pushed
from tests.integration.harness import database_url, stack_running, worker_env
from tests.integration.routing_live import (
    ROUTING_ENV,
    agent_online,
    assigned_ids,
    latest_is,
    make_line,
    say,
    start,
    until,
)
from tests.integration.wsclient import Client, Clients

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

REDIS_PREFIX = f"csslowredis{os.getpid()}"
DELAY_SECONDS = 0.2
TOO_SLOW_SECONDS = 1.5
MESSAGES_PER_SIDE = 3


@pytest.fixture
def slow_redis(throwaway_redis: RedisServer) -> Iterator[LatencyProxy]:
    proxy = LatencyProxy(target_port=throwaway_redis.port)
    proxy.start()
    yield proxy
    proxy.stop()


@pytest.fixture
def stack(
    django_db_setup: None, slow_redis: LatencyProxy, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Stack]:
    """The stack on the test database, reaching the test's Redis only through the latency proxy."""
    env = worker_env(
        database=database_url(connection.settings_dict), redis_url=slow_redis.url, redis_prefix=REDIS_PREFIX
    )
    env.update(ROUTING_ENV)
    with stack_running(env, tmp_path) as stack:
        request.node.process_log_offsets = dict.fromkeys(stack.processes, 0)
        yield stack


def test_a_slow_redis_slows_the_chat_down_but_loses_nothing_and_routing_still_assigns(stack, slow_redis):
    web1, web2 = stack.web
    _, (member,) = make_line(web1, agents=1, capacity=5)
    observed: dict[str, float] = {}

    async def customer(clients: Clients, worker: WebWorker, name: str) -> Client:
        token = await asyncio.to_thread(customer_token, worker, member)
        return await customer_socket(clients, worker, token, name=name)

    async def exchange(alice: Client, agent: Client, chat: int, label: str) -> list[dict[str, Any]]:
        """Both sides write in turn; every message is acked, then pushed to the other side."""
        acked = []
        for n in range(MESSAGES_PER_SIDE):
            acked.append(await say(alice, chat, f"{label}: customer {n}"))
            acked.append(await say(agent, chat, f"{label}: agent {n}"))
        await until(
            f"{label}: every message pushed to the other side",
            lambda: all(pushed(agent if m["sender"] == "customer" else alice, m) for m in acked),
            [alice, agent],
            timeout=RECOVERY_TIMEOUT,
        )
        return acked

    async def scenario() -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        async with Clients() as clients:
            # Given an online agent on worker 2 and Alice on worker 1 chatting live, Redis fast
            agent = await agent_online(clients, web2, member, name="agent")
            alice = await customer(clients, web1, "alice")
            chat = (await start(alice))["id"]
            await until(
                "Alice's chat assigned",
                lambda: latest_is(alice, chat, status="active") and chat in assigned_ids(agent),
                [alice, agent],
            )
            acked = await exchange(alice, agent, chat, "fast")

            # When every byte to and from Redis is held back 200 ms each way
            slow_redis.delay = DELAY_SECONDS

            # Then /healthz stays 200 on both workers: its PING answers well within its 2 seconds
            for worker in (web1, web2):
                began = loop.time()
                status, body = await healthz(worker)
                observed[f"healthz {worker.name}"] = loop.time() - began
                assert status == 200 and body["redis"] == "ok", body
            # ... the chat goes on: every message acknowledged and pushed to the other side, across the workers
            began = loop.time()
            acked += await exchange(alice, agent, chat, "slow")
            observed["6 messages, slow"] = loop.time() - began
            # ... typing still reaches the other side
            await alice.send({"type": "typing", "conversation_id": chat, "typing": True})
            await until(
                "typing relayed",
                lambda: any(frame["conversation_id"] == chat for frame in agent.frames("typing")),
                [agent],
                timeout=RECOVERY_TIMEOUT,
            )
            # ... and a new customer, Bob, on the other worker, gets a socket and a chat that routing assigns
            began = loop.time()
            bob = await customer(clients, web2, "bob")
            bob_chat = (await start(bob))["id"]
            await until(
                "Bob's chat assigned, both told",
                lambda: latest_is(bob, bob_chat, status="active") and bob_chat in assigned_ids(agent),
                [bob, agent],
                timeout=RECOVERY_TIMEOUT,
            )
            observed["Bob's socket to assignment, slow"] = loop.time() - began
            acked.append(await say(bob, bob_chat, "Hello from Bob"))
            await until(
                "Bob's message pushed to the agent", lambda: pushed(agent, acked[-1]), [agent], timeout=RECOVERY_TIMEOUT
            )

            # When Redis gets slower than /healthz waits for (1.5 s each way: every round trip over its 2 s)
            slow_redis.delay = TOO_SLOW_SECONDS

            # Then /healthz says Redis is down, on both workers
            for worker in (web1, web2):
                status, body = await healthz(worker)
                assert status == 503 and body["redis"] == "down: TimeoutError", body

            # When Redis is fast again
            slow_redis.delay = 0.0

            # Then both workers are healthy, and the chat is fast again, with nothing left behind
            for worker in (web1, web2):
                status, body = await healthz(worker)
                assert status == 200, body
            acked += await exchange(alice, agent, chat, "fast again")
            return {
                "acked": acked,
                "chats": (chat, bob_chat),
                "received": {"alice": alice, "agent": agent},
                "transcripts": {
                    chat: await full_transcript(alice, chat),
                    bob_chat: await full_transcript(bob, bob_chat),
                },
            }

    result = play(scenario(), timeout=150)
    print(
        "\nSlow Redis (200 ms each way), seconds: "
        + ", ".join(f"{name} {seconds:.2f}" for name, seconds in observed.items())
    )

    # Then no acknowledged message is lost or doubled: PostgreSQL and `sync` hold each once, as acknowledged
    for chat, transcript in result["transcripts"].items():
        assert [message["seq"] for message in transcript] == list(range(1, len(transcript) + 1))
        mine = [message for message in result["acked"] if message["conversation_id"] == chat]
        written = Counter(message["client_msg_id"] for message in transcript if message["client_msg_id"])
        assert written == Counter(message["client_msg_id"] for message in mine)
        for message in mine:
            assert transcript[message["seq"] - 1] == message
        stored = Message.objects.filter(conversation_id=chat).exclude(client_msg_id=None)
        assert sorted(stored.values_list("id", flat=True)) == sorted(message["id"] for message in mine)
    # ... and each side was pushed every message once
    alice, agent = result["received"]["alice"], result["received"]["agent"]
    chat = result["chats"][0]
    for client, other in ((alice, "agent"), (agent, "customer")):
        pushes = Counter(
            frame["message"]["id"]
            for frame in client.frames("message.new")
            if frame["message"]["conversation_id"] == chat and frame["message"]["sender"] == other
        )
        expected = [
            message["id"]
            for message in result["acked"]
            if message["conversation_id"] == chat and message["sender"] == other
        ]
        assert pushes == Counter(expected)
    for process in stack.processes:
        assert process.alive, f"{process.name} exited"
