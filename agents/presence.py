"""Which agents have a live connection, on any worker, kept in Redis.

Each socket registers under its own channel name with an expiry it renews by heartbeat, and is removed only
by that name: an old socket's late disconnect can never take a newer socket of the same agent down (the
seed's `map.remove(key, connection)`), and a crashed worker's sockets simply expire.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from django.conf import settings

from cs_platform.redis_clients import async_client, sync_client


def _key(agent_id: int) -> str:
    return f"{settings.REDIS_PREFIX}:presence:agent:{agent_id}"


def _last_live_key() -> str:
    return f"{settings.REDIS_PREFIX}:presence:last_live"


async def connection_register(*, agent_id: int, connection: str) -> bool:
    """Register or renew one socket; returns True when the agent had no live socket before it."""
    ttl = settings.CHAT_PRESENCE_TTL_SECONDS
    now = time.time()
    key = _key(agent_id)
    async with async_client().pipeline(transaction=True) as pipe:
        pipe.zcount(key, now, "+inf")
        pipe.zadd(key, {connection: now + ttl})
        pipe.zremrangebyscore(key, "-inf", now)
        pipe.expire(key, ttl * 2)
        pipe.hset(_last_live_key(), str(agent_id), now)
        live_before, *_ = await pipe.execute()
    return live_before == 0


async def connection_remove(*, agent_id: int, connection: str) -> None:
    """Remove exactly this socket, never another one of the same agent."""
    async with async_client().pipeline(transaction=True) as pipe:
        pipe.zrem(_key(agent_id), connection)
        pipe.hset(_last_live_key(), str(agent_id), time.time())
        await pipe.execute()


def connected_agent_ids(agent_ids: Iterable[int]) -> set[int]:
    """Agents among `agent_ids` with at least one live socket."""
    ids = list(agent_ids)
    if not ids:
        return set()
    now = time.time()
    with sync_client().pipeline(transaction=False) as pipe:
        for agent_id in ids:
            pipe.zcount(_key(agent_id), now, "+inf")
        counts = pipe.execute()
    return {agent_id for agent_id, count in zip(ids, counts) if count > 0}


async def any_connected(agent_ids: list[int]) -> bool:
    """Whether any of `agent_ids` has a live socket, asked from the event loop (one pipelined round trip)."""
    if not agent_ids:
        return False
    now = time.time()
    async with async_client().pipeline(transaction=False) as pipe:
        for agent_id in agent_ids:
            pipe.zcount(_key(agent_id), now, "+inf")
        counts = await pipe.execute()
    return any(count > 0 for count in counts)


def disconnected_for(agent_ids: Iterable[int]) -> dict[int, float]:
    """Seconds each agent among `agent_ids` has been without any live socket (connected agents are left out).

    An agent Redis knows nothing about (new, or Redis restarted) starts its clock now, so a Redis restart
    gives every agent a full grace period to reconnect instead of requeueing all their chats.
    """
    ids = list(agent_ids)
    connected = connected_agent_ids(ids)
    offline = [agent_id for agent_id in ids if agent_id not in connected]
    if not offline:
        return {}
    now = time.time()
    client = sync_client()
    with client.pipeline(transaction=False) as pipe:
        for agent_id in offline:
            pipe.hsetnx(_last_live_key(), str(agent_id), now)
        pipe.hmget(_last_live_key(), [str(agent_id) for agent_id in offline])
        *_, last_live = pipe.execute()
    return {agent_id: now - float(seen) for agent_id, seen in zip(offline, last_live)}
