"""`email_send` retries on SMTP failures: a refused connection is retried until the server answers; a recipient
refused for good is not retried. Run inline (apply), where Celery retries at once instead of after the backoff."""

import smtplib

import pytest
from celery.signals import task_retry

from notifications.services import Email
from notifications.tasks import email_send_task
from tests.smtp_server import SmtpInbox

EMAIL = Email(
    subject="Your conversation with Acme Shop",
    body="Hello",
    html="<p>Hello</p>",
    to=["ada@example.com"],
    reply_to=[],
    purpose="transcript",
)


@pytest.fixture
def inbox_not_started(settings):
    """An SMTP server's port, nothing listening yet: connections are refused until the test starts it."""
    inbox = SmtpInbox()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = inbox.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    yield inbox
    inbox.stop()


@pytest.fixture
def retries():
    """The reason of every retry of `email_send`, as Celery announces it; `on_retry(n, action)` runs `action` at the
    n-th retry."""
    seen: list[BaseException] = []
    actions: dict[int, object] = {}

    def record(sender=None, reason=None, **kwargs):
        if sender is not None and sender.name == email_send_task.name:
            seen.append(reason)
            action = actions.get(len(seen))
            if callable(action):
                action()

    task_retry.connect(record, weak=False)
    seen_with_actions = (seen, actions)
    yield seen_with_actions
    task_retry.disconnect(record)


def test_a_refused_connection_is_retried_and_the_email_goes_out_once_the_server_answers(inbox_not_started, retries):
    seen, actions = retries
    # the SMTP server comes up while the task waits for its second retry
    actions[2] = inbox_not_started.start

    result = email_send_task.apply(kwargs={"email": EMAIL})

    assert result.successful(), result.traceback
    assert [type(reason.exc) for reason in seen] == [ConnectionRefusedError, ConnectionRefusedError]
    [received] = inbox_not_started.received
    assert received.rcpt_tos == ["ada@example.com"]
    assert received.message["Subject"] == "Your conversation with Acme Shop"


def test_retries_stop_after_email_max_retries(inbox_not_started, retries, settings):
    seen, _ = retries

    result = email_send_task.apply(kwargs={"email": EMAIL})

    assert result.failed()
    assert isinstance(result.result, ConnectionRefusedError)
    assert len(seen) == email_send_task.max_retries == settings.EMAIL_MAX_RETRIES


def test_a_recipient_refused_for_good_is_not_retried(inbox_not_started, retries):
    seen, _ = retries
    inbox_not_started.refused.add("ada@example.com")
    inbox_not_started.start()

    result = email_send_task.apply(kwargs={"email": EMAIL})

    assert result.failed()
    assert isinstance(result.result, smtplib.SMTPRecipientsRefused)
    assert seen == []
    assert inbox_not_started.received == []
