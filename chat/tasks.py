"""Celery interface of the live chat's housekeeping, scheduled by beat (ATTACHMENT_CLEANUP_INTERVAL)."""

from celery import shared_task

from chat.services import attachments_unsent_delete


@shared_task(name="chat.tasks.attachments_cleanup", acks_late=True, ignore_result=True)
def attachments_cleanup() -> None:
    attachments_unsent_delete()
