"""Chat set-ups for the integration tests, through the public API and protocol only (docs/protocol.md)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from cs_platform.stack import WebWorker
from routing.models import BusinessLine
from tests.factories import AgentFactory, BusinessLineFactory
from tests.integration.harness import agent_login, customer_session
from tests.integration.wsclient import Client, Clients, Frame

_client_msg_ids = itertools.count(1)
T = TypeVar("T")


@dataclass
class Team:
    """A business line with one agent, and that agent's API token."""

    line: BusinessLine
    username: str
    token: str
    agent_id: int


def make_team(worker: WebWorker, *, capacity: int = 3) -> Team:
    """Commits a business line and an agent (test process), then logs the agent in over HTTP."""
    line = BusinessLineFactory()
    agent = AgentFactory(business_lines=[line], capacity=capacity)
    login = agent_login(worker, agent.user.username)
    assert login["agent_id"] == agent.id
    return Team(line=line, username=agent.user.username, token=login["token"], agent_id=agent.id)


def customer_token(worker: WebWorker, team: Team, **fields: Any) -> str:
    return customer_session(worker, team.line.key, **fields)["token"]


def new_client_msg_id() -> str:
    return f"cmid-{next(_client_msg_ids)}"


async def agent_socket(clients: Clients, worker: WebWorker, token: str, *, name: str = "agent") -> Client:
    agent = await clients.connect(worker.ws_url(f"/ws/agent/?token={token}"), name=f"{name}@{worker.name}")
    hello = await agent.expect("hello")
    assert hello["role"] == "agent", hello
    return agent


async def online_agent(clients: Clients, worker: WebWorker, team: Team, *, name: str = "agent") -> Client:
    agent = await agent_socket(clients, worker, team.token, name=name)
    state = await agent.request({"type": "presence.set", "status": "online"}, "presence.state")
    assert state["type"] == "presence.state" and state["status"] == "online", state
    return agent


async def customer_socket(
    clients: Clients, worker: WebWorker, token: str, *, name: str = "customer", origin: str | None = None
) -> Client:
    customer = await clients.connect(
        worker.ws_url(f"/ws/customer/?token={token}"), origin=origin, name=f"{name}@{worker.name}"
    )
    hello = await customer.expect("hello")
    assert hello["role"] == "customer", hello
    return customer


async def start_conversation(customer: Client) -> dict[str, Any]:
    reply = await customer.request({"type": "conversation.start"}, "conversation.state")
    assert reply["type"] == "conversation.state", reply
    return reply["conversation"]


async def until_active(customer: Client, conversation: dict[str, Any]) -> dict[str, Any]:
    """The customer's view of the conversation once an agent has it (the start reply, or a later push)."""
    if conversation["status"] == "active":
        return conversation
    state = await customer.expect(
        "conversation.state",
        lambda frame: frame["conversation"]["id"] == conversation["id"] and frame["conversation"]["status"] == "active",
    )
    return state["conversation"]


@dataclass
class Chat:
    customer: Client
    agent: Client
    conversation_id: int
    assigned: Frame
    customer_token: str


async def open_chat(clients: Clients, customer_worker: WebWorker, agent_worker: WebWorker, team: Team) -> Chat:
    """An online agent on one worker, a customer on the other, and their conversation assigned."""
    agent = await online_agent(clients, agent_worker, team)
    token = await asyncio.to_thread(customer_token, customer_worker, team)
    customer = await customer_socket(clients, customer_worker, token)
    conversation = await start_conversation(customer)
    assigned = await agent.expect(
        "conversation.assigned", lambda frame: frame["conversation"]["id"] == conversation["id"]
    )
    active = await until_active(customer, conversation)
    assert active["agent"]["id"] == team.agent_id, active
    return Chat(
        customer=customer, agent=agent, conversation_id=conversation["id"], assigned=assigned, customer_token=token
    )


async def send_message(
    client: Client, conversation_id: int, body: str, *, client_msg_id: str | None = None
) -> dict[str, Any]:
    """`message.send` and its `message.ack`; returns the acked message."""
    client_msg_id = client_msg_id or new_client_msg_id()
    ack = await client.request(
        {"type": "message.send", "conversation_id": conversation_id, "client_msg_id": client_msg_id, "body": body},
        "message.ack",
    )
    assert ack["type"] == "message.ack", ack
    assert ack["client_msg_id"] == client_msg_id and ack["message"]["client_msg_id"] == client_msg_id, ack
    return ack["message"]


async def expect_message(client: Client, message_id: int) -> dict[str, Any]:
    frame = await client.expect("message.new", lambda new: new["message"]["id"] == message_id)
    return frame["message"]


async def sync(client: Client, conversation_id: int, after_seq: int) -> Frame:
    reply = await client.request(
        {"type": "sync", "conversation_id": conversation_id, "after_seq": after_seq}, "sync.result"
    )
    assert reply["type"] == "sync.result" and reply["conversation_id"] == conversation_id, reply
    return reply


async def full_transcript(client: Client, conversation_id: int) -> list[dict[str, Any]]:
    """Every message of the conversation, through `sync` pages."""
    messages: list[dict[str, Any]] = []
    for _ in range(50):
        reply = await sync(client, conversation_id, messages[-1]["seq"] if messages else 0)
        messages.extend(reply["messages"])
        if not reply.get("has_more"):
            return messages
    raise AssertionError("sync: more than 50 pages")


def play(scenario: Coroutine[Any, Any, T], *, timeout: float = 60.0) -> T:
    """Runs one async scenario to its end, bounded in time whatever it waits for."""

    async def bounded() -> T:
        async with asyncio.timeout(timeout):
            return await scenario

    return asyncio.run(bounded())
