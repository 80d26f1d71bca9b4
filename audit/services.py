"""Writing the audit log. Every export, erasure, retention purge and admin edit goes through `audit_record`."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db import models
from django.http import HttpRequest
from rest_framework.throttling import BaseThrottle

from audit.models import AuditAction, AuditEntry


def audit_record(
    *,
    action: AuditAction,
    actor: User | AnonymousUser | None = None,
    actor_label: str = "",
    target_type: str = "",
    target_id: object = "",
    address: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Store one entry, in the caller's transaction: an action that rolls back leaves no entry behind."""
    user = actor if actor is not None and actor.is_authenticated else None
    return AuditEntry.objects.create(
        action=action,
        actor=user,
        actor_label=actor_label or (user.get_username() if user is not None else ""),
        target_type=target_type,
        target_id="" if target_id is None else str(target_id),
        address=address or None,
        details=details or {},
    )


def audit_record_request(
    *,
    request: HttpRequest,
    action: AuditAction,
    target: models.Model | None = None,
    target_type: str = "",
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """An entry for what the requesting user did through the admin: who and from where come from the request."""
    return audit_record(
        action=action,
        actor=request.user,
        target_type=target._meta.label_lower if target is not None else target_type,
        target_id=target.pk if target is not None else "",
        address=request_address(request),
        details=details,
    )


def request_address(request: HttpRequest) -> str | None:
    """The address the request came from: the connection's, or behind `NUM_PROXIES` trusted proxies the one the
    outermost saw (DRF's rule, the same the rate limits use)."""
    # The stub asks for DRF's Request; get_ident reads only `request.META`, which a Django request has.
    return BaseThrottle().get_ident(request) or None  # type: ignore[arg-type]
