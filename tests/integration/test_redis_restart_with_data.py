"""Redis killed and restarted with its data mid-chat: two Daphne workers, a Celery worker and beat keep running
(docs/operations.md, "Redis restarted").

Here Redis keeps what it acknowledged (an append-only file written through on every command), as a production
Redis with persistence does; it is killed with SIGKILL while the Celery worker is running routing tasks whose
messages are unacknowledged (`acks_late`), and started again on the same port with the same folder. The test
sets the redelivery delay (`CELERY_VISIBILITY_TIMEOUT`) to a few seconds so that it sees the redelivery.

What the product guarantees, as checked here: the tasks that were running when Redis died are delivered again
and run again harmlessly (nothing assigned twice, no agent over capacity), no acknowledged message is lost
(PostgreSQL holds each once), and the clients catch up with `sync` on the sockets they had.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.db.models import Count

from chat.models import Conversation, ConversationStatus, Message
from cs_platform.stack import Stack, WebWorker
from tests.conftest import RedisServer
from tests.integration.chatflows import customer_socket, customer_token, full_transcript, play, sync
from tests.integration.faults import (
    RECOVERY_TIMEOUT,
    AgentRowLock,
    healthz,
    logged,
    pushed,
    resume_point,
    wait_for,
)
from tests.integration.harness import database_url, stack_running, worker_env
from tests.integration.routing_live import (
    ROUTING_ENV,
    Ledger,
    agent_online,
    latest_is,
    make_line,
    say,
    start,
    until,
)
from tests.integration.wsclient import Client, Clients, messages_seen

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

REDIS_PREFIX = f"csredisdata{os.getpid()}"
REDELIVERY_SECONDS = 3
CAPACITY = 2
TASK_RECEIVED = re.compile(r"Task (routing\.tasks\.\w+)\[([0-9a-f-]+)\] received")
TASK_ENDED = re.compile(r"Task routing\.tasks\.\w+\[([0-9a-f-]+)\] (?:succeeded|raised|failed)")
SWEEP_DONE = re.compile(r"Task routing\.tasks\.sweep\[[0-9a-f-]+\] succeeded")


@pytest.fixture
def stack(
    django_db_setup: None, persistent_redis: RedisServer, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Stack]:
    """The stack on the test database and a Redis that keeps its data, with the live routing tests' one-second
    heartbeat and sweep and a redelivery delay of a few seconds; their logs join a failure report."""
    env = worker_env(
        database=database_url(connection.settings_dict), redis_url=persistent_redis.url, redis_prefix=REDIS_PREFIX
    )
    env.update(ROUTING_ENV, CELERY_VISIBILITY_TIMEOUT=str(REDELIVERY_SECONDS))
    with stack_running(env, tmp_path) as stack:
        request.node.process_log_offsets = dict.fromkeys(stack.processes, 0)
        yield stack


def tasks_in_flight(log: str) -> set[str]:
    """Routing tasks the Celery worker received and had not finished, by id, in a stretch of its log."""
    received = {task_id for _name, task_id in TASK_RECEIVED.findall(log)}
    return received - set(TASK_ENDED.findall(log))


def received_ids(log: str) -> Counter[str]:
    return Counter(task_id for _name, task_id in TASK_RECEIVED.findall(log))


def test_redis_killed_and_restarted_with_its_data_redelivers_tasks_and_assigns_nothing_twice(stack, persistent_redis):
    web1, web2 = stack.web
    (celery,) = stack.celery
    line, team = make_line(web1, agents=2, capacity=CAPACITY)
    observed: dict[str, float] = {}

    async def customer(clients: Clients, worker: WebWorker, name: str) -> Client:
        token = await asyncio.to_thread(customer_token, worker, team[0])
        return await customer_socket(clients, worker, token, name=name)

    async def scenario() -> dict[str, Any]:
        lock = AgentRowLock(database_url(connection.settings_dict))
        loop = asyncio.get_running_loop()
        try:
            async with Clients() as clients:
                # Given two online agents of capacity 2, one on each worker, and Alice on worker 1 chatting live
                agents = {
                    team[0].agent_id: await agent_online(clients, web2, team[0], name="agent1"),
                    team[1].agent_id: await agent_online(clients, web1, team[1], name="agent2"),
                }
                alice = await customer(clients, web1, "alice")
                chat = (await start(alice))["id"]
                await until("Alice's chat assigned", lambda: latest_is(alice, chat, status="active"), [alice])
                agent = agents[alice.frames("conversation.state")[-1]["conversation"]["agent"]["id"]]
                await until(
                    "the agent told",
                    lambda: any(frame["conversation"]["id"] == chat for frame in agent.frames("conversation.assigned")),
                    [agent],
                )
                acked = [await say(alice, chat, "Hello, my order is late."), await say(agent, chat, "Checking.")]
                await until(
                    "both messages pushed", lambda: pushed(agent, acked[0]) and pushed(alice, acked[1]), [alice, agent]
                )
                # ... and the Celery worker in the middle of routing tasks: Bob starts a chat, and the tasks that
                # would assign it wait for an agent's row, which the test holds, so they stay unacknowledged
                bob = await customer(clients, web1, "bob")
                await lock.take(team[0].agent_id)
                bob_chat = (await start(bob))["id"]
                await wait_for("a routing task waiting for the agent's row", lock.someone_waits)
                # (over the whole log of this test's worker: the task that waits may be a sweep received just
                # before the row was taken)
                await wait_for("the Celery worker took a routing task", lambda: tasks_in_flight(celery.log_text()))
                in_flight = tasks_in_flight(celery.log_text())

                # When Redis is killed
                offsets = stack.log_offsets()
                persistent_redis.stop(signal.SIGKILL)
                down = loop.time()

                # Then both workers say so and keep storing and acknowledging messages
                for worker in (web1, web2):
                    status, body = await healthz(worker)
                    assert status == 503 and body["redis"].startswith("down"), body
                during = [await say(alice, chat, "Hello?"), await say(agent, chat, "Still here.")]
                acked += during
                await wait_for(
                    "the Celery worker noticed",
                    logged(celery, "Connection to broker lost", since=offsets[celery]),
                )
                observed["outage"] = loop.time() - down

                # When Redis starts again on the same port with the same data
                persistent_redis.start()
                up = loop.time()

                # Then both workers are healthy again and the Celery worker reconnected
                async def both_healthy() -> bool:
                    return all([(await healthz(worker))[0] == 200 for worker in (web1, web2)])

                observed["healthz 200"] = await wait_for("both workers healthy", both_healthy)
                await wait_for(
                    "the Celery worker reconnected",
                    logged(celery, "Connected to redis", since=offsets[celery]),
                )
                # ... and the tasks it was running when Redis died are delivered to it again
                await wait_for(
                    "a task that was running when Redis died delivered again",
                    lambda: in_flight & set(received_ids(celery.log_text(offsets[celery]))),
                )
                observed["redelivered"] = loop.time() - up

                # When the tasks can go on (both copies of each)
                await lock.release()

                # Then Bob's chat is assigned, once
                await until(
                    "Bob's chat assigned",
                    lambda: latest_is(bob, bob_chat, status="active"),
                    [bob],
                    timeout=RECOVERY_TIMEOUT,
                )
                # ... and new customers on both workers are served up to the agents' capacity and no further
                late = [await customer(clients, worker, f"late{n}") for n, worker in enumerate((web2, web1, web2))]
                late_chats = [(await start(client))["id"] for client in late]
                await until(
                    "every slot filled",
                    lambda: (
                        sum(latest_is(c, chat_id, status="active") for c, chat_id in zip(late, late_chats))
                        == 2 * CAPACITY - 2
                    ),
                    [*late, *agents.values()],
                    timeout=RECOVERY_TIMEOUT,
                )

                # When Alice and the agent write again on their sockets
                after = [await say(alice, chat, "Any news?"), await say(agent, chat, "It ships tomorrow.")]
                acked += after
                await until(
                    "messages pushed live again",
                    lambda: pushed(agent, after[0]) and pushed(alice, after[1]),
                    [alice, agent],
                    timeout=RECOVERY_TIMEOUT,
                )
                # ... and both catch up with `sync` from the last seq up to which they hold everything
                seen = []
                for client in (alice, agent):
                    held = messages_seen(client, chat)
                    caught_up = await sync(client, chat, resume_point(held))
                    assert not caught_up["has_more"]
                    held.update((message["seq"], message) for message in caught_up["messages"])
                    seen.append(held)
                # ... and a late, wrong assignment would have shown by now: a whole sweep ran after the slots were
                # filled, and each agent's socket answered a ping after that
                since = celery.log_size()
                await wait_for("a sweep after the slots were filled", lambda: SWEEP_DONE.search(celery.log_text(since)))
                for client in agents.values():
                    assert (await client.request({"type": "ping"}, "pong"))["type"] == "pong"
                return {
                    "acked": acked,
                    "chat": chat,
                    "seen": seen,
                    "agents": agents,
                    "transcript": await full_transcript(alice, chat),
                    "late_chats": late_chats,
                    "bob_chat": bob_chat,
                }
        finally:
            await lock.close()

    result = play(scenario(), timeout=150)
    print(
        "\nRedis killed and restarted with its data, seconds: "
        + ", ".join(f"{name} {seconds:.2f}" for name, seconds in observed.items())
    )

    # Then no acknowledged message is lost or doubled: PostgreSQL holds each once, as acknowledged
    transcript = result["transcript"]
    assert [message["seq"] for message in transcript] == list(range(1, len(transcript) + 1))
    stored = {
        message.id: (message.seq, message.body, message.client_msg_id)
        for message in Message.objects.filter(conversation_id=result["chat"])
    }
    for message in result["acked"]:
        assert stored[message["id"]] == (message["seq"], message["body"], message["client_msg_id"])
    written = Counter(client_msg_id for _seq, _body, client_msg_id in stored.values() if client_msg_id)
    assert written == Counter(message["client_msg_id"] for message in result["acked"])
    # ... both sides hold the whole transcript after catching up
    for seen in result["seen"]:
        assert [seen[seq] for seq in sorted(seen)] == transcript
    # ... no conversation was assigned twice and no agent went over capacity, as the agents were told
    ledger = Ledger(capacity=CAPACITY)
    for agent_id, client in result["agents"].items():
        for frame in client.received:
            ledger.observe(agent_id, frame)
    assert ledger.violations == []
    assert ledger.assigned_count == 2 * CAPACITY
    # ... and as the database says
    conversations = Conversation.objects.filter(business_line=line)
    assert conversations.filter(status=ConversationStatus.ACTIVE).count() == 2 * CAPACITY
    load = Counter(conversations.filter(status=ConversationStatus.ACTIVE).values_list("agent_id", flat=True))
    assert max(load.values()) <= CAPACITY
    assert (
        not Message.objects.filter(conversation__business_line=line, event="assigned")
        .values("conversation_id")
        .annotate(count=Count("id"))
        .filter(count__gt=1)
        .exists()
    )
    # ... and no process had to be restarted
    for process in stack.processes:
        assert process.alive, f"{process.name} exited"
