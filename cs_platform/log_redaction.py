"""Secrets never reach the logs: tokens in query strings (`?token=`, `visitor_token=`, ...) are masked.

Clients may send the agent's or the customer's token as `?token=` (WebSockets cannot set headers), so every
request line that a process logs would hold a bearer credential. Two places write request lines: Python's logging
(Django's, Channels' runserver, uvicorn), through the console handler's filter below, and Daphne's access log,
which Daphne writes to its own stream, through `RedactingAccessLogGenerator`.
"""

from __future__ import annotations

import logging
import re

from daphne.access import AccessLogGenerator

_SECRET_PARAMETER = re.compile(r"((?:^|[?&;\s])[\w.-]*(?:token|identity_hash|password)=)[^&\s\"'#;]*", re.IGNORECASE)
REDACTED = "[redacted]"


def redact_secrets(text: str) -> str:
    """`/ws/agent/?token=abc&x=1` -> `/ws/agent/?token=[redacted]&x=1`."""
    return _SECRET_PARAMETER.sub(rf"\1{REDACTED}", text)


class SecretRedactingFilter(logging.Filter):
    """On a handler: the record's message, as it will be formatted, with its secrets masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_secrets(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


class RedactingAccessLogGenerator(AccessLogGenerator):
    """Daphne's access log (one line per request and per WebSocket event), with its secrets masked."""

    def write_entry(self, host, date, request, status=None, length=None, ident=None, user=None) -> None:
        super().write_entry(host, date, redact_secrets(request), status, length, ident, user)


def use_redacting_access_log() -> None:
    """Make `daphne ... cs_platform.asgi:application` build its access log with ours: Daphne's command loads the
    application before it builds the access logger, by this name."""
    import daphne.cli

    daphne.cli.AccessLogGenerator = RedactingAccessLogGenerator
