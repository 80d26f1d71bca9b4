"""Redis restarted mid-chat: two Daphne workers, a Celery worker and beat keep running, and the chat recovers
(docs/operations.md, "Redis restarted").

Redis keeps nothing on disk here, so a restart loses every key (presence, routing flags, the Celery queue and its
unacknowledged tasks) and every pub/sub subscription of the channel layer. The test stops its own Redis in the
middle of a chat whose customer is on worker 1 and agent on worker 2, while the Celery worker is running a routing
task, and starts it again on the same port, empty. Nothing but Redis is restarted.

What the product guarantees, as checked here: while Redis is down, /healthz is 503 and messages are still stored
and acknowledged (not pushed); once it is back, with no process restarted, /healthz is 200, the agent's heartbeat
registers its presence again, every worker subscribes again to the groups of the sockets it holds (so sockets
opened before the restart are pushed live again without reconnecting), the Celery worker reconnects and routing
assigns new chats, and `sync` returns every acknowledged message exactly once.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.db import connection

from chat.models import Conversation, ConversationStatus
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
from tests.integration.harness import transcript as rest_transcript
from tests.integration.routing_live import (
    REPLY_TIMEOUT,
    ROUTING_ENV,
    agent_online,
    assigned_ids,
    in_db,
    latest_is,
    make_line,
    say,
    start,
    until,
)
from tests.integration.wsclient import Client, Clients, messages_seen

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

REDIS_PREFIX = f"csredisrestart{os.getpid()}"


@pytest.fixture
def stack(
    django_db_setup: None, throwaway_redis: RedisServer, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Stack]:
    """Two web workers, a Celery worker and beat on the test database and the test's own Redis, with the one-second
    heartbeat and sweep of the live routing tests; their logs join a failure report."""
    env = worker_env(
        database=database_url(connection.settings_dict), redis_url=throwaway_redis.url, redis_prefix=REDIS_PREFIX
    )
    env.update(ROUTING_ENV)
    with stack_running(env, tmp_path) as stack:
        request.node.process_log_offsets = dict.fromkeys(stack.processes, 0)
        yield stack


def customer_id(client: Client) -> int:
    return client.frames("hello")[0]["customer_id"]


class RedisProbe:
    """Reads the test's Redis as an operator would (`ZCARD`, `PUBSUB NUMSUB`); a refused read is `False`."""

    def __init__(self, server: RedisServer) -> None:
        self.client = redis.Redis(port=server.port, socket_timeout=2, socket_connect_timeout=2)

    async def holds(self, read: Callable[[redis.Redis], bool]) -> bool:
        def run() -> bool:
            try:
                return read(self.client)
            except redis.ConnectionError:
                return False

        return await asyncio.to_thread(run)

    def close(self) -> None:
        self.client.close()


def subscribers(client: redis.Redis, group: str) -> int:
    """How many processes are subscribed to a channel-layer group (docs/architecture.md: each worker once)."""
    channel = f"{REDIS_PREFIX}:layer:__group__{group}"
    return dict(client.pubsub_numsub(channel))[channel.encode()]


def test_a_redis_restart_mid_chat_loses_no_acknowledged_message_and_the_chat_recovers(stack, throwaway_redis):
    web1, web2 = stack.web
    (celery,) = stack.celery
    _, (member,) = make_line(web1, agents=1, capacity=5)
    dsn = database_url(connection.settings_dict)
    observed: dict[str, float] = {}

    async def customer(clients: Clients, worker: WebWorker, name: str) -> tuple[Client, str]:
        token = await asyncio.to_thread(customer_token, worker, member)
        return await customer_socket(clients, worker, token, name=name), token

    async def scenario() -> dict[str, Any]:
        probe = RedisProbe(throwaway_redis)
        lock = AgentRowLock(dsn)
        loop = asyncio.get_running_loop()
        try:
            async with Clients() as clients:
                # Given an online agent on worker 2 and a customer, Alice, on worker 1, chatting live
                agent = await agent_online(clients, web2, member, name="agent")
                alice, alice_token = await customer(clients, web1, "alice")
                chat = (await start(alice))["id"]
                await until(
                    "Alice's chat assigned to the agent",
                    lambda: (
                        latest_is(alice, chat, status="active", agent_id=member.agent_id)
                        and chat in assigned_ids(agent)
                    ),
                    [alice, agent],
                )
                acked = [await say(alice, chat, "Hello, where is my parcel?"), await say(agent, chat, "Let me check.")]
                await until(
                    "both messages pushed across the workers",
                    lambda: pushed(agent, acked[0]) and pushed(alice, acked[1]),
                    [alice, agent],
                )
                # ... two more customers of the line on worker 1, Bob and Carol, not chatting yet
                bob, _ = await customer(clients, web1, "bob")
                carol, carol_token = await customer(clients, web1, "carol")
                # ... both workers healthy
                for worker in (web1, web2):
                    assert (await healthz(worker))[0] == 200
                # ... and the Celery worker in the middle of a routing task: Bob starts a chat, and the task that
                # assigns it waits for the agent's row, which the test holds, so the task is unacknowledged
                await lock.take(member.agent_id)
                bob_chat = (await start(bob))["id"]
                await wait_for("a routing task waiting for the agent's row", lock.someone_waits)
                offsets = stack.log_offsets()

                # When Redis stops
                throwaway_redis.stop()
                down = loop.time()

                # Then /healthz says so on both workers, which keep answering
                for worker in (web1, web2):
                    status, body = await healthz(worker)
                    assert status == 503, body
                    assert body["redis"].startswith("down") and body["database"] == "ok", body
                # ... both sides can still write: each message is stored and acknowledged
                during = [await say(alice, chat, "Are you still there?"), await say(agent, chat, "Yes, one moment.")]
                acked += during
                # ... a chat Carol starts now is stored, but her socket cannot subscribe to it: the start fails
                refused = await carol.request({"type": "conversation.start"}, "conversation.state", REPLY_TIMEOUT)
                assert refused["type"] == "error" and refused["code"] == "internal_error", refused
                carol_chat = await in_db(
                    lambda: (
                        Conversation.objects.get(customer_id=customer_id(carol), status=ConversationStatus.WAITING).id
                    )
                )
                # ... and every process notices: the Celery worker lost the broker, beat cannot send the sweep,
                # the agent's presence heartbeat fails
                await wait_for(
                    "the Celery worker noticed",
                    logged(celery, "Connection to broker lost", since=offsets[celery]),
                )
                await wait_for(
                    "beat noticed",
                    logged(stack.beat, "Connection error", "Couldn't apply scheduled task", since=offsets[stack.beat]),
                )
                await wait_for(
                    "an agent heartbeat failed",
                    logged(web2, f"agent {member.agent_id}: heartbeat failed", since=offsets[web2]),
                )
                observed["outage"] = loop.time() - down

                # When Redis starts again on the same port, empty
                throwaway_redis.start()
                up = loop.time()

                # Then, with no process restarted, both workers are healthy again
                async def both_healthy() -> bool:
                    return all([(await healthz(worker))[0] == 200 for worker in (web1, web2)])

                observed["healthz 200"] = await wait_for("both workers healthy", both_healthy)
                # ... the Celery worker reconnected to the broker instead of exiting (it used to exit here:
                # cs_platform/celery.py)
                reconnected = logged(celery, "Connected to redis", since=offsets[celery])
                gave_up = logged(celery, "Unrecoverable error", since=offsets[celery])
                await wait_for(
                    "the Celery worker reconnected or gave up",
                    lambda: reconnected() or gave_up() or not celery.alive,
                )
                assert celery.alive and not gave_up(), f"the Celery worker gave up:\n{celery.log_text(offsets[celery])}"
                observed["celery reconnected"] = loop.time() - up
                # ... the agent's heartbeat registered its socket again
                presence_key = f"{REDIS_PREFIX}:presence:agent:{member.agent_id}"
                await wait_for(
                    "the agent's presence back", lambda: probe.holds(lambda client: client.zcard(presence_key) > 0)
                )
                observed["presence back"] = loop.time() - up
                # ... and each worker subscribed again to the groups of the sockets it holds: Alice's chat on both,
                # the agent's group on worker 2, Alice's group on worker 1
                await wait_for(
                    "the workers subscribed again",
                    lambda: probe.holds(
                        lambda client: (
                            subscribers(client, f"conv.{chat}") == 2
                            and subscribers(client, f"agent.{member.agent_id}") == 1
                            and subscribers(client, f"customer.{customer_id(alice)}") == 1
                        )
                    ),
                )
                observed["resubscribed"] = loop.time() - up

                # When the routing task that was running when Redis stopped can go on
                await lock.release()
                released = loop.time()

                # Then Bob's chat is assigned to the agent, and both are told live
                await until(
                    "Bob's chat assigned and pushed",
                    lambda: (
                        latest_is(bob, bob_chat, status="active", agent_id=member.agent_id)
                        and bob_chat in assigned_ids(agent)
                    ),
                    [bob, agent],
                    timeout=RECOVERY_TIMEOUT,
                )
                observed["routing task done"] = loop.time() - released

                # When Alice and the agent write again, on the sockets they had before the restart
                after = [await say(alice, chat, "Any news?"), await say(agent, chat, "It ships tomorrow.")]
                acked += after

                # Then each gets the other's message live across the two workers, without reconnecting
                await until(
                    "messages pushed across the workers again",
                    lambda: pushed(agent, after[0]) and pushed(alice, after[1]),
                    [alice, agent],
                )

                # When a new customer, Dave, starts a chat after the restart
                dave, _ = await customer(clients, web2, "dave")
                began = loop.time()
                dave_chat = (await start(dave))["id"]

                # Then it is assigned to the online agent, and both are told live
                await until(
                    "Dave's chat assigned and pushed",
                    lambda: (
                        latest_is(dave, dave_chat, status="active", agent_id=member.agent_id)
                        and dave_chat in assigned_ids(agent)
                    ),
                    [dave, agent],
                    timeout=RECOVERY_TIMEOUT,
                )
                observed["new chat assigned"] = loop.time() - began

                # ... and the chat Carol started while Redis was down is assigned too, the agent told live
                await until(
                    "Carol's chat assigned",
                    lambda: carol_chat in assigned_ids(agent),
                    [agent],
                    timeout=RECOVERY_TIMEOUT,
                )
                note = await say(agent, carol_chat, "Hello Carol, how can I help?")
                # ... and pushed to the socket Carol started it on: its subscription failed while Redis was down,
                # and the assignment's `chat.join` subscribed it again
                await until(
                    "Carol's first socket pushed the agent's message",
                    lambda: pushed(carol, note),
                    [carol],
                    timeout=RECOVERY_TIMEOUT,
                )
                # A repeated start answers with the chat, active, and `sync` fetches the message
                again = await carol.request({"type": "conversation.start"}, "conversation.state", REPLY_TIMEOUT)
                assert again["type"] == "conversation.state", again
                assert again["conversation"]["id"] == carol_chat and again["conversation"]["status"] == "active"
                assert again["conversation"]["last_seq"] >= note["seq"]
                assert note in (await sync(carol, carol_chat, 0))["messages"]
                # ... and a new socket of hers (on the other worker) is told about the chat and pushed live
                carol_again = await customer_socket(clients, web2, carol_token, name="carol, reconnected")
                await until(
                    "Carol's new socket sees her chat active",
                    lambda: latest_is(carol_again, carol_chat, status="active"),
                    [carol_again],
                )
                follow_up = await say(agent, carol_chat, "Are you there?")
                await until(
                    "Carol's new socket pushed the agent's message",
                    lambda: pushed(carol_again, follow_up),
                    [carol_again],
                )

                # When the agent syncs on its socket, and Alice reconnects to the other worker and syncs, each from
                # the last seq up to which it holds everything
                agent_seen = messages_seen(agent, chat)
                for message in (await sync(agent, chat, resume_point(agent_seen)))["messages"]:
                    agent_seen[message["seq"]] = message
                alice_seen = messages_seen(alice, chat)
                alice_again = await customer_socket(clients, web2, alice_token, name="alice, reconnected")
                caught_up = await sync(alice_again, chat, resume_point(alice_seen))
                for message in caught_up["messages"]:
                    alice_seen[message["seq"]] = message
                return {
                    "acked": acked,
                    "chat": chat,
                    "caught_up": caught_up,
                    "seen": [agent_seen, alice_seen],
                    "transcript": await full_transcript(alice_again, chat),
                }
        finally:
            await lock.close()
            probe.close()

    result = play(scenario(), timeout=120)
    print("\nRedis restart, seconds: " + ", ".join(f"{name} {seconds:.2f}" for name, seconds in observed.items()))

    # Then no acknowledged message is lost or doubled: the transcript holds each once, as acknowledged, in seq
    # order from 1 without a gap
    transcript = result["transcript"]
    assert [message["seq"] for message in transcript] == list(range(1, len(transcript) + 1))
    written = Counter(message["client_msg_id"] for message in transcript if message["client_msg_id"])
    assert written == Counter(message["client_msg_id"] for message in result["acked"])
    for message in result["acked"]:
        assert transcript[message["seq"] - 1] == message
    # ... the REST history agrees
    assert rest_transcript(web1, result["chat"], member.token) == transcript
    # ... and what the pushes missed during the outage, `sync` returned: both sides now hold the whole transcript
    assert not result["caught_up"]["has_more"]
    for seen in result["seen"]:
        assert [seen[seq] for seq in sorted(seen)] == transcript
    # ... and no process had to be restarted
    for process in stack.processes:
        assert process.alive, f"{process.name} exited"
