"""Reads about agents."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from agents.models import Agent


def agent_for_user(*, user: AbstractBaseUser | AnonymousUser) -> Agent | None:
    """The user's agent row, or None for anonymous users and users who are not agents (supervisors, admins).

    Reads through `user.agent`, which Django caches on the user, so a permission check and the view share one query.
    """
    if not user.is_authenticated:
        return None
    try:
        return user.agent
    except Agent.DoesNotExist:
        return None


def agent_for_api_token(*, token: str) -> Agent | None:
    """The agent behind an API token (`POST /api/auth/token/`); None for unknown tokens and inactive users."""
    from rest_framework.authtoken.models import Token

    found = Token.objects.select_related("user").filter(key=token).first()
    if found is None or not found.user.is_active:
        return None
    return agent_for_user(user=found.user)
