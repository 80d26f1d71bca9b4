"""Abuse on real web workers: the rate limits hold across workers (every worker counts in the same Redis), and
no token of a query string reaches a worker's log."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from cs_platform.stack import WebWorker, http_json
from tests.factories import AgentFactory, BusinessLineFactory, UserFactory
from tests.integration.harness import stack_on_test_database

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

REDIS_PREFIX = f"cstestlimits{os.getpid()}"


@pytest.fixture(scope="module")
def limited_workers(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[WebWorker, ...]]:
    """Two web workers with small limits of their own (4 widget sessions, 3 logins a minute)."""
    with stack_on_test_database(
        tmp_path_factory.mktemp("limited-workers"),
        redis_prefix=REDIS_PREFIX,
        env={"WIDGET_SESSION_RATE": "4/m", "LOGIN_RATE": "3/m"},
        celery=0,
        beat=False,
    ) as stack:
        yield stack.web


def test_widget_sessions_are_counted_across_workers(limited_workers):
    line = BusinessLineFactory()
    session = {"business_line": line.key, "channel": "web"}

    # When one address opens sessions on both workers in turn
    answers = [http_json("POST", f"{limited_workers[n % 2].url}/api/widget/session/", session) for n in range(5)]

    # Then the fifth is refused, though each worker saw fewer than five
    assert [status for status, _ in answers] == [201, 201, 201, 201, 429]
    assert answers[-1][1]["code"] == "rate_limited"


def test_logins_are_counted_across_workers_and_lock_out(limited_workers):
    AgentFactory(user=UserFactory(username="limited-ann"))

    def login(worker: WebWorker, password: str) -> tuple[int, dict]:
        return http_json("POST", f"{worker.url}/api/auth/token/", {"username": "limited-ann", "password": password})

    wrong = [login(limited_workers[n % 2], "x") for n in range(3)]

    # When the right password comes next, on either worker
    right = login(limited_workers[1], "pw")

    # Then it is refused until the window ends
    assert [status for status, _ in wrong] == [400, 400, 400]
    assert right[0] == 429 and right[1]["code"] == "rate_limited"


def test_a_query_token_never_reaches_the_access_log(limited_workers):
    worker = limited_workers[0]
    secret = "f00dfeed" * 5
    offset = worker.log_size()

    status, _ = http_json("GET", f"{worker.url}/api/customers/0/conversations/?token={secret}&probe=1")

    # the access log line of that request (Daphne writes it when the answer is sent)
    deadline = time.monotonic() + 10
    while "probe=1" not in worker.log_text(offset) and time.monotonic() < deadline:
        time.sleep(0.05)
    log = worker.log_text(offset)
    assert status == 401
    assert "/api/customers/0/conversations/?token=[redacted]&probe=1" in log, log
    assert secret not in log
