"""Rate limits shared by every process: moving windows in Redis (the `limits` library's, one Lua script a hit).

A rate is written as DRF writes it, `N/period` with the period `s`, `m`, `h` or `d` (`30/m`, `10/minute`), or
`none` for no limit, and means what DRF's throttles mean: at most N accepted attempts in any period. Refused
attempts are not counted, so a key over its rate is refused, whatever it carries (a right password too), until its
oldest counted attempt is a period old. `rate_limit_hit` counts one attempt under each of its keys (a username and
an address, say): logins, widget sessions and whatever needs a limit next share this one limiter. Keys live under
`REDIS_PREFIX:limits:` and expire by themselves.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from limits import RateLimitItemPerSecond
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter
from redis.exceptions import RedisError

if TYPE_CHECKING:
    from django.http import HttpRequest

logger = logging.getLogger(__name__)

_PERIOD_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RATE = re.compile(r"(\d+)/([smhd])[a-z]*", re.IGNORECASE)
_limiters: dict[tuple[str, str], MovingWindowRateLimiter] = {}


@dataclass(frozen=True)
class Rate:
    count: int
    seconds: int


def parse_rate(value: str | None) -> Rate | None:
    """`30/m` -> Rate(30, 60); `none`, empty or None -> None (no limit). Raises ValueError on anything else."""
    text = (value or "").strip()
    if text.lower() in ("", "none"):
        return None
    match = _RATE.fullmatch(text)
    if match is None:
        raise ValueError(f"{value!r} is not a rate: write N/s, N/m, N/h or N/d (e.g. 30/m), or none")
    return Rate(count=int(match[1]), seconds=_PERIOD_SECONDS[match[2].lower()])


def rate_setting(name: str, value: str) -> str | None:
    """A rate setting read at start-up: a malformed one stops the process instead of silently limiting nothing."""
    try:
        return None if parse_rate(value) is None else value.strip()
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}: {exc}") from None


def rate_limit_key_prefix() -> str:
    return f"{settings.REDIS_PREFIX}:limits"


def _limiter() -> MovingWindowRateLimiter:
    """One Redis connection pool per process (and per Redis and prefix, which tests change)."""
    place = (settings.REDIS_URL, rate_limit_key_prefix())
    limiter = _limiters.get(place)
    if limiter is None:
        storage = RedisStorage(place[0], key_prefix=place[1], socket_timeout=2, socket_connect_timeout=2)
        limiter = _limiters[place] = MovingWindowRateLimiter(storage)
    return limiter


def rate_limit_hit(*, scope: str, keys: Iterable[str], rate: str | None) -> int | None:
    """Count one attempt under each key of `scope`; while any key is over `rate`, the seconds (at least 1) until
    it may try again, else None.

    Fails open: when Redis cannot be reached the attempt goes through, with a warning in the log, so an outage of
    Redis never locks everyone out of the admin.
    """
    parsed = parse_rate(rate)
    if parsed is None:
        return None
    item = RateLimitItemPerSecond(parsed.count, parsed.seconds)
    limiter = _limiter()
    wait: int | None = None
    try:
        for key in keys:
            # Hashed: bounded key names, and no usernames or addresses readable in Redis.
            identifier = hashlib.sha256(key.encode()).hexdigest()[:32]
            if not limiter.hit(item, scope, identifier):
                reset_at = limiter.get_window_stats(item, scope, identifier).reset_time
                wait = max(wait or 1, math.ceil(reset_at - time.time()))
    except (RedisError, OSError) as exc:
        logger.warning("rate limit %s not counted, Redis unavailable: %r", scope, exc)
        return None
    return wait


def client_address(request: HttpRequest) -> str:
    """Who is asking, for limits per address: the connection's address, or the one the `NUM_PROXIES` trusted
    proxies in front saw (DRF's rule, from X-Forwarded-For). An IPv6 address counts as its /64, which one
    subscriber usually holds whole."""
    from rest_framework.throttling import BaseThrottle

    # The stub asks for DRF's Request; get_ident reads only `request.META`, which a Django request has.
    ident = BaseThrottle().get_ident(request) or "unknown"  # type: ignore[arg-type]
    try:
        address = ipaddress.ip_address(ident)
    except ValueError:
        return ident
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False).network_address)
    return str(address)
