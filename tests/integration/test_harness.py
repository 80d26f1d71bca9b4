"""The harness itself (cs_platform/stack.py): real workers on the test database and Redis, killable and
restartable; a stack that cannot start leaves nothing running."""

import signal
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from cs_platform.stack import WebWorker, http_json, start_all
from tests.integration.harness import database_url, worker_env

integration = pytest.mark.integration
live_db = pytest.mark.django_db(transaction=True)


@integration
@live_db
def test_both_workers_reach_the_database_and_redis(workers):
    # Given two workers started by the harness
    # When each is asked for its health
    answers = [http_json("GET", f"{worker.url}/healthz") for worker in workers]

    # Then both answer 200 with both backing services up, on two distinct ports
    assert answers == [(200, {"status": "ok", "database": "ok", "redis": "ok"})] * 2
    assert workers[0].port != workers[1].port


@integration
@live_db
def test_a_killed_worker_comes_back_on_its_port(workers):
    # Given a worker killed without warning
    worker = workers[0]
    port = worker.port
    worker.kill()
    assert not worker.alive
    assert worker.process.returncode == -signal.SIGKILL
    with pytest.raises(OSError):
        http_json("GET", f"{worker.url}/healthz")

    # When it is restarted
    worker.restart()

    # Then it serves again on the same port
    assert worker.port == port
    assert http_json("GET", f"{worker.url}/healthz")[0] == 200


@integration
@live_db
def test_uvicorn_serves_as_a_web_worker_and_stops_cleanly(tmp_path: Path):
    # Given a web worker run by uvicorn, as the benchmark's `--server uvicorn` starts it
    env = worker_env(
        database=database_url(connection.settings_dict), redis_url=settings.REDIS_URL, redis_prefix="csharness"
    )
    worker = WebWorker(name="uvicorn", env=env, log_dir=tmp_path, server="uvicorn")
    worker.start()
    try:
        # When it is asked for its health
        answer = http_json("GET", f"{worker.url}/healthz")
    finally:
        # ... and then stopped
        worker.stop()

    # Then it answered as Daphne does, and shut down on SIGTERM within the grace (no SIGKILL needed)
    assert answer == (200, {"status": "ok", "database": "ok", "redis": "ok"})
    assert worker.process.returncode == -signal.SIGTERM
    assert "Uvicorn running on" in worker.log_text()
    assert "Finished server process" in worker.log_text()


@integration
@live_db
def test_a_stack_that_cannot_start_stops_what_it_started(tmp_path: Path):
    # Given two web workers, the second with a setting its settings refuse
    env = worker_env(
        database=database_url(connection.settings_dict), redis_url=settings.REDIS_URL, redis_prefix="csharness"
    )
    good = WebWorker(name="good", env=env, log_dir=tmp_path)
    bad = WebWorker(name="bad", env={**env, "CS_ENV": "nonsense"}, log_dir=tmp_path)

    # When they are started together
    with pytest.raises(RuntimeError) as failure:
        start_all([good, bad])

    # Then the failure names the process and shows its log, and the one that did start was stopped
    assert str(failure.value).startswith("bad exited during start-up")
    assert "CS_ENV must be one of" in str(failure.value)
    assert good.process is not None and not good.alive


@pytest.mark.parametrize(
    ("settings_dict", "url"),
    [
        (
            {"NAME": "test_x", "USER": "postgres", "HOST": "127.0.0.1", "PORT": 5432},
            "postgresql://postgres@127.0.0.1:5432/test_x",
        ),
        (
            {"NAME": "test_x", "USER": "postgres", "HOST": "", "OPTIONS": {"host": "/tmp/pg"}},
            "postgresql://postgres@/test_x?host=/tmp/pg",
        ),
        (
            {"NAME": "test_x", "USER": "u", "PASSWORD": "p@ss", "HOST": "db", "PORT": ""},
            "postgresql://u:p%40ss@db/test_x",
        ),
    ],
)
def test_database_url_follows_the_connection_settings(settings_dict, url):
    # Given Django's connection settings for a TCP host, a Unix socket folder, or a password to escape
    # Then the workers are given the libpq URL of the same database
    assert database_url(settings_dict) == url
