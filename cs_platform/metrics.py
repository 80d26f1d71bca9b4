"""What the product counts for Prometheus, and the one-line hooks the rest of the code calls to count it.

Every name starts with `cs_`; docs/operations.md ("Monitoring") lists them with example alerts. The product
only counts and times: rates are Prometheus's work. A web worker serves its own process's figures at
`GET /metrics` (cs_platform/metrics_view.py, which adds the queue figures read at scrape time); a Celery worker
serves the sum over its pool's processes on `CELERY_METRICS_PORT` (cs_platform/celery_signals.py).
"""

from __future__ import annotations

import functools
import time
from typing import Any, Literal

import psycopg
from django.db import Error as DjangoDatabaseError
from django.db import transaction
from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase
from redis.exceptions import RedisError

OPEN_SOCKETS = Gauge(
    "cs_open_sockets",
    "Authenticated WebSocket connections this worker holds now, by role.",
    ["role"],
    multiprocess_mode="livesum",
)
FRAMES_RECEIVED = Counter(
    "cs_frames_received",
    "Frames received from clients that passed the framing checks, by role and frame type ('unknown' for others).",
    ["role", "type"],
)
FRAMES_SENT = Counter("cs_frames_sent", "Frames sent to clients, by role and frame type.", ["role", "type"])
ERROR_FRAMES = Counter("cs_error_frames", "`error` frames sent to clients, by role and error code.", ["role", "code"])
MESSAGES_STORED = Counter(
    "cs_messages_stored", "Messages committed to the database, by sender (customer, agent, system).", ["sender"]
)
MESSAGE_SEND_SECONDS = Histogram(
    "cs_message_send_seconds",
    "From a `message.send` frame being handled to its `message.ack` sent (stored, committed, published).",
    ["role"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
ASSIGNMENT_WAIT_SECONDS = Histogram(
    "cs_assignment_wait_seconds",
    "From a conversation entering the queue (start or requeue) to its assignment, by business line.",
    ["business_line"],
    buckets=(0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0),
)
TASK_FAILURES = Counter("cs_task_failures", "Celery tasks that raised, by task name.", ["task"])
REDIS_ERRORS = Counter("cs_redis_errors", "Redis errors the product caught and lived with, by where.", ["where"])
DATABASE_ERRORS = Counter(
    "cs_database_errors", "Database errors the product caught and lived with, by where.", ["where"]
)
INTERNAL_ERRORS = Counter(
    "cs_internal_errors", "Other unexpected errors the product caught and lived with, by where.", ["where"]
)

# Sockets counted by this worker: a socket is counted once, however often its clean-up runs.
_held_sockets: set[str] = set()


@functools.cache
def _child(metric: MetricWrapperBase, *labels: str) -> Any:
    """A labelled series, looked up once: `labels()` costs several times the increment, on every frame."""
    return metric.labels(*labels)


def socket_opened(role: str, channel_name: str) -> None:
    if channel_name not in _held_sockets:
        _held_sockets.add(channel_name)
        _child(OPEN_SOCKETS, role).inc()


def socket_closed(role: str, channel_name: str) -> None:
    if channel_name in _held_sockets:
        _held_sockets.discard(channel_name)
        _child(OPEN_SOCKETS, role).dec()


def frame_received(role: str, frame_type: str) -> None:
    """`frame_type` is a type the socket handles, or 'unknown': the label's values stay few."""
    _child(FRAMES_RECEIVED, role, frame_type).inc()


def frame_sent(role: str, frame: dict[str, Any]) -> None:
    _child(FRAMES_SENT, role, frame["type"]).inc()
    if frame["type"] == "error":
        _child(ERROR_FRAMES, role, frame["code"]).inc()


def message_send_timed(role: str, started: float) -> None:
    """`started` is the `time.perf_counter()` taken when the frame's handling began."""
    _child(MESSAGE_SEND_SECONDS, role).observe(time.perf_counter() - started)


def message_stored_on_commit(sender: str) -> None:
    transaction.on_commit(_child(MESSAGES_STORED, sender).inc)


def assignment_timed_on_commit(*, business_line: str, waited_seconds: float) -> None:
    series = ASSIGNMENT_WAIT_SECONDS.labels(business_line)
    transaction.on_commit(lambda: series.observe(max(waited_seconds, 0.0)))


def task_failed(task_name: str) -> None:
    TASK_FAILURES.labels(task_name).inc()


def error_caught(where: str, error: BaseException, *, backend: Literal["redis", "database"] | None = None) -> None:
    """Count an error that was caught (and logged) where it happened, as a Redis, database or other error.

    `backend` names the one server the failed code talks to, where the error's type may not say it (a
    connection refused is an `OSError` to some clients); otherwise the type decides.
    """
    if backend == "redis" or isinstance(error, RedisError):
        REDIS_ERRORS.labels(where).inc()
    elif backend == "database" or isinstance(error, (DjangoDatabaseError, psycopg.Error)):
        DATABASE_ERRORS.labels(where).inc()
    else:
        INTERNAL_ERRORS.labels(where).inc()
