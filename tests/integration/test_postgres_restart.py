"""PostgreSQL restarted mid-chat: two Daphne workers, a Celery worker and beat keep running (docs/operations.md,
"PostgreSQL restarted").

The stack runs on a PostgreSQL of the test's own (never the machine's shared one), which the test stops as after a
crash (an immediate shutdown: every connection cut, recovered from its log at the next start) and starts again on
the same port with the same data. Redis is the test's own too and stays up.

What the product guarantees, as checked here: while PostgreSQL is down, `/healthz` is 503 and a `message.send`
is answered with an `error` frame on a socket that stays open; once it is back, with no process restarted,
`/healthz` is 200, sends on the same sockets are acknowledged again (each worker's connection pool reconnects),
the Celery worker routes new chats, and PostgreSQL holds every acknowledged message exactly once.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest

from cs_platform.stack import BASE_DIR, Stack
from tests.conftest import RedisServer
from tests.integration.chatflows import customer_socket, full_transcript, new_client_msg_id, play
from tests.integration.faults import (
    RECOVERY_TIMEOUT,
    PostgresServer,
    healthz,
    pushed,
    throwaway_postgres,
    wait_for,
)
from tests.integration.harness import customer_session, stack_running, worker_env
from tests.integration.routing_live import (
    REPLY_TIMEOUT,
    ROUTING_ENV,
    agent_online,
    assigned_ids,
    latest_is,
    say,
    start,
    until,
)
from tests.integration.wsclient import Client, Clients

pytestmark = [pytest.mark.integration]

REDIS_PREFIX = f"cspgrestart{os.getpid()}"
LINE = "pg-restart"


@pytest.fixture
def postgres() -> Iterator[PostgresServer]:
    with throwaway_postgres() as server:
        yield server


@pytest.fixture
def stack(
    postgres: PostgresServer, throwaway_redis: RedisServer, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Stack]:
    """The stack on the test's own PostgreSQL (migrated here) and Redis, with the live routing tests' one-second
    heartbeat and sweep; their logs join a failure report."""
    env = worker_env(database="", redis_url=throwaway_redis.url, redis_prefix=REDIS_PREFIX)
    env.update(ROUTING_ENV, DATABASE_URL=postgres.create_database("faults", env))
    with stack_running(env, tmp_path) as stack:
        request.node.process_log_offsets = dict.fromkeys(stack.processes, 0)
        yield stack


def make_line(stack: Stack) -> dict[str, Any]:
    """A business line with one agent of capacity 5 and the agent's API token (bench/django_setup.py)."""
    spec = {"lines": [{"key": LINE, "agents": 1, "capacity": 5}]}
    done = subprocess.run(
        [sys.executable, "-m", "bench.django_setup", "create", json.dumps(spec)],
        cwd=BASE_DIR,
        env=stack.web[0].env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout)["lines"][LINE]["agents"][0]


def stored_messages(url: str, conversation_id: int) -> list[tuple[int, int, str, str | None]]:
    """(id, seq, body, client_msg_id) of every message of a conversation, read from PostgreSQL directly."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT id, seq, body, client_msg_id FROM chat_message WHERE conversation_id = %s ORDER BY seq",
            [conversation_id],
        ).fetchall()


async def refused_send(client: Client, conversation_id: int, body: str) -> dict[str, Any]:
    """`message.send` while the database is away: the answer, which must be an `error` frame."""
    frame = {
        "type": "message.send",
        "conversation_id": conversation_id,
        "client_msg_id": new_client_msg_id(),
        "body": body,
    }
    reply = await client.request(frame, "message.ack", REPLY_TIMEOUT)
    return {"frame": frame, "reply": reply}


def test_a_postgres_restart_mid_chat_answers_errors_meanwhile_and_loses_no_acknowledged_message(stack, postgres):
    web1, web2 = stack.web
    member = SimpleNamespace(**make_line(stack))
    observed: dict[str, float] = {}

    async def customer(clients: Clients, name: str) -> Client:
        session = await asyncio.to_thread(customer_session, web1, LINE)
        return await customer_socket(clients, web1, session["token"], name=name)

    async def scenario() -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        async with Clients() as clients:
            # Given an online agent on worker 2 and Alice on worker 1 chatting live
            agent = await agent_online(clients, web2, member, name="agent")
            alice = await customer(clients, "alice")
            chat = (await start(alice))["id"]
            await until(
                "Alice's chat assigned",
                lambda: latest_is(alice, chat, status="active") and chat in assigned_ids(agent),
                [alice, agent],
            )
            acked = [await say(alice, chat, "Hello, my parcel is late."), await say(agent, chat, "Let me look.")]
            await until(
                "both messages pushed", lambda: pushed(agent, acked[0]) and pushed(alice, acked[1]), [alice, agent]
            )

            # When PostgreSQL stops as after a crash
            postgres.stop(signal.SIGQUIT)
            down = loop.time()

            # Then both workers say so
            for status, body in await asyncio.gather(healthz(web1), healthz(web2)):
                assert status == 503 and body["database"].startswith("down") and body["redis"] == "ok", body
            # ... a message sent now is answered with an error frame, on either side, and the sockets stay open
            refused = await asyncio.gather(
                refused_send(alice, chat, "Are you there?"), refused_send(agent, chat, "Yes, one moment.")
            )
            for attempt in refused:
                assert attempt["reply"]["type"] == "error", attempt
                assert attempt["reply"]["code"] == "internal_error", attempt
            for client in (alice, agent):
                assert (await client.request({"type": "ping"}, "pong"))["type"] == "pong"
            observed["outage"] = loop.time() - down

            # When PostgreSQL starts again on the same port with the same data
            postgres.start()
            up = loop.time()

            # Then both workers are healthy again, with no process restarted
            async def both_healthy() -> bool:
                return all([(await healthz(worker))[0] == 200 for worker in (web1, web2)])

            observed["healthz 200"] = await wait_for("both workers healthy", both_healthy)
            # ... and the same sockets send again: the refused messages, sent once more as a client does, and new
            # ones are acknowledged and pushed to the other side
            for client, attempt in zip((alice, agent), refused):
                ack = await client.request(attempt["frame"], "message.ack", REPLY_TIMEOUT)
                assert ack["type"] == "message.ack", ack
                acked.append(ack["message"])
            acked += [await say(alice, chat, "Any news?"), await say(agent, chat, "It ships tomorrow.")]
            await until(
                "every message pushed to the other side",
                lambda: all(pushed(agent if m["sender"] == "customer" else alice, m) for m in acked),
                [alice, agent],
                timeout=RECOVERY_TIMEOUT,
            )
            observed["sends acked again"] = loop.time() - up
            # ... and the Celery worker routes a new chat to the agent
            bob = await customer(clients, "bob")
            bob_chat = (await start(bob))["id"]
            await until(
                "Bob's chat assigned, both told",
                lambda: latest_is(bob, bob_chat, status="active") and bob_chat in assigned_ids(agent),
                [bob, agent],
                timeout=RECOVERY_TIMEOUT,
            )
            observed["new chat assigned"] = loop.time() - up
            return {"acked": acked, "chat": chat, "transcript": await full_transcript(alice, chat)}

    result = play(scenario(), timeout=150)
    print("\nPostgreSQL restart, seconds: " + ", ".join(f"{name} {s:.2f}" for name, s in observed.items()))

    # Then no acknowledged message is lost or doubled: PostgreSQL holds each once, as acknowledged
    stored = stored_messages(web1.env["DATABASE_URL"], result["chat"])
    assert [seq for _id, seq, _body, _cmid in stored] == list(range(1, len(stored) + 1))
    by_id = {message_id: (seq, body, cmid) for message_id, seq, body, cmid in stored}
    for message in result["acked"]:
        assert by_id[message["id"]] == (message["seq"], message["body"], message["client_msg_id"])
    written = Counter(cmid for _id, _seq, _body, cmid in stored if cmid)
    assert written == Counter(message["client_msg_id"] for message in result["acked"])
    # ... `sync` agrees
    assert [message["id"] for message in result["transcript"]] == [message_id for message_id, *_ in stored]
    for process in stack.processes:
        assert process.alive, f"{process.name} exited"
