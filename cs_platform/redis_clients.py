"""The product's own Redis connections (presence, routing state), one pool per process and event loop.

The channel layer and Celery keep their own; keys made here start with `settings.REDIS_PREFIX`.

Each pool holds up to `REDIS_MAX_CONNECTIONS` connections, and a caller finding them all busy waits for one (up
to `REDIS_POOL_TIMEOUT` seconds) instead of failing: with redis-py's default pool (100, then an error at once),
200 agent sockets reconnecting together lost presence registrations and removals.
"""

from __future__ import annotations

import asyncio

import redis
import redis.asyncio as aioredis
from django.conf import settings

_sync_client: redis.Redis | None = None
_async_clients: dict[asyncio.AbstractEventLoop, aioredis.Redis] = {}

_SOCKET_TIMEOUTS = {"socket_timeout": 5, "socket_connect_timeout": 5}


def sync_client() -> redis.Redis:
    global _sync_client
    if _sync_client is None:
        pool = redis.BlockingConnectionPool.from_url(
            settings.REDIS_URL,
            max_connections=settings.REDIS_MAX_CONNECTIONS,
            timeout=settings.REDIS_POOL_TIMEOUT,
            **_SOCKET_TIMEOUTS,
        )
        _sync_client = redis.Redis(connection_pool=pool)
    return _sync_client


def async_client() -> aioredis.Redis:
    """A client bound to the running event loop (redis.asyncio connections cannot cross loops)."""
    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        pool = aioredis.BlockingConnectionPool.from_url(
            settings.REDIS_URL,
            max_connections=settings.REDIS_MAX_CONNECTIONS,
            timeout=settings.REDIS_POOL_TIMEOUT,
            **_SOCKET_TIMEOUTS,
        )
        client = aioredis.Redis(connection_pool=pool)
        _async_clients[loop] = client
    return client
