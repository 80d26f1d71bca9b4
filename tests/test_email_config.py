"""`EMAIL_URL` becomes Django's email settings: the forms docs/operations.md shows, and refusals at start-up."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from cs_platform.email_config import email_settings

SMTP = "django.core.mail.backends.smtp.EmailBackend"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "consolemail://",
            ("django.core.mail.backends.console.EmailBackend", "localhost", 25, "", "", False, False, 10),
        ),
        (
            "smtp://user:pass@mail.example.com:587/?tls=True",
            (SMTP, "mail.example.com", 587, "user", "pass", True, False, 10),
        ),
        ("smtp+tls://user:pass@mail.example.com:587", (SMTP, "mail.example.com", 587, "user", "pass", True, False, 10)),
        ("smtp+ssl://mail.example.com", (SMTP, "mail.example.com", 465, "", "", False, True, 10)),
        ("smtp://127.0.0.1:2525/?timeout=3", (SMTP, "127.0.0.1", 2525, "", "", False, False, 3)),
    ],
)
def test_email_urls(url, expected):
    config = email_settings(url)
    assert (
        config["EMAIL_BACKEND"],
        config["EMAIL_HOST"],
        config["EMAIL_PORT"],
        config["EMAIL_HOST_USER"],
        config["EMAIL_HOST_PASSWORD"],
        config["EMAIL_USE_TLS"],
        config["EMAIL_USE_SSL"],
        config["EMAIL_TIMEOUT"],
    ) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("smtp://mail.example.com/?retries=3", "EMAIL_URL: unknown options RETRIES (known: tls, ssl, timeout)"),
        (
            "smtp://mail.example.com/?tls=True&ssl=True",
            "EMAIL_URL: tls (STARTTLS) and ssl (TLS from the start) exclude each other",
        ),
    ],
)
def test_bad_email_urls_stop_the_start(url, message):
    with pytest.raises(ImproperlyConfigured) as refusal:
        email_settings(url)
    assert str(refusal.value) == message


def test_an_unknown_scheme_stops_the_start():
    with pytest.raises(ImproperlyConfigured):
        email_settings("carrier-pigeon://coop")


def test_make_runs_banner_says_where_emails_go(settings):
    from cs_platform.run import _email_destination

    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    assert _email_destination() == "printed by the Celery worker below (set EMAIL_URL to send them)"
    settings.EMAIL_BACKEND = SMTP
    settings.EMAIL_HOST, settings.EMAIL_PORT = "mail.example.com", 587
    assert _email_destination() == "sent through mail.example.com:587 (EMAIL_URL)"


def test_without_email_url_emails_are_printed():
    """What `make run` gets: no EMAIL_URL, the console backend."""
    from cs_platform.email_config import DEFAULT_EMAIL_URL

    assert email_settings(DEFAULT_EMAIL_URL)["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend"
