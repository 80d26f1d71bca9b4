"""The Celery app: Redis as broker, configuration and the beat schedule read from Django settings."""

import os

from celery import Celery
from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cs_platform.settings")


def _closed_broker_connection_is_a_connection_error() -> None:
    """Keep the Celery worker alive when Redis goes away while a task is running (kombu 5.7, celery 5.7).

    With `acks_late`, a running task is an unacknowledged message. When the broker connection breaks, the
    worker's consumer closes it twice: `Connection.collect()` first, where closing the channel stops at the
    blocking BRPOP read that fails on the dead socket, leaving the channel open, and which then detaches the
    transport (`client = None`); then `Connection.close()`, which closes the channel again and tries to give the
    unacknowledged message back to Redis through a new connection pool, built from the detached transport:
    AttributeError ("'NoneType' object has no attribute 'hostname'"). Celery expects only connection errors there,
    so it logged "Unrecoverable error" and the worker shut down instead of reconnecting; nothing was routed any more
    (tests/integration/test_redis_restart.py). Raised as a connection error, it is logged and the worker
    reconnects as after any broker outage. Nothing more is lost: if Redis kept its data, the message is still in
    its unacked hash and is redelivered after the visibility timeout; after a restart it is gone either way; the
    routing tasks are idempotent and the sweep does their work.
    """
    # celery-types' kombu stubs leave out the private `_connparams`.
    original = kombu_redis.Channel._connparams  # type: ignore[attr-defined]

    def _connparams(self, asynchronous=False):
        if self.connection.client is None:
            raise RedisConnectionError("The broker connection is closed")
        return original(self, asynchronous=asynchronous)

    kombu_redis.Channel._connparams = _connparams  # type: ignore[attr-defined]


_closed_broker_connection_is_a_connection_error()

# Before the app: its signal receivers must run before those of the app's Django fix-up (cs_platform/celery_signals.py).
from cs_platform import celery_signals  # noqa: E402,F401

app = Celery("cs_platform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
