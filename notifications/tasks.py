"""Celery interface of the emails: load ids, render through a service, hand the result to `email_send`.

`email_send` is the only task that talks to the SMTP server: a failure there (refused connection, timeout, a 4xx
answer) is retried with a doubling delay (1, 2, 4 s... jittered, at most 10 minutes) up to `EMAIL_MAX_RETRIES`
times, and sends exactly what was rendered; a recipient or sender the server refuses for good is not retried.
The listeners below enqueue the renders after a commit (`NotificationsConfig.ready()` registers them with
`chat.hooks`); like routing's, they log a broker failure instead of raising into the committed change.
"""

from __future__ import annotations

import logging
import smtplib

from celery import shared_task
from django.conf import settings

from cs_platform import metrics
from notifications.services import Email, answer_email, email_send, left_message_email, transcript_email

logger = logging.getLogger(__name__)


@shared_task(
    name="notifications.tasks.email_send",
    acks_late=True,
    ignore_result=True,
    autoretry_for=(OSError,),  # smtplib.SMTPException is an OSError, like a refused or timed-out connection
    dont_autoretry_for=(smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused),
    retry_backoff=True,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=settings.EMAIL_MAX_RETRIES,
)
def email_send_task(email: Email) -> None:
    email_send(email=email)


@shared_task(name="notifications.tasks.left_message_email", acks_late=True, ignore_result=True)
def left_message_email_task(message_id: int) -> None:
    email = left_message_email(message_id=message_id)
    if email is not None:
        email_send_task.delay(email)


@shared_task(name="notifications.tasks.answer_email", acks_late=True, ignore_result=True)
def answer_email_task(conversation_id: int) -> None:
    email = answer_email(conversation_id=conversation_id)
    if email is not None:
        email_send_task.delay(email)


@shared_task(name="notifications.tasks.transcript_email", acks_late=True, ignore_result=True)
def transcript_email_task(conversation_id: int, to: str) -> None:
    email = transcript_email(conversation_id=conversation_id, to=to)
    if email is not None:
        email_send_task.delay(email)


def message_left_request(message_id: int) -> None:
    """A customer left a message: tell the business line's inbox."""
    try:
        left_message_email_task.delay(message_id)
    except Exception as error:
        logger.exception("could not enqueue the inbox email of left message %s", message_id)
        metrics.error_caught("notifications", error)


def missed_answered_request(conversation_id: int) -> None:
    """An agent answered a missed conversation or a left message: email the answers a little later, together."""
    try:
        answer_email_task.apply_async((conversation_id,), countdown=settings.EMAIL_ANSWER_DELAY)
    except Exception as error:
        logger.exception("could not enqueue the answer email of conversation %s", conversation_id)
        metrics.error_caught("notifications", error)


def transcript_requested(conversation_id: int, address: str) -> None:
    """A customer asked for a transcript (`POST .../transcript/email/`): render and send it."""
    transcript_email_task.delay(conversation_id, address)
