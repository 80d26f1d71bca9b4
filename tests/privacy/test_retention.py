"""Retention: transcripts of conversations that ended longer ago than their business line's period are deleted,
files too, in batches, by the beat task; open and younger ones, and lines that keep forever, are left alone."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.files.storage import default_storage
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditAction, AuditEntry
from chat.models import ConversationStatus
from customers.models import Customer
from privacy.services import Deleted, transcripts_purge_expired
from routing.models import BusinessLine
from tests.factories import BusinessLineFactory, CustomerFactory, UserFactory
from tests.privacy.helpers import exists, message_count, stored_files, transcript

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


def ago(days: float):
    return timezone.now() - days * DAY


def ended(line, *, days_ago: float, status=ConversationStatus.CLOSED, started_days_ago: float | None = None, **fields):
    return transcript(
        customer__business_line=line,
        status=status,
        closed_at=ago(days_ago),
        started_at=ago(started_days_ago if started_days_ago is not None else days_ago + 1),
        **fields,
    )


def test_retention_deletes_only_old_ended_transcripts_of_lines_with_a_period_and_their_files(
    django_capture_on_commit_callbacks,
):
    # given a line keeping 30 days, one keeping forever and one with 0 (forever too)
    line = BusinessLineFactory(retention_days=30)
    forever, zero = BusinessLineFactory(retention_days=None), BusinessLineFactory(retention_days=0)
    old_closed = ended(line, days_ago=31)
    old_missed = ended(line, days_ago=45, status=ConversationStatus.MISSED)
    kept = {
        "young": ended(line, days_ago=29),
        "long but recently ended": ended(line, days_ago=1, started_days_ago=90),
        "waiting for ages": transcript(
            customer__business_line=line, status=ConversationStatus.WAITING, started_at=ago(100)
        ),
        "active for ages": transcript(
            customer__business_line=line, status=ConversationStatus.ACTIVE, started_at=ago(100)
        ),
        "line keeping forever": ended(forever, days_ago=400),
        "line with 0 days": ended(zero, days_ago=400),
    }
    gone_files = stored_files(old_closed) + stored_files(old_missed)
    kept_files = [name for conversation in kept.values() for name in stored_files(conversation)]
    assert all(default_storage.exists(name) for name in gone_files + kept_files)

    # when
    with django_capture_on_commit_callbacks(execute=True):
        purged = transcripts_purge_expired()

    # then
    assert purged == {line.id: Deleted(conversations=2, messages=4, files=2)}
    assert not exists(old_closed) and not exists(old_missed)
    assert message_count(old_closed) == message_count(old_missed) == 0
    assert not any(default_storage.exists(name) for name in gone_files)
    assert {name: exists(conversation) for name, conversation in kept.items()} == dict.fromkeys(kept, True)
    assert {name: message_count(conversation) for name, conversation in kept.items()} == dict.fromkeys(kept, 2)
    assert all(default_storage.exists(name) for name in kept_files)


def test_a_purge_is_written_to_the_audit_log_once_per_line_without_personal_data():
    # given
    line = BusinessLineFactory(retention_days=7)
    ended(line, days_ago=8, customer__name="Grace Hopper", customer__email="grace@navy.example")

    # when
    transcripts_purge_expired()
    transcripts_purge_expired()  # nothing left: no second entry

    # then
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.actor, entry.target_type, entry.target_id) == (
        AuditAction.RETENTION_PURGE,
        None,
        "routing.businessline",
        str(line.id),
    )
    assert entry.details["conversations"] == 1 and entry.details["retention_days"] == 7
    assert "Grace" not in str(entry.details) and "grace@" not in str(entry.details)


def test_a_large_purge_deletes_in_batches_of_short_transactions():
    # given five expired conversations
    line = BusinessLineFactory(retention_days=1)
    conversations = [ended(line, days_ago=2, started_days_ago=3) for _ in range(5)]

    # when
    with CaptureQueriesContext(connection) as queries:
        purged = transcripts_purge_expired(batch_size=2)

    # then: three batches (2, 2, 1), each one DELETE of conversations
    assert purged[line.id].conversations == 5
    assert not any(exists(conversation) for conversation in conversations)
    deletes = [q["sql"] for q in queries.captured_queries if q["sql"].startswith('DELETE FROM "chat_conversation"')]
    assert len(deletes) == 3


def test_customers_not_seen_for_the_period_with_nothing_left_are_deleted_with_their_names_in_the_admin_history():
    # given
    line = BusinessLineFactory(retention_days=30)
    forgotten = CustomerFactory(business_line=line, name="Forgotten Person", last_seen=ago(60))
    only_old_transcript = ended(line, days_ago=40, customer__last_seen=ago(60)).customer
    with_young_transcript = ended(line, days_ago=5, customer__last_seen=ago(60)).customer
    seen_lately = CustomerFactory(business_line=line)
    other_line = CustomerFactory(business_line=BusinessLineFactory(retention_days=None), last_seen=ago(60))
    LogEntry.objects.create(
        content_type=ContentType.objects.get_for_model(Customer),
        object_id=str(forgotten.pk),
        object_repr="Forgotten Person",
        action_flag=CHANGE,
        user=UserFactory(is_staff=True),
    )

    # when
    purged = transcripts_purge_expired()

    # then
    assert purged[line.id].customers == 2
    remaining = set(Customer.objects.values_list("pk", flat=True))
    assert remaining == {with_young_transcript.pk, seen_lately.pk, other_line.pk}
    assert only_old_transcript.pk not in remaining
    assert LogEntry.objects.get(object_id=str(forgotten.pk)).object_repr == "(erased customer)"


def test_a_new_business_line_takes_its_retention_from_the_setting(settings):
    # given
    settings.RETENTION_DAYS_DEFAULT = 90

    # when
    with_default = BusinessLine.objects.create(name="With default", key="with-default")
    settings.RETENTION_DAYS_DEFAULT = 0
    forever = BusinessLine.objects.create(name="Forever", key="forever")

    # then
    assert (with_default.retention_days, forever.retention_days) == (90, None)


def test_beat_runs_the_retention_sweep_task(django_capture_on_commit_callbacks):
    # given
    from cs_platform.celery import app

    app.loader.import_default_modules()
    line = BusinessLineFactory(retention_days=1)
    old = ended(line, days_ago=3)
    scheduled = {entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}

    # when the scheduled task runs (inline in these tests)
    with django_capture_on_commit_callbacks(execute=True):
        app.tasks["privacy.tasks.retention_sweep"].delay()

    # then
    assert scheduled["privacy.tasks.retention_sweep"] == settings.RETENTION_SWEEP_INTERVAL
    assert not exists(old)
