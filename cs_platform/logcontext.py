"""Who a log line is about: the conversation, agent, customer and Celery task being handled, and the worker.

The context lives in one `ContextVar`, so it follows the code that handles a socket or a task: asyncio tasks
and the threads of `sync_to_async` / `database_sync_to_async` start with a copy of it. Sockets bind their
agent, customer or supervisor (a user id) once authenticated and the conversation of each frame; Celery binds the
task's name while it runs (cs_platform/celery.py). `ContextFilter`, on the console handler (settings.LOGGING), puts
every field on every record, `None` where nothing is bound, so both the plain and the JSON format
(`LOG_FORMAT=json`) can use them.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping
from contextvars import ContextVar, Token
from types import MappingProxyType
from typing import Any

from django.core.exceptions import ImproperlyConfigured

FIELDS = ("conversation_id", "agent_id", "customer_id", "supervisor_id", "task")

_EMPTY: Mapping[str, Any] = MappingProxyType({})
_context: ContextVar[Mapping[str, Any]] = ContextVar("log_context", default=_EMPTY)
_hostname = socket.gethostname()


def bind(**fields: Any) -> Token[Mapping[str, Any]]:
    """Add fields to the current context (None unbinds one); `reset` with the token puts the previous one back."""
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise ValueError(f"unknown log context fields: {', '.join(sorted(unknown))}")
    return _context.set(MappingProxyType({**_context.get(), **fields}))


def reset(token: Token[Mapping[str, Any]]) -> None:
    _context.reset(token)


def current() -> Mapping[str, Any]:
    return _context.get()


def conversation_bound(value: Any) -> None:
    """The conversation a frame or event is about; anything but a positive integer id unbinds it."""
    conversation_id = value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None
    if _context.get().get("conversation_id") != conversation_id:
        bind(conversation_id=conversation_id)


def worker() -> str:
    """`hostname:pid`: the process, also after Celery's pool forked it."""
    return f"{_hostname}:{os.getpid()}"


class ContextFilter(logging.Filter):
    """Puts `worker` and every context field on the record (None where unbound), unless the call gave it in
    `extra`; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = _context.get()
        for field in FIELDS:
            record.__dict__.setdefault(field, context.get(field))
        record.__dict__.setdefault("worker", worker())
        return True


def logging_config(*, log_format: str, level: str) -> dict[str, Any]:
    """Django's LOGGING: every process writes to standard output, `plain` lines or `json` objects, one a line."""
    if log_format not in ("plain", "json"):
        raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, not {log_format!r}")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        # No token of a query string (`?token=`) in any line (cs_platform/log_redaction.py).
        "filters": {
            "context": {"()": ContextFilter},
            "redact_secrets": {"()": "cs_platform.log_redaction.SecretRedactingFilter"},
        },
        "formatters": {
            "plain": {"format": "%(asctime)s %(levelname)s %(name)s [pid %(process)d] %(message)s"},
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": ["levelname", "name", "message", "worker", *FIELDS],
                "rename_fields": {"levelname": "level", "name": "logger"},
                "timestamp": "time",
                "json_ensure_ascii": False,
            },
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": log_format,
                "filters": ["context", "redact_secrets"],
            },
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Django's development server logs through a handler of its own: through ours instead, redacted.
            "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
            "django.channels.server": {"level": "WARNING"},
            "daphne": {"level": "WARNING"},
            "pgserver": {"level": "WARNING"},
        },
    }
