"""The product's own Redis connections (presence, routing state), one pool per process and event loop.

The channel layer and Celery keep their own; keys made here start with `settings.REDIS_PREFIX`.
"""

from __future__ import annotations

import asyncio

import redis
import redis.asyncio as aioredis
from django.conf import settings

_sync_client: redis.Redis | None = None
_async_clients: dict[asyncio.AbstractEventLoop, aioredis.Redis] = {}


def sync_client() -> redis.Redis:
    global _sync_client
    if _sync_client is None:
        _sync_client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=5)
    return _sync_client


def async_client() -> aioredis.Redis:
    """A client bound to the running event loop (redis.asyncio connections cannot cross loops)."""
    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        client = aioredis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=5)
        _async_clients[loop] = client
    return client
