"""State changes of agents: API tokens, login attempts, presence."""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext

from agents.models import Agent, ApiToken, Presence
from agents.selectors import api_token_digest, api_token_password_fingerprint
from chat import events, hooks, locks
from chat.errors import ChatError
from cs_platform.errors import ErrorCode
from cs_platform.rate_limits import rate_limit_hit

logger = logging.getLogger(__name__)


class LoginThrottled(Exception):
    """Too many password logins for this username or from this address: refused, right password or not."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            gettext("Too many login attempts. Please try again in %(seconds)s seconds.") % {"seconds": retry_after}
        )
        self.retry_after = retry_after


def login_attempt_record(*, username: str, address: str) -> None:
    """Count one password login (`POST /api/auth/token/` or the admin's form) before the password is checked.

    Over `LOGIN_RATE` for the username or for the address, raise LoginThrottled: the lock-out lasts until the
    window ends, so guessing stays slow whether one address tries many names or many addresses one name. Refused
    attempts cost no password hash.
    """
    wait = rate_limit_hit(
        scope="login", keys=[f"user {username.casefold()}", f"address {address}"], rate=settings.LOGIN_RATE
    )
    if wait is not None:
        logger.warning("login throttled for username %r from %s", username, address)
        raise LoginThrottled(wait)


def api_token_issue(*, user: User) -> str:
    """A new API token for REST and `/ws/agent/?token=`, valid for `AGENT_TOKEN_TTL` seconds under the current
    password; the user's expired or revoked tokens are dropped on the way. Only its digest is stored."""
    now = timezone.now()
    fingerprint = api_token_password_fingerprint(user)
    ApiToken.objects.filter(user=user).filter(
        models.Q(created_at__lte=now - timedelta(seconds=settings.AGENT_TOKEN_TTL))
        | ~models.Q(password_fingerprint=fingerprint)
    ).delete()
    token = secrets.token_hex(20)
    ApiToken.objects.create(digest=api_token_digest(token), user=user, created_at=now, password_fingerprint=fingerprint)
    return token


def agent_presence_set(*, agent_id: int, status: str) -> Agent:
    """Record the presence the agent chose; going online may let waiting conversations be assigned."""
    if status not in Presence.values:
        raise ChatError(ErrorCode.INVALID_FIELD, f"status must be one of {', '.join(Presence.values)}", field="status")
    with locks.transaction():
        agent = locks.agent(agent_id=agent_id)
        if agent.presence != status:
            agent.presence = status
            agent.presence_changed_at = timezone.now()
            agent.save(update_fields=["presence", "presence_changed_at"])
            logger.info("agent %s is now %s", agent_id, status)
        events.publish_on_commit(
            events.agent_group(agent_id),
            events.frame_event({"type": "presence.state", "agent_id": agent_id, "status": status}),
        )
        if status == Presence.ONLINE:
            hooks.agent_free(agent_id=agent_id)
        hooks.agent_changed(agent_id=agent_id)
    return agent


def agent_capacity_changed(*, agent_id: int) -> None:
    """Capacity or team edited (admin): a bigger capacity or a new line may let waiting chats be assigned."""
    hooks.agent_free(agent_id=agent_id)


def agent_connected(*, agent_id: int) -> None:
    """The agent's first live socket appeared: if they are online, they can take chats again."""
    agent = Agent.objects.get(id=agent_id)
    if agent.presence == Presence.ONLINE:
        hooks.agent_free(agent_id=agent_id)
    hooks.agent_changed(agent_id=agent_id)


def agent_disconnected(*, agent_id: int) -> None:
    """One of the agent's sockets closed (maybe their last): whoever shows their connection hears of it."""
    hooks.agent_changed(agent_id=agent_id)
