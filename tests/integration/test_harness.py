"""The harness itself: two real workers on the test database and Redis, killable and restartable."""

import signal

import pytest

from tests.integration.harness import database_url, http_json

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
    worker.kill(signal.SIGKILL)
    assert not worker.alive
    with pytest.raises(OSError):
        http_json("GET", f"{worker.url}/healthz")

    # When it is restarted
    worker.restart()

    # Then it serves again on the same port
    assert worker.port == port
    assert http_json("GET", f"{worker.url}/healthz")[0] == 200


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
