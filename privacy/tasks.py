"""Celery interface of data protection: the retention sweep, scheduled by beat (RETENTION_SWEEP_INTERVAL)."""

from celery import shared_task

from privacy.services import transcripts_purge_expired


@shared_task(name="privacy.tasks.retention_sweep", acks_late=True, ignore_result=True)
def retention_sweep() -> None:
    transcripts_purge_expired()
