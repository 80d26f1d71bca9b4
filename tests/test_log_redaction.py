"""No token in the logs: `?token=` in a request line is masked, in Python's logging and in Daphne's access log."""

import io
import logging
from datetime import datetime

import pytest

from cs_platform.log_redaction import RedactingAccessLogGenerator, redact_secrets

SECRET = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def console() -> io.StringIO:
    """What the configured console handler writes, for the rest of the test."""
    handler = next(h for h in logging.getLogger().handlers if type(h) is logging.StreamHandler)
    stream = io.StringIO()
    previous = handler.setStream(stream)
    yield stream
    handler.setStream(previous)


@pytest.mark.parametrize("logger_name", ["django.request", "django.server", "django.channels.server", "daphne"])
def test_request_loggers_write_no_token(console, logger_name):
    logging.getLogger(logger_name).error("HTTP %s %s", "GET", f"/api/conversations/1/messages/?token={SECRET}&x=1")

    line = console.getvalue()
    assert SECRET not in line
    assert "/api/conversations/1/messages/?token=[redacted]&x=1" in line


def test_json_lines_write_no_token_either():
    import json
    import logging.config

    from django.conf import settings

    from cs_platform.logcontext import logging_config

    logging.config.dictConfig(logging_config(log_format="json", level="INFO"))
    buffer = io.StringIO()
    (handler,) = logging.getLogger().handlers
    handler.setStream(buffer)
    try:
        logging.getLogger("django.request").warning("Unauthorized: %s", f"/api/x/?token={SECRET}")
    finally:
        logging.config.dictConfig(settings.LOGGING)

    (line,) = [json.loads(text) for text in buffer.getvalue().splitlines()]
    assert line["message"] == "Unauthorized: /api/x/?token=[redacted]"


def test_a_message_without_secrets_is_left_as_it_is(console):
    logging.getLogger("chat.services").warning("conversation %s closed by %s", 7, "agent")

    assert "conversation 7 closed by agent" in console.getvalue()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"WSCONNECT /ws/customer/?token={SECRET}", "WSCONNECT /ws/customer/?token=[redacted]"),
        (f"GET /x/?a=1&visitor_token={SECRET}&b=2", "GET /x/?a=1&visitor_token=[redacted]&b=2"),
        (f"GET /x/?Token={SECRET} HTTP/1.1", "GET /x/?Token=[redacted] HTTP/1.1"),
        ("GET /x/?identity_hash=abc&external_id=u1", "GET /x/?identity_hash=[redacted]&external_id=u1"),
        ("GET /api/tokens/?page=2", "GET /api/tokens/?page=2"),
    ],
)
def test_redaction(text, expected):
    assert redact_secrets(text) == expected


def test_daphnes_access_log_writes_no_token():
    stream = io.StringIO()
    access_log = RedactingAccessLogGenerator(stream)

    access_log(
        "http",
        "complete",
        {
            "path": f"/api/customers/1/conversations/?token={SECRET}",
            "status": 200,
            "method": "GET",
            "client": "127.0.0.1:5000",
            "size": 10,
        },
    )

    assert SECRET not in stream.getvalue()
    assert '"GET /api/customers/1/conversations/?token=[redacted]" 200 10' in stream.getvalue()


def test_the_web_worker_builds_its_access_log_with_redaction():
    import daphne.cli

    import cs_platform.asgi

    assert daphne.cli.AccessLogGenerator is RedactingAccessLogGenerator
