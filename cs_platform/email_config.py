"""Outgoing email from one setting, `EMAIL_URL`, in django-environ's form (docs/operations.md, "Email").

`smtp://user:pass@host:587/?tls=True`, `smtp+tls://...` (STARTTLS), `smtp+ssl://...:465` (TLS from the start),
`consolemail://` (printed by the process that sends: `make run`'s default). django-environ leaves the query's
options (`tls`, `ssl`, `timeout`) in an `OPTIONS` dict that Django's SMTP backend never reads: they are turned into
Django's own settings here, and anything else in the URL is refused at start-up rather than silently ignored.
"""

from __future__ import annotations

from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

DEFAULT_EMAIL_URL = "consolemail://"
# Seconds an SMTP connection may take: a Celery task waiting on a dead server retries instead of hanging.
DEFAULT_TIMEOUT = 10
_TRUE = {"1", "true", "yes", "on"}


def email_settings(url: str) -> dict[str, Any]:
    """Django's EMAIL_* settings for an `EMAIL_URL`."""
    try:
        config = environ.Env.email_url_config(url)
    except (ValueError, KeyError) as exc:
        raise ImproperlyConfigured(f"EMAIL_URL: {url!r} is not an email URL ({exc})") from None
    options = {key.upper(): value for key, value in (config.pop("OPTIONS", None) or {}).items()}
    unknown = sorted(set(options) - {"TLS", "SSL", "TIMEOUT"})
    if unknown:
        raise ImproperlyConfigured(f"EMAIL_URL: unknown options {', '.join(unknown)} (known: tls, ssl, timeout)")
    use_tls = config.get("EMAIL_USE_TLS", False) or str(options.get("TLS", "")).lower() in _TRUE
    use_ssl = config.get("EMAIL_USE_SSL", False) or str(options.get("SSL", "")).lower() in _TRUE
    if use_tls and use_ssl:
        raise ImproperlyConfigured("EMAIL_URL: tls (STARTTLS) and ssl (TLS from the start) exclude each other")
    return {
        "EMAIL_BACKEND": config["EMAIL_BACKEND"],
        "EMAIL_HOST": config.get("EMAIL_HOST") or "localhost",
        "EMAIL_PORT": int(config.get("EMAIL_PORT") or (465 if use_ssl else 25)),
        "EMAIL_HOST_USER": config.get("EMAIL_HOST_USER") or "",
        "EMAIL_HOST_PASSWORD": config.get("EMAIL_HOST_PASSWORD") or "",
        "EMAIL_USE_TLS": use_tls,
        "EMAIL_USE_SSL": use_ssl,
        "EMAIL_TIMEOUT": int(options.get("TIMEOUT", DEFAULT_TIMEOUT)),
        "EMAIL_FILE_PATH": config.get("EMAIL_FILE_PATH") or "",
    }
