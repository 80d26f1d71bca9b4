"""One socket's pushes of a picture that changes often (the agents' waiting queue, the supervisors' floor).

A change announced to the socket asks for a fresh read; reads are at most one per interval, and a change within
the interval makes one read after it (a trailing read), so the last state always goes out. Used by the agent
socket's `queue.snapshot` and the supervisor socket's `monitor.snapshot`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from cs_platform import metrics

logger = logging.getLogger(__name__)


class CoalescedPush:
    """Reads and sends through `read_and_send`, at most once per `interval()` seconds for `soon()`."""

    def __init__(
        self,
        read_and_send: Callable[[], Awaitable[None]],
        *,
        interval: Callable[[], float],
        name: str,
        who: Callable[[], str],
    ) -> None:
        self._read_and_send = read_and_send
        self._interval = interval
        self._name = name
        self._who = who
        self._task: asyncio.Task[None] | None = None
        self._read_at = 0.0

    async def now(self) -> None:
        """Read and send at once (the first picture, an explicit refresh)."""
        self._read_at = time.monotonic()
        await self._read_and_send()

    def soon(self) -> None:
        """A change was announced: read now, or when the interval since the last read is over."""
        if self._task is not None:
            return
        delay = self._read_at + self._interval() - time.monotonic()
        self._task = asyncio.create_task(self._later(max(delay, 0.0)))

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _later(self, delay: float) -> None:
        await asyncio.sleep(delay)
        self._task = None  # a change announced from now on is not in the read below: it schedules the next
        try:
            await self.now()
        except Exception as error:
            logger.exception("%s: %s failed; the next change sends one", self._who(), self._name)
            metrics.error_caught(self._name, error)
