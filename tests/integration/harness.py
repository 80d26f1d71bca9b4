"""The tests' side of the harness (cs_platform/stack.py starts the processes): stacks on the pytest-django test
database and the shared Redis under a key prefix of their own, and the HTTP calls that set a chat up.

The processes are separate from the test process, so the tests see the product exactly as a load balancer's
clients would. None holds a database connection between requests or tasks, so the database can be flushed between
tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.db import connection

from cs_platform.stack import Stack, WebWorker, forget_redis_keys, http_json, process_env, running


def database_url(settings_dict: dict[str, Any]) -> str:
    """A libpq URL for Django's connection settings (TCP host, or a Unix socket folder as `?host=`)."""
    user = quote(settings_dict.get("USER") or "", safe="")
    password = settings_dict.get("PASSWORD") or ""
    credentials = f"{user}:{quote(password, safe='')}" if password else user
    host = settings_dict.get("HOST") or ""
    socket_dir = (settings_dict.get("OPTIONS") or {}).get("host") or (host if host.startswith("/") else "")
    name = quote(settings_dict["NAME"], safe="")
    if socket_dir:
        return f"postgresql://{credentials}@/{name}?host={quote(socket_dir, safe='/')}"
    port = settings_dict.get("PORT")
    netloc = f"{host}:{port}" if port else host
    return f"postgresql://{credentials}@{netloc}/{name}"


def worker_env(*, database: str, redis_url: str, redis_prefix: str) -> dict[str, str]:
    """The environment of a test's processes: the given database, Redis under a prefix of this session."""
    return process_env(
        database_url=database,
        redis_url=redis_url,
        redis_prefix=redis_prefix,
        # Every test signs in and opens sessions from 127.0.0.1 on workers that live for the whole session; the
        # limits themselves are tested on workers of their own (test_rate_limits.py).
        WIDGET_SESSION_RATE="none",
        LOGIN_RATE="none",
        DJANGO_SETTINGS_MODULE="tests.worker_settings",
    )


@contextmanager
def stack_running(env: dict[str, str], log_dir: Path, **shape: Any) -> Iterator[Stack]:
    """`Stack.of(env, log_dir, **shape)` (two web workers, a Celery worker and beat unless `shape` says otherwise),
    its Celery workers serving their metrics; stopped, by their own pids, when the block ends."""
    with running(Stack.of(env, log_dir, metrics=True, **shape)) as stack:
        yield stack


@contextmanager
def stack_on_test_database(
    log_dir: Path, *, redis_prefix: str, env: dict[str, str] | None = None, **shape: Any
) -> Iterator[Stack]:
    """A stack on the test database and the shared Redis under `redis_prefix` (`env`: more settings), whose keys
    are deleted once it stopped."""
    stack_env = worker_env(
        database=database_url(connection.settings_dict), redis_url=settings.REDIS_URL, redis_prefix=redis_prefix
    )
    stack_env.update(env or {})
    try:
        with stack_running(stack_env, log_dir, **shape) as stack:
            yield stack
    finally:
        forget_redis_keys(settings.REDIS_URL, redis_prefix)


def customer_session(worker: WebWorker, business_line: str, **fields: Any) -> dict[str, Any]:
    """`POST /api/widget/session/`: a customer token for the business line's widget."""
    status, body = http_json(
        "POST", f"{worker.url}/api/widget/session/", {"business_line": business_line, "channel": "web", **fields}
    )
    assert status in (200, 201), f"widget session: {status} {body}"
    return body


def agent_login(worker: WebWorker, username: str, password: str = "pw") -> dict[str, Any]:
    """`POST /api/auth/token/`: an agent's API token and id."""
    status, body = http_json("POST", f"{worker.url}/api/auth/token/", {"username": username, "password": password})
    assert status == 200, f"auth token: {status} {body}"
    return body


def transcript(worker: WebWorker, conversation_id: int, token: str) -> list[dict[str, Any]]:
    """Every message of a conversation through `GET /api/conversations/{id}/messages/`, paging by `after_seq`."""
    messages: list[dict[str, Any]] = []
    for _ in range(100):
        after_seq = messages[-1]["seq"] if messages else 0
        status, body = http_json(
            "GET", f"{worker.url}/api/conversations/{conversation_id}/messages/?after_seq={after_seq}", token=token
        )
        assert status == 200, f"transcript: {status} {body}"
        messages.extend(body["messages"])
        if not body["has_more"]:
            return messages
    raise AssertionError("transcript: more than 100 pages")
