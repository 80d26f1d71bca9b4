"""`manage.py check --deploy` for what Django's own checks do not know: the repository's public development key,
and a process configured for development (docs/operations.md, "Production settings")."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from cs_platform import deployment


@register(Tags.security, deploy=True)
def check_secret_key(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Django's W009 passes the development key (long, varied); it is public, so it signs nothing in production."""
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    if deployment.DEVELOPMENT_SECRET_KEY not in keys:
        return []
    return [
        Error(
            "SECRET_KEY (or a fallback) is the public development key of the repository: anyone can forge customer "
            "tokens and sessions.",
            hint=f"Set SECRET_KEY to a long random value, e.g. `{deployment.GENERATE_KEY}`.",
            id="cs_platform.E001",
        )
    ]


@register(Tags.security, deploy=True)
def check_environment(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Development allows the development key, DEBUG and embedded servers: never what a deployment runs as."""
    if settings.CS_ENV != deployment.DEVELOPMENT:
        return []
    return [
        Warning(
            f"CS_ENV is {deployment.DEVELOPMENT}: the public key, DEBUG and the embedded servers of one machine are "
            "allowed.",
            hint=f"Unset CS_ENV (or set CS_ENV={deployment.PRODUCTION}) in a deployment.",
            id="cs_platform.W001",
        )
    ]
