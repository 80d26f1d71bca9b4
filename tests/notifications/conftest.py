"""Email tests send through Django's SMTP backend to a real SMTP server of the test's own (tests/smtp_server.py)."""

from collections.abc import Iterator

import pytest

from tests.routing.conftest import routing_keys_cleared
from tests.smtp_server import SmtpInbox


@pytest.fixture
def smtp_inbox(settings) -> Iterator[SmtpInbox]:
    """A running aiosmtpd server, and the product's email settings pointing at it (as `EMAIL_URL` would)."""
    inbox = SmtpInbox()
    inbox.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = inbox.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    settings.DEFAULT_FROM_EMAIL = "Acme support <support@acme.test>"
    yield inbox
    inbox.stop()
