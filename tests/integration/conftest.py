"""Fixtures for tests with real processes: two Daphne workers on the test database and the shared Redis."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import redis
from django.conf import settings
from django.db import connection

from tests.integration.harness import Worker, database_url, worker_env

REDIS_PREFIX = f"cstest{os.getpid()}"


@pytest.fixture(scope="session")
def live_workers(
    django_db_setup: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Worker, Worker]]:
    """Two workers for the whole session; they hold no database connection between requests."""
    env = worker_env(
        database=database_url(connection.settings_dict), redis_url=settings.REDIS_URL, redis_prefix=REDIS_PREFIX
    )
    log_dir = tmp_path_factory.mktemp("workers")
    workers = (Worker(name="worker1", env=env, log_dir=log_dir), Worker(name="worker2", env=env, log_dir=log_dir))
    try:
        for worker in workers:
            worker.start()
        yield workers
    finally:
        for worker in workers:
            worker.kill()
        _forget_redis_keys(REDIS_PREFIX)


def _forget_redis_keys(prefix: str) -> None:
    """Deletes this session's keys only; other runs share this Redis."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=500))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start:start + 500])
    finally:
        client.close()


@pytest.fixture
def workers(live_workers: tuple[Worker, Worker], request: pytest.FixtureRequest) -> tuple[Worker, Worker]:
    """Both workers running at the start of the test (a test may kill one); their logs join a failure report."""
    for worker in live_workers:
        worker.ensure_running()
    request.node.worker_log_offsets = {worker: worker.log_size() for worker in live_workers}
    return live_workers


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    report = yield
    offsets: dict[Worker, int] | None = getattr(item, "worker_log_offsets", None)
    if report.failed and offsets:
        for worker, offset in offsets.items():
            report.sections.append((f"{worker.name} log (port {worker.port})", worker.log_text(since=offset)))
    return report

