"""How many sockets each customer and agent holds open, on every worker, so that no one token opens hundreds.

Each socket is a member of its owner's sorted set in Redis (`{REDIS_PREFIX}:sockets:{role}:{id}`), scored by its
expiry: the socket's heartbeat renews it, its disconnect removes it by its own channel name, and a crashed
worker's entries simply expire (`CHAT_PRESENCE_TTL_SECONDS`), as presence does. Opening checks the count and adds
in one script, so handshakes racing on several workers cannot all slip under the cap.
"""

from __future__ import annotations

import time

from django.conf import settings

from cs_platform.redis_clients import async_client, sync_client

# Drop the expired entries, count the live ones, add this socket if there is room. 1: added; 0: full.
_OPEN_SCRIPT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local cap = tonumber(ARGV[3])
if cap > 0 and redis.call('ZCARD', KEYS[1]) >= cap then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""


def _key(role: str, owner_id: int) -> str:
    return f"{settings.REDIS_PREFIX}:sockets:{role}:{owner_id}"


def socket_cap(role: str) -> int:
    """Most sockets one customer or agent may hold open at once; 0 for no cap."""
    return settings.CHAT_MAX_SOCKETS_PER_AGENT if role == "agent" else settings.CHAT_MAX_SOCKETS_PER_CUSTOMER


async def socket_open(*, role: str, owner_id: int, connection: str) -> bool:
    """Count this socket in, unless its owner already holds `socket_cap(role)` live ones (then False)."""
    ttl = settings.CHAT_PRESENCE_TTL_SECONDS
    now = time.time()
    client = async_client()
    added = await client.register_script(_OPEN_SCRIPT)(
        keys=[_key(role, owner_id)], args=[now, now + ttl, socket_cap(role), connection, ttl * 2]
    )
    return added == 1


async def socket_renew(*, role: str, owner_id: int, connection: str) -> None:
    """Push this socket's expiry forward (and count it in again if Redis lost it)."""
    ttl = settings.CHAT_PRESENCE_TTL_SECONDS
    key = _key(role, owner_id)
    async with async_client().pipeline(transaction=True) as pipe:
        pipe.zadd(key, {connection: time.time() + ttl})
        pipe.expire(key, ttl * 2)
        await pipe.execute()


async def socket_close(*, role: str, owner_id: int, connection: str) -> None:
    """Remove exactly this socket, never another one of the same owner."""
    await async_client().zrem(_key(role, owner_id), connection)


def socket_live(*, role: str, owner_id: int) -> bool:
    """Whether the owner holds a live socket on any worker now (a crashed worker's entries count until they
    expire). From sync code: Celery tasks."""
    count: int = sync_client().zcount(_key(role, owner_id), time.time(), "+inf")
    return count > 0
