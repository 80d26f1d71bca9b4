"""Rate limits shared by every process: fixed-window counters in Redis (django-ratelimit on Django's cache).

A rate is written as DRF writes it, `N/period` with the period `s`, `m`, `h` or `d` (`30/m`, `10/minute`), or
`none` for no limit. `rate_limit_hit` counts one attempt under each of its keys (a username and an address, say)
and answers how long to wait while any of them is over the rate: logins, widget sessions and whatever needs a
limit next share this one counter. A window starts with the first attempt of a key; once a key is over, every
attempt is refused until its window ends, whatever it carries (a right password too).
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.core.exceptions import ImproperlyConfigured
from redis.exceptions import RedisError

if TYPE_CHECKING:
    from django.http import HttpRequest

logger = logging.getLogger(__name__)

_PERIOD_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RATE = re.compile(r"(\d+)/([smhd])[a-z]*", re.IGNORECASE)


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


def rate_limit_hit(*, scope: str, keys: Iterable[str], rate: str | None) -> int | None:
    """Count one attempt under each key of `scope`; while any key is over `rate`, the seconds (at least 1) until
    its window ends, else None.

    Fails open: when Redis cannot be reached the attempt goes through, with a warning in the log, so an outage of
    the cache never locks everyone out of the admin.
    """
    parsed = parse_rate(rate)
    if parsed is None:
        return None
    from django_ratelimit.core import get_usage

    wait: int | None = None
    for key in keys:
        try:
            usage = get_usage(
                None, group=scope, key=lambda _group, _request, value=key: value,
                rate=(parsed.count, parsed.seconds), increment=True,
            )
        except (RedisError, OSError) as exc:
            logger.warning("rate limit %s not counted, Redis unavailable: %r", scope, exc)
            return None
        if usage is not None and usage["should_limit"]:
            wait = max(wait or 1, usage["time_left"])
    return wait


def client_address(request: HttpRequest) -> str:
    """Who is asking, for limits per address: the connection's address, or the one the `NUM_PROXIES` trusted
    proxies in front saw (DRF's rule, from X-Forwarded-For). An IPv6 address counts as its /64, which one
    subscriber usually holds whole."""
    from rest_framework.throttling import BaseThrottle

    ident = BaseThrottle().get_ident(request) or "unknown"
    try:
        address = ipaddress.ip_address(ident)
    except ValueError:
        return ident
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False).network_address)
    return str(address)
