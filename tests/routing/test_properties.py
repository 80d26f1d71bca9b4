"""Property-based: random sequences of starts, closes, presence changes, connections, transfers, picks, messages,
clock jumps and sweeps keep the routing invariants after every step.

Each example builds its own world inside a savepoint that is rolled back at its end. Nothing commits, so no
trigger runs by itself: the `route` step runs the rule for every line, as the triggers would.
"""

from dataclasses import dataclass

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agents.models import Agent, Presence
from agents.services import agent_presence_set
from chat.errors import ChatError
from chat.lifecycle import conversation_close, conversation_leave_message, conversation_start
from chat.models import OPEN_STATUSES, Conversation, ConversationStatus
from chat.permissions import Participant
from customers.models import Customer
from routing.models import BusinessLine
from routing.services import assignment_pick, assignment_run, conversation_transfer, routing_sweep
from tests.factories import AgentFactory, BusinessLineFactory, CustomerFactory
from tests.routing.helpers import (
    connect,
    disconnect,
    invariant_violations,
    last_live_moved_back,
    moved_back,
    routing_keys_clear,
    say,
)

pytestmark = pytest.mark.django_db

AGENTS = 4
CUSTOMERS = 8
# Agent 0 and 1 serve line 0, agent 2 line 1, agent 3 both. Customers 0-4 belong to line 0, 5-7 to line 1.
AGENT_LINES = ((0,), (0,), (1,), (0, 1))
CLOCKS = (
    "started_at",
    "queued_at",
    "waiting_since",
    "assigned_at",
    "last_customer_message_at",
    "last_agent_message_at",
)

agent_index = st.integers(0, AGENTS - 1)
customer_index = st.integers(0, CUSTOMERS - 1)
mostly = st.sampled_from([True, True, True, False])
# Starts and routing runs are listed twice: they are drawn more often, so agents fill up and queues form.
step_lists = st.lists(
    st.one_of(
        st.tuples(st.just("start"), customer_index),
        st.tuples(st.just("start"), customer_index),
        st.just(("route",)),
        st.tuples(st.just("close"), customer_index, st.booleans()),
        st.tuples(st.just("presence"), agent_index, st.sampled_from(Presence.values)),
        st.tuples(st.just("connect"), agent_index),
        st.tuples(st.just("disconnect"), agent_index, st.booleans()),
        st.tuples(st.just("transfer_to_agent"), customer_index, agent_index),
        st.tuples(st.just("transfer_to_line"), customer_index, st.integers(0, 1)),
        st.tuples(st.just("pick"), agent_index, customer_index),
        st.tuples(st.just("say"), customer_index, st.sampled_from(["agent", "customer"])),
        st.tuples(st.just("age"), customer_index),
        st.tuples(st.just("leave_message"), customer_index),
        st.just(("sweep",)),
        st.just(("route",)),
    ),
    min_size=10,
    max_size=40,
)
worlds = st.fixed_dictionaries(
    {
        "capacities": st.lists(st.integers(1, 3), min_size=AGENTS, max_size=AGENTS),
        "online": st.lists(mostly, min_size=AGENTS, max_size=AGENTS),
        "connected": st.lists(mostly, min_size=AGENTS, max_size=AGENTS),
    }
)


@dataclass
class World:
    lines: list[BusinessLine]
    agents: list[Agent]
    customers: list[Customer]
    connected: set[int]  # indices of the agents with a live socket, as the steps left them

    def latest(self, customer: int) -> Conversation | None:
        return Conversation.objects.filter(customer=self.customers[customer]).order_by("-id").first()

    def open_one(self, customer: int) -> Conversation | None:
        return Conversation.objects.filter(customer=self.customers[customer], status__in=OPEN_STATUSES).first()


def world_built(capacities: list[int], online: list[bool], connected: list[bool]) -> World:
    lines = [
        BusinessLineFactory(wait_timeout=60, agent_reply_timeout=30, disconnect_grace=20, idle_timeout=60)
        for _ in range(2)
    ]
    agents = [
        AgentFactory(
            business_lines=[lines[i] for i in AGENT_LINES[n]],
            capacity=capacities[n],
            presence=Presence.ONLINE if online[n] else Presence.OFFLINE,
        )
        for n in range(AGENTS)
    ]
    for agent, live in zip(agents, connected):
        if live:
            connect(agent)
    customers = [CustomerFactory(business_line=lines[0 if n < 5 else 1]) for n in range(CUSTOMERS)]
    return World(
        lines=lines, agents=agents, customers=customers, connected={n for n, live in enumerate(connected) if live}
    )


def has_room(built: World, agent: int, line_id: int) -> bool:
    """What the brief says an agent needs to be given a chat: online, connected, of the line, below capacity."""
    row = Agent.objects.get(id=built.agents[agent].id)
    load = Conversation.objects.filter(agent=row, status=ConversationStatus.ACTIVE).count()
    return (
        row.presence == Presence.ONLINE
        and agent in built.connected
        and line_id in {built.lines[n].id for n in AGENT_LINES[agent]}
        and load < row.capacity
    )


def refusal_expected(built: World, step: tuple) -> bool:
    """The model: which steps the protocol must refuse, decided from the rows before the step, not by the code."""
    kind, *args = step
    if kind == "transfer_to_agent":
        conversation = built.open_one(args[0])
        return (
            conversation is not None
            and conversation.agent_id is not None
            and (
                built.agents[args[1]].id == conversation.agent_id
                or not has_room(built, args[1], conversation.business_line_id)
            )
        )
    if kind == "pick":
        conversation = built.latest(args[1])
        if conversation is None:
            return False
        other_open = (
            Conversation.objects.filter(customer_id=conversation.customer_id, status__in=OPEN_STATUSES)
            .exclude(id=conversation.id)
            .exists()
        )
        return (
            conversation.status not in (ConversationStatus.WAITING, ConversationStatus.MISSED)
            or (conversation.status == ConversationStatus.MISSED and other_open)
            or not has_room(built, args[0], conversation.business_line_id)
        )
    if kind == "leave_message":
        return Conversation.objects.filter(customer=built.customers[args[0]], status=ConversationStatus.ACTIVE).exists()
    return False


def step_applied(built: World, step: tuple) -> None:
    kind, *args = step
    if kind == "start":
        conversation_start(customer=built.customers[args[0]], channel="web")
    elif kind == "close":
        conversation = built.open_one(args[0])
        if conversation is not None:
            by_agent = args[1] and conversation.agent_id is not None
            who = (
                Participant(kind="agent", id=conversation.agent_id)
                if by_agent
                else Participant(kind="customer", id=conversation.customer_id)
            )
            conversation_close(participant=who, conversation_id=conversation.id)
    elif kind == "presence":
        agent_presence_set(agent_id=built.agents[args[0]].id, status=args[1])
    elif kind == "connect":
        connect(built.agents[args[0]])
        built.connected.add(args[0])
    elif kind == "disconnect":
        disconnect(built.agents[args[0]])
        built.connected.discard(args[0])
        if args[1]:
            last_live_moved_back(built.agents[args[0]], seconds=1000)
    elif kind == "transfer_to_agent":
        conversation = built.open_one(args[0])
        if conversation is not None and conversation.agent_id is not None:
            conversation_transfer(
                agent_id=conversation.agent_id, conversation_id=conversation.id, to_agent_id=built.agents[args[1]].id
            )
    elif kind == "transfer_to_line":
        conversation = built.open_one(args[0])
        if conversation is not None and conversation.agent_id is not None:
            conversation_transfer(
                agent_id=conversation.agent_id,
                conversation_id=conversation.id,
                to_business_line=built.lines[args[1]].key,
            )
    elif kind == "pick":
        conversation = built.latest(args[1])
        if conversation is not None:
            assignment_pick(agent_id=built.agents[args[0]].id, conversation_id=conversation.id)
    elif kind == "say":
        conversation = built.open_one(args[0])
        if conversation is not None and (args[1] == "customer" or conversation.agent_id is not None):
            say(conversation, by=args[1])
    elif kind == "age":
        conversation = built.open_one(args[0])
        if conversation is not None:
            moved_back(conversation, seconds=1000, fields=[f for f in CLOCKS if getattr(conversation, f) is not None])
    elif kind == "leave_message":
        conversation_leave_message(customer=built.customers[args[0]], channel="web", body="please call back")
    elif kind == "sweep":
        routing_sweep()
    elif kind == "route":
        for line in built.lines:
            assignment_run(business_line_id=line.id)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(world=worlds, steps=step_lists)
def test_routing_invariants_hold_after_every_step(world, steps):
    try:
        with transaction.atomic():
            built = world_built(**world)
            for number, step in enumerate(steps, start=1):
                refused_by_model = refusal_expected(built, step)
                try:
                    step_applied(built, step)
                    refused = None
                except ChatError as error:
                    refused = error
                assert (refused is not None) == refused_by_model, f"step {number} of {steps}: {refused!r}"
                problems = invariant_violations(lines=built.lines, after_routing_run=step[0] == "route")
                assert problems == [], f"after step {number} of {steps}"
            transaction.set_rollback(True)
    finally:
        routing_keys_clear()
