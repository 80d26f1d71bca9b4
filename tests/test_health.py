"""`GET /healthz`: 200 when PostgreSQL and Redis answer, 503 (never 500) when either does not."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import connections


@contextmanager
def _database_at(*, host: str, port: int) -> Iterator[None]:
    """Point the default connection (and a pool of its own, waiting 1 s for a connection) at another server for
    the duration, then restore it."""
    connection = connections["default"]
    saved = {**connection.settings_dict, "OPTIONS": dict(connection.settings_dict["OPTIONS"])}
    connection.close()
    connection.close_pool()
    connection.settings_dict.update(HOST=host, PORT=str(port))
    connection.settings_dict["OPTIONS"] = {**saved["OPTIONS"], "pool": {**saved["OPTIONS"]["pool"], "timeout": 1}}
    try:
        yield
    finally:
        connection.close()
        connection.close_pool()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)


@pytest.mark.django_db
def test_healthz_is_200_when_database_and_redis_answer(client):
    # when
    response = client.get("/healthz")

    # then
    assert response.status_code == 200
    body = response.json()
    assert body["database"] == "ok"
    assert body["redis"] == "ok"


@pytest.mark.django_db
def test_healthz_is_503_when_redis_is_stopped(client, settings, throwaway_redis):
    # given a Redis that answers, then stops
    settings.REDIS_URL = throwaway_redis.url
    assert client.get("/healthz").status_code == 200
    throwaway_redis.stop()

    # when
    response = client.get("/healthz")

    # then
    assert response.status_code == 503
    body = response.json()
    assert body["redis"].startswith("down")
    assert body["database"] == "ok"


@pytest.mark.django_db(transaction=True)
def test_healthz_is_503_when_the_database_is_unreachable(client, unused_tcp_port):
    # given the database connection pointed at a port where no server listens
    with _database_at(host="127.0.0.1", port=unused_tcp_port):
        # when
        response = client.get("/healthz")

    # then
    assert response.status_code == 503
    body = response.json()
    assert body["database"].startswith("down")
    assert body["redis"] == "ok"
