"""Reads about agents."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from agents.models import Agent, ApiToken

_FINGERPRINT_SALT = "agents.ApiToken.password_fingerprint"


def agent_for_user(*, user: AbstractBaseUser | AnonymousUser) -> Agent | None:
    """The user's agent row, or None for anonymous users and users who are not agents (supervisors, admins).

    Reads through `user.agent`, which Django caches on the user, so a permission check and the view share one query.
    Any user but an anonymous one is a `User` (the project's AUTH_USER_MODEL), a socket's lazy user included.
    """
    if not isinstance(user, User):
        return None
    try:
        return user.agent
    except Agent.DoesNotExist:
        return None


SUPERVISORS_GROUP = "Supervisors"


def is_supervisor(*, user: AbstractBaseUser | AnonymousUser) -> bool:
    """Supervisors read the reports and the live monitor: the `Supervisors` group, and superusers."""
    if not isinstance(user, User) or not user.is_active:
        return False
    return user.is_superuser or user.groups.filter(name=SUPERVISORS_GROUP).exists()


def agent_names(*, agent_ids: Iterable[int]) -> dict[int, str]:
    """Display names by agent id, in one query (reports and exports name the agents they credit)."""
    return dict(Agent.objects.filter(pk__in=set(agent_ids)).values_list("pk", "display_name"))


def api_token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def api_token_password_fingerprint(user: User) -> str:
    """An HMAC of the user's password hash: it changes with every password change, on whatever path (the admin's
    form, `changepassword`, `set_password`), so a token issued under the old password no longer matches."""
    return salted_hmac(_FINGERPRINT_SALT, user.password, algorithm="sha256").hexdigest()


def api_token_expires_at(api_token: ApiToken) -> datetime:
    return api_token.created_at + timedelta(seconds=settings.AGENT_TOKEN_TTL)


def api_token_find(*, token: str) -> ApiToken | None:
    """The valid token row (its user loaded): None for an unknown, expired or revoked token (a password changed
    since, or the user deactivated)."""
    if not token or not isinstance(token, str):
        return None
    found = ApiToken.objects.select_related("user").filter(digest=api_token_digest(token)).first()
    if found is None or not found.user.is_active or api_token_expires_at(found) <= timezone.now():
        return None
    if not constant_time_compare(found.password_fingerprint, api_token_password_fingerprint(found.user)):
        return None
    return found


def agent_for_api_token(*, token: str) -> Agent | None:
    """The agent behind a valid API token (`POST /api/auth/token/`); None otherwise, and for users who are not
    agents (any more)."""
    found = api_token_find(token=token)
    if found is None:
        return None
    return agent_for_user(user=found.user)


def every_agent_name() -> dict[int, str]:
    """Every agent's display name by id (the workbench names earlier agents of a transferred conversation)."""
    return dict(Agent.objects.values_list("id", "display_name"))
