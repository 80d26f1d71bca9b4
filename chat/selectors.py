"""Reads of conversations and messages for the live chat and the REST history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce

from chat.frames import wire_size
from chat.models import Attachment, Conversation, ConversationStatus, Message
from chat.payloads import message_payload
from chat.permissions import Participant, conversation_for, require_writable, visible_conversations
from customers.models import Customer


def history_customer_for_agent(*, agent_id: int, customer_id: int) -> Customer | None:
    """The customer if they belong to one of the agent's business lines, or have a conversation the agent may see
    (one transferred to the agent's line); else None, as if they did not exist. With `conversation_count`: all
    their conversations on every line, the contact panel's figure (the list holds only the agent's)."""
    visible = visible_conversations(Participant(kind="agent", id=agent_id)).filter(customer_id=OuterRef("pk"))
    count = (
        Conversation.objects.filter(customer_id=OuterRef("pk"))
        .order_by()
        .values("customer_id")
        .annotate(total=Count("id"))
        .values("total")
    )
    return (
        Customer.objects.filter(id=customer_id)
        .filter(Q(business_line__agents__id=agent_id) | Exists(visible))
        .annotate(conversation_count=Coalesce(Subquery(count), 0))
        .first()
    )


def history_customer_conversations(*, agent_id: int, customer_id: int) -> list[Conversation]:
    """Every conversation of the customer the agent may see, on every channel, newest first, in one query."""
    return list(
        visible_conversations(Participant(kind="agent", id=agent_id))
        .filter(customer_id=customer_id)
        .select_related("customer", "business_line", "agent")
        .order_by("-started_at", "-id")
    )


def messages_after(
    *, participant: Participant, conversation_id: int, after_seq: int, limit: int | None = None
) -> tuple[list[Message], bool]:
    """Messages the participant may see with `seq > after_seq`, in order, and whether more follow.

    Customers never see internal notes, so their view of `seq` skips those numbers.
    """
    limit = min(limit or settings.CHAT_SYNC_LIMIT, settings.CHAT_SYNC_LIMIT)
    conversation = conversation_for(participant, conversation_id)
    queryset = (
        Message.objects.filter(conversation=conversation, seq__gt=after_seq)
        .order_by("seq")
        .select_related("author_user")
        .prefetch_related("attachments")
    )
    if not participant.sees_internal_notes:
        queryset = queryset.filter(is_internal_note=False)
    messages = list(queryset[: limit + 1])
    return messages[:limit], len(messages) > limit


# Rows fetched first when paging by bytes; later fetches size themselves on what the first ones weighed.
_FIRST_BATCH = 100


def message_payloads_page(
    *, participant: Participant, conversation_id: int, after_seq: int, max_bytes: int
) -> tuple[list[dict[str, Any]], bool]:
    """Wire payloads of the messages after `after_seq` that fit in `max_bytes` of a frame, and whether more follow.

    A socket frame must stay under Daphne's frame limit however long the chat (docs/protocol.md, "Limits"): the
    page ends at `CHAT_SYNC_LIMIT` messages or at `max_bytes`, whichever comes first, and always holds at least
    one message when any follows, so a client paging on with `has_more` always moves forward.
    """
    limit = settings.CHAT_SYNC_LIMIT
    conversation = conversation_for(participant, conversation_id)
    queryset = (
        Message.objects.filter(conversation=conversation)
        .order_by("seq")
        .select_related("author_user")
        .prefetch_related("attachments")
    )
    if not participant.sees_internal_notes:
        queryset = queryset.filter(is_internal_note=False)
    payloads: list[dict[str, Any]] = []
    used = 0
    cursor = after_seq
    batch = min(limit, _FIRST_BATCH)
    while True:
        rows = list(queryset.filter(seq__gt=cursor)[: batch + 1])
        for message in rows[:batch]:
            payload = message_payload(message)
            size = wire_size(payload) + 1  # and its comma
            if payloads and used + size > max_bytes:
                return payloads, True
            payloads.append(payload)
            used += size
        if len(rows) <= batch:
            return payloads, False
        if len(payloads) >= limit:
            return payloads, True
        cursor = rows[batch - 1].seq
        room = max(0, max_bytes - used)
        batch = min(limit - len(payloads), room * len(payloads) // used + 1)


def conversation_with_relations(*, conversation_id: int) -> Conversation:
    return Conversation.objects.select_related("customer", "business_line", "agent").get(id=conversation_id)


# Most conversations the workbench's "closed today" list shows: a whole shift's worth.
CLOSED_LIST_LIMIT = 200


def agent_closed_conversations(*, agent_id: int, since: datetime) -> list[Conversation]:
    """The conversations the agent ended with: closed since `since` while assigned to them, newest first. The
    workbench lists them after a reload, when the socket no longer carries them (it only carries open ones)."""
    return list(
        Conversation.objects.select_related("customer", "business_line", "agent")
        .filter(agent_id=agent_id, status=ConversationStatus.CLOSED, closed_at__gte=since)
        .order_by("-closed_at", "-id")[:CLOSED_LIST_LIMIT]
    )


def agent_active_conversations(*, agent_id: int) -> list[Conversation]:
    return list(
        Conversation.objects.select_related("customer", "business_line", "agent")
        .filter(agent_id=agent_id, status=ConversationStatus.ACTIVE)
        .order_by("assigned_at", "id")
    )


@dataclass(frozen=True)
class AttachmentLimits:
    max_bytes: int
    types: frozenset[str]


def attachment_limits_for(*, participant: Participant, conversation_id: int) -> AttachmentLimits:
    """The limits for files of a conversation the participant may write to (else the refusal `message.send`
    would meet), from its business line, each falling back to the environment's default
    (ATTACHMENT_MAX_BYTES, ATTACHMENT_ALLOWED_TYPES) where the line sets none."""
    conversation = conversation_for(participant, conversation_id)
    require_writable(participant, conversation)
    line = Conversation.objects.values("business_line__attachment_max_bytes", "business_line__attachment_types").get(
        id=conversation.id
    )
    types = line["business_line__attachment_types"].replace(",", "\n").split()
    return AttachmentLimits(
        max_bytes=line["business_line__attachment_max_bytes"] or settings.ATTACHMENT_MAX_BYTES,
        types=frozenset(types or settings.ATTACHMENT_ALLOWED_TYPES),
    )


def attachment_for_download(*, attachment_id: int, participant: Participant | None) -> Attachment | None:
    """The attachment if it was sent or uploaded in a conversation the participant may see (anyone, for None:
    the caller checked a signed link); None otherwise, as if it did not exist."""
    queryset = Attachment.objects.filter(id=attachment_id)
    if participant is not None:
        queryset = queryset.filter(conversation__in=visible_conversations(participant))
        if not participant.sees_internal_notes:
            queryset = queryset.exclude(message__is_internal_note=True)
    return queryset.first()
