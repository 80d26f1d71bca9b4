"""Realtime events: published through the channel layer only after the transaction that caused them commits.

Every worker delivers an event published to a group to the sockets it holds in that group (the seed's
broadcast design). Events are hints carrying fresh data; the database stays the source of truth, and a client
that missed one catches up with `sync`.

Services are synchronous and run in a worker's database thread. A socket calls them through
`call_and_publish`, which collects the events they commit and publishes them from the event loop, so the
database thread never waits on Redis; Celery tasks and views publish directly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TypeVar

from asgiref.sync import async_to_sync, sync_to_async
from channels.db import database_sync_to_async
from channels.layers import BaseChannelLayer, get_channel_layer
from django.db import InterfaceError, OperationalError, connection, transaction

from cs_platform import metrics

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Set while a socket's service call runs: events wait here instead of leaving from the database thread.
_outbox: ContextVar[list[tuple[str, dict[str, Any]]] | None] = ContextVar("events_outbox", default=None)

# Who may see an event's frame: everyone in the group, or agents only (internal notes).
AUDIENCE_ALL = "all"
AUDIENCE_AGENTS = "agents"


def conversation_group(conversation_id: int) -> str:
    return f"conv.{conversation_id}"


def agent_group(agent_id: int) -> str:
    return f"agent.{agent_id}"


def customer_group(customer_id: int) -> str:
    return f"customer.{customer_id}"


def line_agents_group(business_line_id: int) -> str:
    """Every socket of every agent of the business line's team, whatever their presence."""
    return f"line.{business_line_id}.agents"


def queue_changed_event(business_line_id: int) -> dict[str, Any]:
    """Tells the line's agent sockets that its waiting or missed conversations changed: each reads its
    `queue.snapshot` again (coalesced per socket), so the event carries no data that could go stale."""
    return {"type": "chat.queue", "business_line_id": business_line_id}


def frame_event(frame: dict[str, Any], *, audience: str = AUDIENCE_ALL) -> dict[str, Any]:
    """A channel-layer event that every socket in the group forwards as `frame`."""
    return {"type": "chat.frame", "frame": frame, "audience": audience}


def join_event(conversation_id: int) -> dict[str, Any]:
    """Tells a participant's sockets to subscribe to a conversation (and, for agents, to load it)."""
    return {"type": "chat.join", "conversation_id": conversation_id}


def leave_event(conversation_id: int) -> dict[str, Any]:
    return {"type": "chat.leave", "conversation_id": conversation_id}


def _channel_layer() -> BaseChannelLayer:
    layer = get_channel_layer()
    assert layer is not None  # settings.CHANNEL_LAYERS names one
    return layer


def publish(group: str, event: dict[str, Any]) -> None:
    """Publish now, from synchronous code. A lost publish is logged, never raised: clients resync."""
    outbox = _outbox.get()
    if outbox is not None:
        outbox.append((group, event))
        return
    try:
        async_to_sync(_channel_layer().group_send)(group, event)
    except Exception as error:
        logger.exception("publish to %s failed (event %s)", group, event.get("type"))
        metrics.error_caught("publish", error, backend="redis")


def publish_many(messages: list[tuple[str, dict[str, Any]]]) -> None:
    """Publish several events in one trip to the event loop (Celery tasks have none of their own)."""
    if not messages:
        return
    outbox = _outbox.get()
    if outbox is not None:
        outbox.extend(messages)
        return

    async def send_all() -> None:
        layer = _channel_layer()
        for group, event in messages:
            await layer.group_send(group, event)

    try:
        async_to_sync(send_all)()
    except Exception as error:
        logger.exception("publish of %s events failed", len(messages))
        metrics.error_caught("publish", error, backend="redis")


def publish_on_commit(group: str, event: dict[str, Any]) -> None:
    """Publish once the current transaction commits, so nobody hears of state that could still roll back."""
    transaction.on_commit(lambda: publish(group, event))


async def call_and_publish(func: Callable[..., T], /, *args: Any, idempotent: bool = False, **kwargs: Any) -> T:
    """Run a synchronous service in the database thread, then publish the events it committed from this loop.

    Events committed before an error are published too. An `idempotent` call (the message send, keyed by
    `client_msg_id`) skips Channels' check of the connection around every call (`close_old_connections` twice
    and a `SELECT 1`: a fifth of a message's CPU, docs/performance.md); instead, when the connection turns out
    to be gone, it is closed and the call runs once more on a new one.
    """
    outbox: list[tuple[str, dict[str, Any]]] = []

    def run() -> T:
        token = _outbox.set(outbox)
        try:
            return func(*args, **kwargs)
        finally:
            _outbox.reset(token)

    def run_again_on_a_lost_connection() -> T:
        try:
            return run()
        except (InterfaceError, OperationalError) as error:
            logger.warning("database connection lost during %s; running it again", func.__name__, exc_info=True)
            metrics.error_caught("message_send", error)
            connection.close()
            return run()

    try:
        if idempotent:
            return await sync_to_async(run_again_on_a_lost_connection, thread_sensitive=True)()
        return await database_sync_to_async(run)()
    finally:
        await _publish_from_loop(outbox)


async def _publish_from_loop(outbox: list[tuple[str, dict[str, Any]]]) -> None:
    layer = _channel_layer()
    for group, event in outbox:
        try:
            await layer.group_send(group, event)
        except Exception as error:
            logger.exception("publish to %s failed (event %s)", group, event.get("type"))
            metrics.error_caught("publish", error, backend="redis")
