"""Building blocks for the routing tests: connected agents, waiting customers, clocks moved back, invariants."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

import redis
from channels.layers import get_channel_layer
from django.conf import settings
from django.utils import timezone

from agents import presence
from agents.models import Agent, Presence
from chat.lifecycle import conversation_start
from chat.models import Conversation, ConversationStatus, Message
from chat.permissions import Participant
from chat.services import message_send
from routing.models import BusinessLine
from routing.selectors import available_agent_ids
from tests.factories import AgentFactory, CustomerFactory

# One event loop for every presence call of a test process, so `agents.presence` keeps one Redis client.
_presence_loop = asyncio.new_event_loop()


def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def routing_keys_clear() -> None:
    """Forget this run's presence, queue-position and pending-run keys (other runs use other prefixes)."""
    client = redis_client()
    for pattern in (f"{settings.REDIS_PREFIX}:presence:*", f"{settings.REDIS_PREFIX}:routing:*"):
        keys = list(client.scan_iter(match=pattern, count=500))
        if keys:
            client.delete(*keys)
    client.close()


def connect(agent: Agent, connection: str = "test-conn-1") -> None:
    """Register a live socket for the agent, as the agent consumer does on connect."""
    _presence_loop.run_until_complete(presence.connection_register(agent_id=agent.id, connection=connection))


def disconnect(agent: Agent, connection: str = "test-conn-1") -> None:
    """Remove that socket, as the agent consumer does on disconnect."""
    _presence_loop.run_until_complete(presence.connection_remove(agent_id=agent.id, connection=connection))


def last_live_moved_back(agent: Agent, *, seconds: float) -> None:
    """Pretend the agent's last live socket went away `seconds` ago (the key `agents.presence` keeps)."""
    redis_client().hset(f"{settings.REDIS_PREFIX}:presence:last_live", str(agent.id), time.time() - seconds)


def agent_in(
    *lines: BusinessLine,
    capacity: int = 3,
    presence_status: str = Presence.ONLINE,
    connected: bool = True,
    last_assigned_ago: float | None = None,
) -> Agent:
    """An agent of `lines`, online and with a live socket unless told otherwise."""
    last_assigned_at = None if last_assigned_ago is None else timezone.now() - timedelta(seconds=last_assigned_ago)
    agent = AgentFactory(
        business_lines=list(lines), capacity=capacity, presence=presence_status, last_assigned_at=last_assigned_at
    )
    if connected:
        connect(agent)
    return agent


def waiting_customer(line: BusinessLine, *, ago: float = 0.0, priority: int = 0) -> Conversation:
    """A customer of `line` who started a conversation `ago` seconds ago, through the start service."""
    conversation, created = conversation_start(customer=CustomerFactory(business_line=line), channel="web")
    assert created
    if ago or priority:
        started = timezone.now() - timedelta(seconds=ago)
        Conversation.objects.filter(id=conversation.id).update(
            started_at=started, queued_at=started, waiting_since=started, priority=priority
        )
        conversation.refresh_from_db()
    return conversation


def moved_back(conversation: Conversation, *, seconds: float, fields: Iterable[str]) -> None:
    """Move the given timestamps of a conversation `seconds` into the past instead of sleeping."""
    conversation.refresh_from_db()
    Conversation.objects.filter(id=conversation.id).update(
        **{field: getattr(conversation, field) - timedelta(seconds=seconds) for field in fields}
    )
    conversation.refresh_from_db()


def say(conversation: Conversation, *, by: str, body: str = "hi", client_msg_id: str | None = None) -> Message:
    """Send a message as the customer (`by="customer"`) or as the assigned agent (`by="agent"`)."""
    conversation.refresh_from_db()
    participant = (
        Participant(kind="agent", id=conversation.agent_id)
        if by == "agent"
        else Participant(kind="customer", id=conversation.customer_id)
    )
    message, _ = message_send(
        participant=participant,
        conversation_id=conversation.id,
        client_msg_id=client_msg_id or f"{by}-{time.monotonic_ns()}",
        body=body,
    )
    return message


def load(agent: Agent) -> int:
    return Conversation.objects.filter(agent=agent, status=ConversationStatus.ACTIVE).count()


def status_of(conversation: Conversation) -> tuple[str, int | None]:
    conversation.refresh_from_db()
    return conversation.status, conversation.agent_id


def system_events(conversation: Conversation) -> list[str]:
    return list(
        Message.objects.filter(conversation=conversation, sender="system")
        .order_by("seq")
        .values_list("event", flat=True)
    )


def invariant_violations(*, lines: Iterable[BusinessLine] | None = None, after_routing_run: bool = False) -> list[str]:
    """Every broken routing invariant, described; empty when all hold. Reads each table once.

    With `after_routing_run`, also: nothing waits while an online, connected agent of its line has room.
    """
    problems: list[str] = []
    conversations = list(Conversation.objects.values_list("id", "status", "agent_id", "business_line_id", "last_seq"))
    load: dict[int, int] = {}
    for conversation_id, status, agent_id, _, _ in conversations:
        if status == ConversationStatus.ACTIVE and agent_id is None:
            problems.append(f"conversation {conversation_id} is active without an agent")
        if status == ConversationStatus.WAITING and agent_id is not None:
            problems.append(f"conversation {conversation_id} is waiting with agent {agent_id}")
        if status == ConversationStatus.ACTIVE:
            load[agent_id] = load.get(agent_id, 0) + 1
    capacity = dict(Agent.objects.values_list("id", "capacity"))
    problems += [f"agent {a} holds {n} chats, capacity {capacity[a]}" for a, n in load.items() if n > capacity[a]]
    seqs: dict[int, list[int]] = {}
    messages = Message.objects.order_by("conversation_id", "seq").values_list("conversation_id", "seq")
    for conversation_id, seq in messages:
        seqs.setdefault(conversation_id, []).append(seq)
    for conversation_id, _, _, _, last_seq in conversations:
        if seqs.get(conversation_id, []) != list(range(1, last_seq + 1)):
            problems.append(f"conversation {conversation_id} has seqs {seqs.get(conversation_id)}, last_seq {last_seq}")
    if after_routing_run:
        waiting_lines = {line_id for _, status, _, line_id, _ in conversations if status == ConversationStatus.WAITING}
        for line in lines if lines is not None else BusinessLine.objects.all():
            if line.id not in waiting_lines:
                continue
            problems += [
                f"line {line.id} has waiting chats while agent {agent_id} has room"
                for agent_id in available_agent_ids(business_line_id=line.id)
                if load.get(agent_id, 0) < capacity[agent_id]
            ]
    return problems


class GroupListener:
    """Subscribes to channel-layer groups on the real layer, from a thread with its own event loop."""

    def __init__(self, groups: Iterable[str]) -> None:
        self.groups = list(groups)
        self.layer = get_channel_layer()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.channel = self._run(self.layer.new_channel())
        for group in self.groups:
            self._run(self.layer.group_add(group, self.channel))
        # Subscriptions are sent in order on one connection: once a probe to the last group arrives, all are live.
        self._run(self.layer.group_send(self.groups[-1], {"type": "test.probe"}))
        self.until(lambda event: event["type"] == "test.probe")

    def _run(self, coroutine: Any, timeout: float = 10) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def until(self, last: Callable[[dict[str, Any]], bool], timeout: float = 10) -> list[dict[str, Any]]:
        """Events received up to and including the first one for which `last` is true."""
        received = []
        while True:
            event = self._run(asyncio.wait_for(self.layer.receive(self.channel), timeout), timeout + 1)
            received.append(event)
            if last(event):
                return received

    def events_until_marker(self) -> list[dict[str, Any]]:
        """Publish a marker after everything sent so far and return the events that arrived before it."""
        self._run(self.layer.group_send(self.groups[-1], {"type": "test.marker"}))
        return self.until(lambda event: event["type"] == "test.marker")[:-1]

    def frames_until_marker(self) -> list[dict[str, Any]]:
        return [event["frame"] for event in self.events_until_marker() if event["type"] == "chat.frame"]

    def close(self) -> None:
        self._run(self.layer.flush())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()
