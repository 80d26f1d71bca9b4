"""Fixtures for tests with real processes: two Daphne workers and a Celery worker on the test database and
the shared Redis."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.db import connection

from tests.integration.harness import CeleryWorker, Process, Worker, database_url, forget_redis_keys, worker_env

REDIS_PREFIX = f"cstest{os.getpid()}"


@pytest.fixture(scope="session")
def live_processes(
    django_db_setup: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Worker, Worker, CeleryWorker]]:
    """Two web workers and a Celery worker for the whole session; none holds a database connection between
    requests or tasks, so the database can be flushed between tests."""
    env = worker_env(
        database=database_url(connection.settings_dict), redis_url=settings.REDIS_URL, redis_prefix=REDIS_PREFIX
    )
    log_dir = tmp_path_factory.mktemp("processes")
    processes = (
        Worker(name="worker1", env=env, log_dir=log_dir),
        Worker(name="worker2", env=env, log_dir=log_dir),
        CeleryWorker(name="celery", env=env, log_dir=log_dir),
    )
    try:
        for process in processes:
            process.start()
        yield processes
    finally:
        for process in processes:
            process.kill()
        forget_redis_keys(REDIS_PREFIX)


@pytest.fixture
def workers(
    live_processes: tuple[Worker, Worker, CeleryWorker], request: pytest.FixtureRequest
) -> tuple[Worker, Worker]:
    """Both web workers (and Celery) running at the start of the test, which may kill one; their logs join
    a failure report."""
    for process in live_processes:
        process.ensure_running()
    request.node.process_log_offsets = {process: process.log_size() for process in live_processes}
    return live_processes[0], live_processes[1]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    report = yield
    offsets: dict[Process, int] | None = getattr(item, "process_log_offsets", None)
    if report.failed and offsets:
        for process, offset in offsets.items():
            report.sections.append((f"{process.name} log", process.log_text(since=offset)))
    return report
