"""The flush between tests with real processes survives a deadlock with one of them (tests/conftest.py's
`flush_retried_after_a_deadlock`): CI once started a browser test on the rows its predecessor left behind."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from django.core import management
from django.core.management.base import CommandError
from django.test import TransactionTestCase, testcases

from routing.models import BusinessLine
from tests.factories import BusinessLineFactory

pytestmark = pytest.mark.django_db(transaction=True)


def flush_failing_first_with(error: Exception, calls: list[str]):
    """`call_command` whose first flush fails as Django's does, with PostgreSQL's error as its cause."""

    def call_command(name: str, *args: Any, **options: Any) -> Any:
        calls.append(name)
        if len(calls) == 1:
            try:
                raise error
            except Exception as cause:
                raise CommandError("Database couldn't be flushed.") from cause
        return management.call_command(name, *args, **options)

    return call_command


def flush_after_test() -> None:
    case = TransactionTestCase()
    case.databases = {"default"}
    case._fixture_teardown()


def test_a_flush_deadlocked_with_a_worker_is_tried_again_and_empties_the_database(monkeypatch):
    BusinessLineFactory(name="Acme Shop")
    calls: list[str] = []
    monkeypatch.setattr(
        testcases, "call_command", flush_failing_first_with(psycopg.errors.DeadlockDetected("deadlock"), calls)
    )

    flush_after_test()

    assert calls == ["flush", "flush"]
    assert not BusinessLine.objects.exists()


def test_a_flush_failing_otherwise_is_not_tried_again(monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(
        testcases, "call_command", flush_failing_first_with(psycopg.errors.UndefinedTable("no table"), calls)
    )

    with pytest.raises(CommandError):
        flush_after_test()
    assert calls == ["flush"]
