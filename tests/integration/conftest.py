"""Fixtures for tests with real processes: two web workers and a Celery worker on the test database and the shared
Redis (tests/integration/harness.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from cs_platform.stack import Stack, WebWorker
from tests.integration.harness import stack_on_test_database

REDIS_PREFIX = f"cstest{os.getpid()}"


@pytest.fixture(scope="session")
def live_processes(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Two web workers and a Celery worker (no beat) for the whole session."""
    with stack_on_test_database(tmp_path_factory.mktemp("processes"), redis_prefix=REDIS_PREFIX, beat=False) as stack:
        yield stack


@pytest.fixture
def workers(live_processes: Stack, request: pytest.FixtureRequest) -> tuple[WebWorker, WebWorker]:
    """Both web workers (and Celery) running at the start of the test, which may kill one; their logs join
    a failure report."""
    live_processes.ensure_running()
    request.node.process_log_offsets = live_processes.log_offsets()
    web1, web2 = live_processes.web
    return web1, web2
