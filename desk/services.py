"""Changes to the agent's tools: canned replies, a conversation's labels, notes on a customer.

Each checks who asks with the selectors' rules and refuses with a `DeskError` that changes nothing.
"""

from __future__ import annotations

import logging
import re

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from agents.selectors import agent_for_user, is_supervisor
from chat.selectors import history_customer_for_agent
from cs_platform.errors import ErrorCode
from desk.errors import DeskError
from desk.models import SHORTCUT_PATTERN, CannedReply, CustomerNote, Label
from desk.selectors import canned_replies_visible, canned_reply_editable, conversation_for_agent
from routing.models import BusinessLine

logger = logging.getLogger(__name__)

TITLE_MAX = 100
BODY_MAX = 4000
NOTE_MAX = 2000


def _clean(*, shortcut: str, title: str, body: str) -> tuple[str, str, str]:
    shortcut = shortcut.strip().lstrip("/").lower()
    if not re.fullmatch(SHORTCUT_PATTERN, shortcut):
        raise DeskError(
            ErrorCode.INVALID_FIELD,
            "A shortcut is 1 to 32 lower-case letters, digits, - or _, starting with a letter or digit.",
            field="shortcut",
        )
    title = title.strip()
    if not title or len(title) > TITLE_MAX:
        raise DeskError(ErrorCode.INVALID_FIELD, f"A title is 1 to {TITLE_MAX} characters.", field="title")
    if not body.strip() or len(body) > BODY_MAX:
        raise DeskError(ErrorCode.INVALID_FIELD, f"A body is 1 to {BODY_MAX} characters.", field="body")
    return shortcut, title, body


def _saved(reply: CannedReply) -> CannedReply:
    """Saves, refusing a shortcut its owner (the agent, or the line) already uses."""
    try:
        with transaction.atomic():
            reply.save()
    except IntegrityError as exc:
        raise DeskError(
            ErrorCode.INVALID_FIELD, f"The shortcut /{reply.shortcut} is already used.", field="shortcut"
        ) from exc
    return reply


def canned_reply_create(
    *,
    user: AbstractBaseUser | AnonymousUser,
    shortcut: str,
    title: str,
    body: str,
    business_line: BusinessLine | None = None,
) -> CannedReply:
    """A personal reply of the asking agent; or, with `business_line`, a reply of that line (supervisors only)."""
    shortcut, title, body = _clean(shortcut=shortcut, title=title, body=body)
    if business_line is not None:
        if not is_supervisor(user=user):
            raise DeskError(ErrorCode.NOT_A_SUPERVISOR, "Only supervisors keep a business line's canned replies.")
        reply = CannedReply(business_line=business_line, shortcut=shortcut, title=title, body=body)
    else:
        agent = agent_for_user(user=user)
        if agent is None:
            raise DeskError(ErrorCode.NOT_AN_AGENT, "Personal canned replies are an agent's: name a business line.")
        reply = CannedReply(agent=agent, shortcut=shortcut, title=title, body=body)
    _saved(reply)
    logger.info("canned reply %s created (/%s)", reply.pk, reply.shortcut)
    return reply


def _editable(*, user: AbstractBaseUser | AnonymousUser, reply_id: int) -> CannedReply:
    reply = canned_replies_visible(user=user).filter(pk=reply_id).first()
    if reply is None:
        raise DeskError(ErrorCode.NOT_FOUND, "No such canned reply.")
    if not canned_reply_editable(user=user, reply=reply):
        raise DeskError(ErrorCode.PERMISSION_DENIED, "Only supervisors change a business line's canned replies.")
    return reply


def canned_reply_update(
    *,
    user: AbstractBaseUser | AnonymousUser,
    reply_id: int,
    shortcut: str | None = None,
    title: str | None = None,
    body: str | None = None,
) -> CannedReply:
    """Changes what is given; the owner stays (a personal reply never becomes a line's)."""
    reply = _editable(user=user, reply_id=reply_id)
    reply.shortcut, reply.title, reply.body = _clean(
        shortcut=reply.shortcut if shortcut is None else shortcut,
        title=reply.title if title is None else title,
        body=reply.body if body is None else body,
    )
    reply.updated_at = timezone.now()
    return _saved(reply)


def canned_reply_delete(*, user: AbstractBaseUser | AnonymousUser, reply_id: int) -> None:
    reply = _editable(user=user, reply_id=reply_id)
    reply.delete()
    logger.info("canned reply %s deleted", reply_id)


def conversation_labels_set(*, agent_id: int, conversation_id: int, label_ids: list[int]) -> list[Label]:
    """The conversation's labels become exactly these, each one of its business line's; any agent of the line
    may set them, on an open or an ended conversation."""
    conversation = conversation_for_agent(agent_id=agent_id, conversation_id=conversation_id)
    if conversation is None:
        raise DeskError(ErrorCode.NOT_FOUND, "No such conversation.")
    wanted = set(label_ids)
    labels = list(Label.objects.filter(business_line_id=conversation.business_line_id, id__in=wanted))
    if len(labels) != len(wanted):
        raise DeskError(ErrorCode.INVALID_FIELD, "A label is not one of this business line's.", field="label_ids")
    with transaction.atomic():
        conversation.labels.set(labels)
    logger.info("conversation %s labels set to %s by agent %s", conversation_id, sorted(wanted), agent_id)
    return sorted(labels, key=lambda label: (label.name, label.pk))


def customer_note_add(*, agent_id: int, customer_id: int, body: str) -> CustomerNote:
    """A note on a customer the agent may see, for every agent who may see them."""
    if history_customer_for_agent(agent_id=agent_id, customer_id=customer_id) is None:
        raise DeskError(ErrorCode.NOT_FOUND, "No such customer.")
    body = body.strip()
    if not body or len(body) > NOTE_MAX:
        raise DeskError(ErrorCode.INVALID_FIELD, f"A note is 1 to {NOTE_MAX} characters.", field="body")
    note = CustomerNote.objects.create(customer_id=customer_id, author_id=agent_id, body=body)
    logger.info("note %s on customer %s by agent %s", note.pk, customer_id, agent_id)
    return note
