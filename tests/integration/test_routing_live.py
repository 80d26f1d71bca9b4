"""Routing live: two Daphne workers, two Celery worker processes and Celery beat, with a one-second sweep and
business lines whose timeouts are a couple of seconds. Customers and agents on both workers speak only the
protocol (docs/routing.md, docs/protocol.md "Routing, the queue and timeouts")."""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator

import pytest
from django.db.models import Count, Q
from websockets.exceptions import ConnectionClosed

from agents.models import Agent
from chat.models import Conversation, Message
from cs_platform.stack import Stack
from tests.integration.chatflows import play
from tests.integration.harness import stack_on_test_database
from tests.integration.routing_live import (
    REPLY_TIMEOUT,
    ROUTING_ENV,
    SHORT,
    Ledger,
    agent_online,
    assigned_ids,
    customer_arrives,
    in_db,
    latest,
    latest_is,
    make_line,
    say,
    start,
    system_events,
    transcript,
    until,
)
from tests.integration.wsclient import Client, Clients, Frame

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

REDIS_PREFIX = f"csroutinglive{os.getpid()}"


@pytest.fixture(scope="module")
def routing_processes(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """This module's own processes, for its short sweep and heartbeat: two web workers, two Celery worker
    processes and beat, on the test database and the shared Redis under a prefix of their own."""
    with stack_on_test_database(
        tmp_path_factory.mktemp("routing_live"), redis_prefix=REDIS_PREFIX, env=ROUTING_ENV, celery=2
    ) as stack:
        yield stack


@pytest.fixture
def live(routing_processes: Stack, request: pytest.FixtureRequest) -> Stack:
    """Every process running at the start of the test (one may have been killed); their logs join a failure."""
    routing_processes.ensure_running()
    request.node.process_log_offsets = routing_processes.log_offsets()
    return routing_processes


def test_queue_positions_are_fifo_and_pushed_as_chats_close(live):
    workers = live.web
    line, team = make_line(live.web[0], agents=3, capacity=1)

    async def scenario():
        async with Clients() as clients:
            # Given three agents of capacity 1 online, spread over both workers
            agents = [
                await agent_online(clients, workers[n % 2], member, name=f"agent{n}") for n, member in enumerate(team)
            ]
            # When six customers, on alternate workers, start one after the other
            customers, conversation_ids = [], []
            for n in range(6):
                customer = await customer_arrives(clients, workers[n % 2], line.key, name=f"customer{n}")
                customers.append(customer)
                conversation_ids.append((await start(customer))["id"])
            everyone = agents + customers

            # Then the first three are active with an agent, and the other three wait at positions 1, 2, 3
            await until(
                "three active, then positions 1, 2, 3",
                lambda: (
                    all(latest_is(c, i, status="active") for c, i in zip(customers[:3], conversation_ids[:3]))
                    and all(
                        latest_is(c, i, status="waiting", queue_position=p)
                        for c, i, p in zip(customers[3:], conversation_ids[3:], (1, 2, 3))
                    )
                ),
                everyone,
            )
            # ... each agent was given one of the first three, the one whose customer sees that agent
            holders = {latest(c, i)["agent"]["id"]: i for c, i in zip(customers[:3], conversation_ids[:3])}
            assert {member.agent_id: assigned_ids(agent) for agent, member in zip(agents, team)} == {
                agent_id: [conversation_id] for agent_id, conversation_id in holders.items()
            }
            waits = [latest(c, i)["estimated_wait_seconds"] for c, i in zip(customers[3:], conversation_ids[3:])]
            assert all(isinstance(wait, int) and wait > 0 for wait in waits), waits
            assert waits == sorted(waits), waits

            # When an agent closes their chat
            closer = next(n for n, agent in enumerate(agents) if assigned_ids(agent) == [conversation_ids[0]])
            closed = await agents[closer].request(
                {"type": "conversation.close", "conversation_id": conversation_ids[0]},
                "conversation.state",
                REPLY_TIMEOUT,
            )
            assert closed["conversation"]["status"] == "closed", closed
            pushed_before = [len(c.frames("conversation.state")) for c in customers[3:]]

            # Then the oldest waiting customer gets that agent, and the others move up to 1 and 2, pushed to them
            await until(
                "the oldest waiting assigned, positions 1, 2",
                lambda: (
                    latest_is(customers[3], conversation_ids[3], status="active", agent_id=team[closer].agent_id)
                    and conversation_ids[3] in assigned_ids(agents[closer])
                    and latest_is(customers[4], conversation_ids[4], status="waiting", queue_position=1)
                    and latest_is(customers[5], conversation_ids[5], status="waiting", queue_position=2)
                ),
                everyone,
            )
            assert assigned_ids(agents[closer]) == [conversation_ids[0], conversation_ids[3]]
            for customer, before in zip(customers[3:], pushed_before):
                pushes = customer.frames("conversation.state")[before:]
                assert pushes and all("ref" not in push for push in pushes), pushes
            assert latest_is(customers[0], conversation_ids[0], status="closed")
            assert [len(assigned_ids(agent)) for n, agent in enumerate(agents) if n != closer] == [1, 1]

    play(scenario(), timeout=90)


def test_a_chat_nobody_takes_in_time_is_missed_and_left_as_a_message_an_agent_picks(live):
    line, (member,) = make_line(live.web[0], agents=1, capacity=1, wait_timeout=SHORT)

    async def scenario():
        async with Clients() as clients:
            # Given an agent of the line connected on worker 2 but not online, and a customer on worker 1
            agent = await agent_online(clients, live.web[1], member, name="agent", online=False)
            customer = await customer_arrives(clients, live.web[0], line.key, name="customer")
            assert customer.frames("hello")[0]["offline"] is True
            conversation = await start(customer)
            assert conversation["status"] == "waiting"

            # When it waits past the line's wait timeout
            await until(
                "missed after the wait timeout",
                lambda: (
                    latest_is(customer, conversation["id"], status="missed")
                    and any(f["conversation_id"] == conversation["id"] for f in agent.frames("conversation.missed"))
                ),
                [customer, agent],
            )

            # Then the customer is offered to leave a message, and the transcript says it was missed
            missed = latest(customer, conversation["id"])
            assert missed["close_reason"] == "wait_timeout" and missed["leave_message"] is True, missed
            assert missed["agent"] is None
            assert system_events(await transcript(customer, conversation["id"])) == ["missed"]

            # When the customer leaves a message with contact details
            missed_before = len(agent.frames("conversation.missed"))
            left = await customer.request(
                {
                    "type": "conversation.leave_message",
                    "body": "Please call me back",
                    "name": "Ada",
                    "email": "ada@example.com",
                },
                "conversation.state",
                REPLY_TIMEOUT,
            )

            # Then it is kept as a missed conversation, and the agent hears of it
            assert left["type"] == "conversation.state", left
            left_message = left["conversation"]
            assert left_message["status"] == "missed" and left_message["leave_message"] is True, left_message
            await until(
                "the agent told of the left message",
                lambda: any(
                    f["conversation_id"] == left_message["id"]
                    for f in agent.frames("conversation.missed")[missed_before:]
                ),
                [agent, customer],
            )

            # When the agent goes online and picks it
            online = await agent.request({"type": "presence.set", "status": "online"}, "presence.state", REPLY_TIMEOUT)
            assert online["type"] == "presence.state", online
            picked = await agent.request(
                {"type": "conversation.pick", "conversation_id": left_message["id"]},
                "conversation.assigned",
                REPLY_TIMEOUT,
            )

            # Then the agent has it with the customer's message, and the customer sees the agent
            assert picked["type"] == "conversation.assigned", picked
            assert picked["conversation"]["status"] == "active"
            assert "Please call me back" in [m["body"] for m in picked["messages"] if m["sender"] == "customer"]
            await until(
                "the customer sees the agent",
                lambda: latest_is(customer, left_message["id"], status="active", agent_id=member.agent_id),
                [agent, customer],
            )
            answer = await say(agent, left_message["id"], "Calling you now")
            await until(
                "the answer reaches the customer",
                lambda: any(f["message"]["id"] == answer["id"] for f in customer.frames("message.new")),
                [agent, customer],
            )

    play(scenario(), timeout=60)


def test_a_silent_agent_is_replaced_by_one_with_room(live):
    line, (silent, spare) = make_line(live.web[0], agents=2, capacity=1, agent_reply_timeout=SHORT)

    async def scenario():
        async with Clients() as clients:
            # Given agent A on worker 1 assigned a customer of worker 2; A then steps `away`, keeping the chat
            # (so it cannot come back to A while B is answering, however busy this machine is)
            agent_a = await agent_online(clients, live.web[0], silent, name="agent-a")
            customer = await customer_arrives(clients, live.web[1], line.key, name="customer")
            conversation_id = (await start(customer))["id"]
            await until("assigned to A", lambda: conversation_id in assigned_ids(agent_a), [agent_a, customer])
            away = await agent_a.request({"type": "presence.set", "status": "away"}, "presence.state", REPLY_TIMEOUT)
            assert away["type"] == "presence.state", away
            # ... and agent B online with room on worker 2
            agent_b = await agent_online(clients, live.web[1], spare, name="agent-b")
            everyone = [agent_a, agent_b, customer]

            # When A stays silent past the line's reply timeout
            await until("B assigned", lambda: conversation_id in assigned_ids(agent_b), everyone)
            answer = await say(agent_b, conversation_id, "Sorry for the wait, I can help")

            # Then A is told it is B's now, the customer sees B, and A can no longer write
            await until(
                "A told, the customer sees B",
                lambda: (
                    latest_is(agent_a, conversation_id, status="active", agent_id=spare.agent_id)
                    and latest_is(customer, conversation_id, status="active", agent_id=spare.agent_id)
                    and any(f["message"]["id"] == answer["id"] for f in customer.frames("message.new"))
                ),
                everyone,
            )
            refused = await agent_a.request(
                {"type": "message.send", "conversation_id": conversation_id, "client_msg_id": "late", "body": "Hi"},
                "message.ack",
                REPLY_TIMEOUT,
            )
            assert refused["type"] == "error" and refused["code"] == "not_assigned", refused
            # ... and the transcript tells the story
            events = system_events(await transcript(customer, conversation_id))
            assert events == ["assigned", "reassigned", "assigned"], events

    play(scenario(), timeout=60)


@pytest.mark.parametrize("how", ["socket closed", "worker killed"])
def test_an_agent_gone_past_the_grace_loses_the_chat_to_an_agent_with_room(live, how):
    line, (leaving, spare) = make_line(live.web[0], agents=2, capacity=1, disconnect_grace=SHORT)

    async def scenario():
        async with Clients() as clients:
            # Given agent A alone on worker 2, in a chat with a customer of worker 1
            agent_a = await agent_online(clients, live.web[1], leaving, name="agent-a")
            customer = await customer_arrives(clients, live.web[0], line.key, name="customer")
            conversation_id = (await start(customer))["id"]
            await until("assigned to A", lambda: conversation_id in assigned_ids(agent_a), [agent_a, customer])
            await say(agent_a, conversation_id, "Hello, looking into it")
            # ... and agent B online with room on worker 1
            agent_b = await agent_online(clients, live.web[0], spare, name="agent-b")

            # When A's socket closes, or A's worker dies without a word, and A stays away past the grace
            if how == "socket closed":
                await agent_a.close()
            else:
                live.web[1].kill()

            # Then the chat goes back to the queue, then to B, and the customer sees B
            await until("B assigned", lambda: conversation_id in assigned_ids(agent_b), [agent_b, customer])
            await until(
                "the customer sees B",
                lambda: latest_is(customer, conversation_id, status="active", agent_id=spare.agent_id),
                [agent_b, customer],
            )
            # ... the transcript says it went back to the queue in between (pushes are at-most-once, so the
            # customer's own view of the short wait is not required)
            events = system_events(await transcript(agent_b, conversation_id))
            assert events == ["assigned", "requeued", "assigned"], events

    try:
        play(scenario(), timeout=60)
    finally:
        live.web[1].ensure_running()


def test_a_silent_customer_after_the_agent_wrote_is_closed_as_idle(live):
    line, (member,) = make_line(live.web[0], agents=1, capacity=1, idle_timeout=SHORT)

    async def scenario():
        async with Clients() as clients:
            # Given a chat in which the agent (worker 1) wrote last to the customer (worker 2)
            agent = await agent_online(clients, live.web[0], member, name="agent")
            customer = await customer_arrives(clients, live.web[1], line.key, name="customer")
            conversation_id = (await start(customer))["id"]
            await until("assigned", lambda: conversation_id in assigned_ids(agent), [agent, customer])
            await say(customer, conversation_id, "My order is late")
            await say(agent, conversation_id, "It ships today; anything else?")

            # When the customer stays silent past the line's idle timeout
            # Then both sides get the conversation closed as idle
            await until(
                "closed as idle on both sides",
                lambda: (
                    latest_is(customer, conversation_id, status="closed", close_reason="idle")
                    and latest_is(agent, conversation_id, status="closed", close_reason="idle")
                ),
                [agent, customer],
            )
            events = system_events(await transcript(customer, conversation_id))
            assert events == ["assigned", "closed"], events

    play(scenario(), timeout=60)


def test_transfer_to_another_agent_and_to_another_lines_queue(live):
    line, (first, second) = make_line(live.web[0], agents=2, capacity=1)
    other_line, (elsewhere,) = make_line(live.web[0], agents=1, capacity=1)

    def active_load(agent_id: int) -> int:
        return Conversation.objects.filter(agent_id=agent_id, status="active").count()

    async def scenario():
        async with Clients() as clients:
            # Given agent A (worker 1) in a chat with a customer (worker 2), agent B of the line online (worker 2)
            # and agent C of another line online (worker 1)
            agent_a = await agent_online(clients, live.web[0], first, name="agent-a")
            customer = await customer_arrives(clients, live.web[1], line.key, name="customer")
            conversation_id = (await start(customer))["id"]
            await until("assigned to A", lambda: conversation_id in assigned_ids(agent_a), [agent_a, customer])
            agent_b = await agent_online(clients, live.web[1], second, name="agent-b")
            agent_c = await agent_online(clients, live.web[0], elsewhere, name="agent-c")
            everyone = [agent_a, agent_b, agent_c, customer]

            # When A transfers it to B
            moved = await agent_a.request(
                {"type": "conversation.transfer", "conversation_id": conversation_id, "to_agent_id": second.agent_id},
                "conversation.state",
                REPLY_TIMEOUT,
            )

            # Then B has it, the customer sees B, and A's load dropped at once
            assert moved["type"] == "conversation.state", moved
            assert moved["conversation"]["agent"]["id"] == second.agent_id, moved
            assert await in_db(lambda: active_load(first.agent_id)) == 0
            await until(
                "B assigned, the customer sees B",
                lambda: (
                    conversation_id in assigned_ids(agent_b)
                    and latest_is(customer, conversation_id, status="active", agent_id=second.agent_id)
                ),
                everyone,
            )

            # When B transfers it to the other line's queue
            queued = await agent_b.request(
                {
                    "type": "conversation.transfer",
                    "conversation_id": conversation_id,
                    "to_business_line": other_line.key,
                },
                "conversation.state",
                REPLY_TIMEOUT,
            )

            # Then that line's agent gets it, and the customer sees the new line and agent
            assert queued["type"] == "conversation.state", queued
            assert queued["conversation"]["business_line"] == other_line.key, queued
            await until(
                "C assigned, the customer sees C",
                lambda: (
                    conversation_id in assigned_ids(agent_c)
                    and latest_is(
                        customer,
                        conversation_id,
                        status="active",
                        agent_id=elsewhere.agent_id,
                        business_line=other_line.key,
                    )
                ),
                everyone,
            )
            assert await in_db(lambda: active_load(second.agent_id)) == 0
            events = system_events(await transcript(agent_c, conversation_id))
            assert events == ["assigned", "transferred", "assigned", "transferred", "assigned"], events

    play(scenario(), timeout=60)


BURST_CUSTOMERS = 40
BURST_AGENTS = 5
BURST_CAPACITY = 3
CHURN_ROUNDS = 3
CHURN_SECONDS = 60


class Burst:
    """The concurrency run's clients, each reading its socket in a task. Agents feed the ledger with every frame
    and, once churning, close each chat they get; customers, while coming back, start a new chat when theirs
    closes, up to CHURN_ROUNDS chats each."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.churning = False
        self.coming_back = False
        self.agents: dict[int, Client] = {}
        self.customers: list[Client] = []
        self.readers: list[asyncio.Task] = []
        self.starts_unanswered: set[str] = set()
        self.agents_seen_by_customer: dict[int, set[int]] = {}

    def follow(self, client: Client, handle: Callable[[Frame], Awaitable[None]]) -> None:
        self.readers.append(asyncio.create_task(self._read(client, handle)))

    async def _read(self, client: Client, handle: Callable[[Frame], Awaitable[None]]) -> None:
        """Hands every frame the client receives, in order, to `handle`, until the socket closes."""
        handled = 0
        while True:
            try:
                await client.receive(timeout=0.5)
            except ConnectionClosed:
                return
            while handled < len(client.received):
                await handle(client.received[handled])
                handled += 1

    def reader_failures(self) -> list[BaseException]:
        return [task.exception() for task in self.readers if task.done() and not task.cancelled() and task.exception()]

    async def stop(self) -> None:
        for task in self.readers:
            task.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)

    def agent_handler(self, agent_id: int, client: Client) -> Callable[[Frame], Awaitable[None]]:
        async def handle(frame: Frame) -> None:
            self.ledger.observe(agent_id, frame)
            if self.churning and frame.get("type") == "conversation.assigned":
                await client.send({"type": "conversation.close", "conversation_id": frame["conversation"]["id"]})

        return handle

    async def close_everything_held(self) -> None:
        for agent_id, client in self.agents.items():
            for conversation_id in sorted(self.ledger.held.get(agent_id, ())):
                await client.send({"type": "conversation.close", "conversation_id": conversation_id})

    def customer_handler(self, client: Client) -> Callable[[Frame], Awaitable[None]]:
        async def handle(frame: Frame) -> None:
            if frame.get("type") != "conversation.state":
                return
            self.starts_unanswered.discard(frame.get("ref"))
            conversation = frame["conversation"]
            if conversation["agent"] is not None:
                self.agents_seen_by_customer.setdefault(conversation["id"], set()).add(conversation["agent"]["id"])
            if self.coming_back and conversation["status"] == "closed" and self.rounds_done(client) < CHURN_ROUNDS:
                ref = f"start-{client.name}-{conversation['id']}"
                self.starts_unanswered.add(ref)
                await client.send({"type": "conversation.start", "ref": ref})

        return handle

    def rounds_done(self, client: Client) -> int:
        return len(
            {
                s["conversation"]["id"]
                for s in client.frames("conversation.state")
                if s["conversation"]["status"] == "closed"
            }
        )

    def all_served(self) -> bool:
        return all(self.rounds_done(client) == CHURN_ROUNDS for client in self.customers)

    def states_seen(self, conversation_id: int) -> list[tuple[str, int | None, str]]:
        """(status, queue position, reply or push) of each state a customer got for the conversation, in order."""
        return [
            (s["conversation"]["status"], s["conversation"]["queue_position"], "reply" if "ref" in s else "push")
            for client in self.customers
            for s in client.frames("conversation.state")
            if s["conversation"]["id"] == conversation_id
        ]

    def waiting_positions(self) -> dict[int, int | None]:
        """Each customer's newest view of a conversation still waiting: its queue position."""
        newest: dict[int, dict] = {}
        for client in self.customers:
            for state in client.frames("conversation.state"):
                newest[state["conversation"]["id"]] = state["conversation"]
        return {i: c["queue_position"] for i, c in newest.items() if c["status"] == "waiting"}


def db_load(line_id: int) -> tuple[dict[str, int], dict[int, int], dict[int, int]]:
    """From the database: conversations by status, active conversations per agent, `assigned` events per
    conversation."""
    by_status = dict(
        Conversation.objects.filter(business_line_id=line_id).values_list("status").annotate(n=Count("id"))
    )
    per_agent = dict(
        Agent.objects.filter(business_lines__id=line_id)
        .annotate(n=Count("conversations", filter=Q(conversations__status="active")))
        .values_list("id", "n")
    )
    assigned_events = dict(
        Message.objects.filter(conversation__business_line_id=line_id, event="assigned")
        .values_list("conversation_id")
        .annotate(n=Count("id"))
    )
    return by_status, per_agent, assigned_events


def db_waiting_order(line_id: int) -> list[int]:
    return list(
        Conversation.objects.filter(business_line_id=line_id, status="waiting")
        .order_by("-priority", "queued_at", "id")
        .values_list("id", flat=True)
    )


def test_a_burst_fills_every_agent_exactly_and_churn_never_breaks_the_invariants(live):
    workers = live.web
    line, team = make_line(live.web[0], agents=BURST_AGENTS, capacity=BURST_CAPACITY)
    slots = BURST_AGENTS * BURST_CAPACITY
    ledger = Ledger(capacity=BURST_CAPACITY)
    burst = Burst(ledger)

    async def invariants_hold() -> dict[str, int]:
        """Checked about twice a second while waiting: the frames so far, and the database."""
        assert ledger.violations == []
        assert burst.reader_failures() == []
        by_status, per_agent, assigned_events = await in_db(lambda: db_load(line.id))
        assert max(per_agent.values()) <= BURST_CAPACITY, per_agent
        assert max(assigned_events.values(), default=0) <= 1, assigned_events
        return by_status

    async def scenario():
        async with Clients() as clients:
            try:
                # Given five agents of capacity 3 online, spread over both workers, each read frame by frame
                for n, member in enumerate(team):
                    client = await agent_online(clients, workers[n % 2], member, name=f"agent{n}")
                    burst.agents[member.agent_id] = client
                    burst.follow(client, burst.agent_handler(member.agent_id, client))

                # When forty customers, half on each worker, connect and start at once
                async def arrive(n: int) -> Client:
                    client = await customer_arrives(clients, workers[n % 2], line.key, name=f"customer{n}")
                    await start(client)
                    return client

                burst.customers = list(await asyncio.gather(*(arrive(n) for n in range(BURST_CUSTOMERS))))
                for client in burst.customers:
                    burst.follow(client, burst.customer_handler(client))

                # Then exactly fifteen are assigned, three to each agent, and the others wait in FIFO order
                async def fifteen_assigned() -> bool:
                    by_status = await invariants_hold()
                    return ledger.assigned_count >= slots and by_status.get("active") == slots

                await until_async("fifteen assigned", fifteen_assigned, timeout=REPLY_TIMEOUT)
                by_status, per_agent, _ = await in_db(lambda: db_load(line.id))
                assert by_status == {"active": slots, "waiting": BURST_CUSTOMERS - slots}, by_status
                assert sorted(per_agent.values()) == [BURST_CAPACITY] * BURST_AGENTS, per_agent
                queue = await in_db(lambda: db_waiting_order(line.id))

                async def positions_in_queue_order() -> bool:
                    await invariants_hold()
                    return burst.waiting_positions() == {i: p for p, i in enumerate(queue, start=1)}

                def positions_seen_and_expected() -> str:
                    seen, expected = burst.waiting_positions(), {i: p for p, i in enumerate(queue, start=1)}
                    wrong = sorted(i for i in seen.keys() | expected.keys() if seen.get(i) != expected.get(i))
                    return "; ".join(
                        f"conversation {i}: customer's last position {seen.get(i)}, queue position {expected.get(i)}, "
                        f"states the customer got {burst.states_seen(i)}"
                        for i in wrong
                    )

                await until_async(
                    "positions 1..25 in queue order",
                    positions_in_queue_order,
                    timeout=REPLY_TIMEOUT,
                    explain=positions_seen_and_expected,
                )
                assert ledger.assigned_count == slots
                assert all(ledger.most_held[member.agent_id] == BURST_CAPACITY for member in team), ledger.most_held

                # When the agents close chats as fast as they get them, and each customer comes back for three
                # chats in all
                burst.churning = burst.coming_back = True
                await burst.close_everything_held()

                async def all_served() -> bool:
                    await invariants_hold()
                    return burst.all_served()

                def rounds_per_customer() -> str:
                    return str(Counter(burst.rounds_done(client) for client in burst.customers))

                await until_async(
                    "every customer served three times",
                    all_served,
                    timeout=CHURN_SECONDS,
                    explain=rounds_per_customer,
                )
                burst.coming_back = False

                # Then the queue drains: nothing is left waiting while the agents have room
                async def drained() -> bool:
                    by_status = await invariants_hold()
                    return not burst.starts_unanswered and set(by_status) == {"closed"}

                await until_async("the queue drained", drained, timeout=REPLY_TIMEOUT)
            finally:
                await burst.stop()

    play(scenario(), timeout=CHURN_SECONDS + 4 * REPLY_TIMEOUT)

    # Then no frame ever showed a conversation given twice or an agent past capacity
    assert ledger.violations == []
    by_status, per_agent, assigned_events = db_load(line.id)
    total = by_status["closed"]
    assert total == BURST_CUSTOMERS * CHURN_ROUNDS
    assert len(ledger.assignments) == total
    assert Counter(len(agents) for agents in ledger.assignments.values()) == {1: total}
    assert max(ledger.most_held.values()) == BURST_CAPACITY
    # ... each customer saw only the agent that was given their conversation
    for conversation_id, agents in ledger.assignments.items():
        assert burst.agents_seen_by_customer.get(conversation_id) == set(agents), conversation_id
    # ... and the database agrees: every conversation was assigned once, and all are closed
    assert by_status == {"closed": total}, by_status
    assert set(per_agent.values()) == {0}, per_agent
    assert Counter(assigned_events.values()) == {1: total}


async def until_async(
    what: str, check: Callable[[], Awaitable[bool]], *, timeout: float, explain: Callable[[], object] = str
) -> None:
    """Waits for `check` (which also checks the invariants) about twice a second, while the readers run."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"not within {timeout}s: {what} {explain()}")
        await asyncio.sleep(0.5)
