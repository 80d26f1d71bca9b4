"""Helpers for the live routing tests (their stack: two web workers, two Celery worker processes and Celery beat),
business lines with short timeouts, and waits on what the clients were pushed (docs/routing.md).

Pushes are read from `Client.received` (every frame in arrival order), so a wait never takes a frame away from
another check; direct replies are still awaited with `Client.request`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from django.db import connections

from cs_platform.stack import WebWorker
from routing.models import BusinessLine
from tests.factories import AgentFactory, BusinessLineFactory
from tests.integration.chatflows import Team, new_client_msg_id
from tests.integration.harness import agent_login, customer_session
from tests.integration.wsclient import Client, Clients, Frame

T = TypeVar("T")

# Replies and pushes are awaited this long: the machine may be busy, and no latency is asserted here.
REPLY_TIMEOUT = 30.0

# Timeouts a test does not exercise stay far beyond its length; the one it exercises is a couple of sweeps.
LONG = 600
SHORT = 2
SWEEP_INTERVAL = 1
HEARTBEAT_SECONDS = 1
PRESENCE_TTL_SECONDS = 3
ROUTING_ENV = {
    "ROUTING_SWEEP_INTERVAL": str(SWEEP_INTERVAL),
    "CHAT_HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS),
    "CHAT_PRESENCE_TTL_SECONDS": str(PRESENCE_TTL_SECONDS),
}


def make_line(worker: WebWorker, *, agents: int, capacity: int, **timeouts: int) -> tuple[BusinessLine, list[Team]]:
    """A business line (timeouts not given are LONG) with a team of agents, each logged in over HTTP."""
    chosen = dict.fromkeys(("wait_timeout", "agent_reply_timeout", "disconnect_grace", "idle_timeout"), LONG)
    chosen.update(timeouts)
    line = BusinessLineFactory(**chosen)
    team = []
    for _ in range(agents):
        agent = AgentFactory(business_lines=[line], capacity=capacity)
        login = agent_login(worker, agent.user.username)
        team.append(Team(line=line, username=agent.user.username, token=login["token"], agent_id=agent.id))
    return line, team


async def in_db(query: Callable[[], T]) -> T:
    """Runs a database read of the test process from async code, in a thread whose connection is then closed."""

    def run() -> T:
        try:
            return query()
        finally:
            connections.close_all()

    return await asyncio.to_thread(run)


# Speaking the protocol, with waits generous enough for a loaded machine


async def agent_online(clients: Clients, worker: WebWorker, member: Team, *, name: str, online: bool = True) -> Client:
    """An agent's socket on `worker`, greeted, and (unless `online` is false) set `online`."""
    agent = await clients.connect(worker.ws_url(f"/ws/agent/?token={member.token}"), name=f"{name}@{worker.name}")
    hello = await agent.expect("hello", timeout=REPLY_TIMEOUT)
    assert hello["agent_id"] == member.agent_id, hello
    if online:
        state = await agent.request({"type": "presence.set", "status": "online"}, "presence.state", REPLY_TIMEOUT)
        assert state["type"] == "presence.state" and state["status"] == "online", state
    return agent


async def customer_arrives(clients: Clients, worker: WebWorker, line_key: str, *, name: str) -> Client:
    """A new customer of the line: a widget session over HTTP, then a greeted socket on `worker`."""
    session = await asyncio.to_thread(customer_session, worker, line_key)
    customer = await clients.connect(
        worker.ws_url(f"/ws/customer/?token={session['token']}"), name=f"{name}@{worker.name}"
    )
    hello = await customer.expect("hello", timeout=REPLY_TIMEOUT)
    assert hello["customer_id"] == session["customer_id"], hello
    return customer


async def start(customer: Client) -> dict[str, Any]:
    """`conversation.start`: the conversation as the reply shows it."""
    reply = await customer.request({"type": "conversation.start"}, "conversation.state", REPLY_TIMEOUT)
    assert reply["type"] == "conversation.state", reply
    return reply["conversation"]


async def say(client: Client, conversation_id: int, body: str) -> dict[str, Any]:
    """`message.send`; returns the acked message."""
    ack = await client.request(
        {
            "type": "message.send",
            "conversation_id": conversation_id,
            "client_msg_id": new_client_msg_id(),
            "body": body,
        },
        "message.ack",
        REPLY_TIMEOUT,
    )
    assert ack["type"] == "message.ack", ack
    return ack["message"]


async def transcript(client: Client, conversation_id: int) -> list[dict[str, Any]]:
    """Every message of the conversation the client may see, through `sync`."""
    messages: list[dict[str, Any]] = []
    for _ in range(50):
        after_seq = messages[-1]["seq"] if messages else 0
        reply = await client.request(
            {"type": "sync", "conversation_id": conversation_id, "after_seq": after_seq}, "sync.result", REPLY_TIMEOUT
        )
        assert reply["type"] == "sync.result", reply
        messages.extend(reply["messages"])
        if not reply["has_more"]:
            return messages
    raise AssertionError("sync: more than 50 pages")


# What a client was pushed


def states(client: Client, conversation_id: int) -> list[dict[str, Any]]:
    """Every conversation object the client got in `conversation.state` for this conversation, in order."""
    return [
        frame["conversation"]
        for frame in client.frames("conversation.state")
        if frame["conversation"]["id"] == conversation_id
    ]


def latest(client: Client, conversation_id: int) -> dict[str, Any] | None:
    seen = states(client, conversation_id)
    return seen[-1] if seen else None


def latest_is(client: Client, conversation_id: int, **expected: Any) -> bool:
    """The client's newest view of the conversation has these fields (`agent_id` compares the agent's id)."""
    state = latest(client, conversation_id)
    if state is None:
        return False
    view = {**state, "agent_id": state["agent"]["id"] if state["agent"] else None}
    return all(view.get(name) == value for name, value in expected.items())


def assigned_ids(agent: Client) -> list[int]:
    return [frame["conversation"]["id"] for frame in agent.frames("conversation.assigned")]


def system_events(messages: list[dict[str, Any]]) -> list[str]:
    """The transcript's system events, the greeting left out."""
    return [m["event"] for m in messages if m["sender"] == "system" and m.get("event") != "greeting"]


async def until(
    what: str, check: Callable[[], bool], clients: Sequence[Client], *, timeout: float = REPLY_TIMEOUT
) -> None:
    """Reads frames off every client's socket until `check` holds; fails after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            recent = {client.name: client.received[-6:] for client in clients}
            raise AssertionError(f"not within {timeout}s: {what}; latest frames: {recent}")
        await asyncio.gather(*(client.receive(timeout=0.2) for client in clients))


class Ledger:
    """What the agents were pushed, checked after every frame: a conversation is assigned once and held by one
    agent at a time, and no agent holds more than its capacity (docs/routing.md, "Why it is safe")."""

    def __init__(self, *, capacity: int) -> None:
        self.capacity = capacity
        self.holder: dict[int, int] = {}
        self.held: dict[int, set[int]] = {}
        self.assignments: dict[int, list[int]] = {}
        self.most_held: dict[int, int] = {}
        self.violations: list[str] = []

    def observe(self, agent_id: int, frame: Frame) -> None:
        kind = frame.get("type")
        if kind == "conversation.assigned":
            self._assigned(agent_id, frame["conversation"])
        elif kind == "conversation.state":
            conversation = frame["conversation"]
            still_mine = conversation["status"] == "active" and (conversation["agent"] or {}).get("id") == agent_id
            if not still_mine:
                self._released(agent_id, conversation["id"])

    def _assigned(self, agent_id: int, conversation: dict[str, Any]) -> None:
        conversation_id = conversation["id"]
        if (conversation["agent"] or {}).get("id") != agent_id:
            self.violations.append(f"agent {agent_id} sent conversation {conversation_id} of {conversation['agent']}")
        previous = self.assignments.setdefault(conversation_id, [])
        if previous:
            self.violations.append(f"conversation {conversation_id} assigned to {agent_id} after {previous}")
        previous.append(agent_id)
        other = self.holder.get(conversation_id)
        if other is not None and other != agent_id:
            self.violations.append(f"conversation {conversation_id} held by agents {other} and {agent_id}")
        self.holder[conversation_id] = agent_id
        held = self.held.setdefault(agent_id, set())
        held.add(conversation_id)
        self.most_held[agent_id] = max(self.most_held.get(agent_id, 0), len(held))
        if len(held) > self.capacity:
            self.violations.append(f"agent {agent_id} holds {sorted(held)}, over capacity {self.capacity}")

    def _released(self, agent_id: int, conversation_id: int) -> None:
        self.held.get(agent_id, set()).discard(conversation_id)
        if self.holder.get(conversation_id) == agent_id:
            del self.holder[conversation_id]

    @property
    def assigned_count(self) -> int:
        return sum(len(agents) for agents in self.assignments.values())
