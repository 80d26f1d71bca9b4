"""Development or production, and what a production start needs (docs/operations.md, "Production settings").

`CS_ENV=development` is what `make run` and the tests set, and the default when `DEBUG` is on: a public development
key, DEBUG, and the embedded PostgreSQL and Redis when no URL is given. Production is `CS_ENV=production`, the
default with `DEBUG` off (the brief's "production (DEBUG off)"), and the settings refuse to load
without a real `SECRET_KEY` (the development key is in the repository: with it anyone could sign customer tokens
and sessions), with `DEBUG` on, or without `DATABASE_URL` / `REDIS_URL` (embedded servers of one machine would
leave every worker with data of its own). So no process of a careless deploy ever serves.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

DEVELOPMENT = "development"
PRODUCTION = "production"
ENVIRONMENTS = (DEVELOPMENT, PRODUCTION)
DEVELOPMENT_SECRET_KEY = "dev-only-insecure-key-change-me-in-production-0123456789"
# Django's own bar for a key (security.W009).
SECRET_KEY_MIN_LENGTH = 50
SECRET_KEY_MIN_UNIQUE_CHARACTERS = 5
SECRET_KEY_INSECURE_PREFIX = "django-insecure-"
GENERATE_KEY = "python -c 'import secrets; print(secrets.token_urlsafe(50))'"


def environment(value: str) -> str:
    """`CS_ENV`, checked: a typo must not quietly mean one or the other."""
    if value not in ENVIRONMENTS:
        raise ImproperlyConfigured(f"CS_ENV must be one of {', '.join(ENVIRONMENTS)}, not {value!r}")
    return value


def secret_key_problem(key: str) -> str | None:
    """Why a key cannot sign anything in production; None when it can."""
    if not key:
        return "SECRET_KEY is not set"
    if key == DEVELOPMENT_SECRET_KEY:
        return "SECRET_KEY is the public development key of the repository"
    if key.startswith(SECRET_KEY_INSECURE_PREFIX):
        return f"SECRET_KEY is one of Django's generated development keys ({SECRET_KEY_INSECURE_PREFIX}...)"
    if len(key) < SECRET_KEY_MIN_LENGTH or len(set(key)) < SECRET_KEY_MIN_UNIQUE_CHARACTERS:
        return (
            f"SECRET_KEY is too weak (fewer than {SECRET_KEY_MIN_LENGTH} characters or "
            f"{SECRET_KEY_MIN_UNIQUE_CHARACTERS} different ones)"
        )
    return None


def production_problems(*, secret_key: str, debug: bool, database_url: str, redis_url: str) -> list[str]:
    """Everything that keeps this environment from starting as production, each with what to do."""
    problems = []
    key_problem = secret_key_problem(secret_key)
    if key_problem:
        problems.append(
            f"{key_problem}: anyone could forge customer tokens and sessions. Set it to a long random value, "
            f"the same on every machine, e.g. `{GENERATE_KEY}`"
        )
    if debug:
        problems.append("DEBUG is on: its error pages show settings and code to anyone. Set DEBUG=false")
    if not database_url:
        problems.append(
            "DATABASE_URL is not set: every web worker and Celery process must share one PostgreSQL "
            "(postgres://user:password@host:5432/name)"
        )
    if not redis_url:
        problems.append(
            "REDIS_URL is not set: every web worker and Celery process must share one Redis (redis://host:6379/0)"
        )
    return problems


def refuse_unsafe_production(*, secret_key: str, debug: bool, database_url: str, redis_url: str) -> None:
    """Raise ImproperlyConfigured naming every missing piece, so that a production process never starts unsafe."""
    problems = production_problems(secret_key=secret_key, debug=debug, database_url=database_url, redis_url=redis_url)
    if problems:
        lines = "\n".join(f"  - {problem}." for problem in problems)
        raise ImproperlyConfigured(
            f"Refusing to start in production (CS_ENV={PRODUCTION}, the default while DEBUG is off):\n{lines}\n"
            'See docs/operations.md, "Production settings". On a development machine, `make run` needs none of '
            f"this (it sets CS_ENV={DEVELOPMENT}: the development key, embedded PostgreSQL and Redis)."
        )
