"""The flush between tests with real processes survives a deadlock with one of them (tests/conftest.py's
`flush_retried_after_a_deadlock`): CI once started a browser test on the rows its predecessor left behind."""

from __future__ import annotations

import re
import threading
import time

import psycopg
import pytest
from django.core.management.color import no_style
from django.core.management.sql import sql_flush
from django.db import connection
from django.test import TransactionTestCase

from routing.models import BusinessLine
from tests.factories import BusinessLineFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _own_session() -> psycopg.Connection:
    """A session of its own on the test database, as a Daphne or Celery worker has."""
    params = {
        key: value
        for key, value in connection.get_connection_params().items()
        if key not in ("cursor_factory", "context")
    }
    return psycopg.connect(**params, autocommit=True)


def _flush_blocked_on(table: str) -> bool:
    with _own_session() as observer:
        waiting = observer.execute(
            "SELECT count(*) FROM pg_locks JOIN pg_class ON pg_class.oid = pg_locks.relation "
            "WHERE NOT granted AND mode = 'AccessExclusiveLock' AND relname = %s",
            (table,),
        ).fetchone()
    return waiting == (1,)


def test_a_flush_deadlocked_with_a_worker_is_tried_again_and_empties_the_database():
    BusinessLineFactory(name="Acme Shop")
    (truncate,) = sql_flush(no_style(), connection)
    tables = re.findall(r'"([^"]+)"', truncate)
    first, last = tables[0], tables[-1]
    worker_errors: list[BaseException] = []

    def worker() -> None:
        """Holds the last table the flush locks, waits until the flush queues for it, then asks for the first."""
        try:
            with _own_session() as session, session.transaction():
                session.execute(f'LOCK TABLE "{last}" IN ROW EXCLUSIVE MODE')
                deadline = time.monotonic() + 10
                while not _flush_blocked_on(last):
                    assert time.monotonic() < deadline, "the flush never queued for the worker's table"
                    time.sleep(0.05)
                session.execute(f'LOCK TABLE "{first}" IN ROW EXCLUSIVE MODE')
        except BaseException as error:
            worker_errors.append(error)

    thread = threading.Thread(target=worker)
    thread.start()
    case = TransactionTestCase()
    case.databases = {"default"}
    try:
        case._fixture_teardown()
    finally:
        thread.join(timeout=30)

    assert worker_errors == []
    assert not BusinessLine.objects.exists()
