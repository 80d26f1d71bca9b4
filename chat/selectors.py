"""Reads of conversations and messages for the live chat and the REST history."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Exists, OuterRef, Q

from chat.models import OPEN_STATUSES, Conversation, ConversationStatus, Message
from chat.permissions import Participant, conversation_for, visible_conversations
from customers.models import Customer


def history_customer_for_agent(*, agent_id: int, customer_id: int) -> Customer | None:
    """The customer if they belong to one of the agent's business lines, or have a conversation the agent may see
    (one transferred to the agent's line); else None, as if they did not exist."""
    visible = visible_conversations(Participant(kind="agent", id=agent_id)).filter(customer_id=OuterRef("pk"))
    return (
        Customer.objects.filter(id=customer_id)
        .filter(Q(business_line__agents__id=agent_id) | Exists(visible))
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
    queryset = Message.objects.filter(conversation=conversation, seq__gt=after_seq).order_by("seq")
    if not participant.is_agent:
        queryset = queryset.filter(is_internal_note=False)
    messages = list(queryset[: limit + 1])
    return messages[:limit], len(messages) > limit


def conversation_with_relations(*, conversation_id: int) -> Conversation:
    return Conversation.objects.select_related("customer", "business_line", "agent").get(id=conversation_id)


def customer_open_conversations(*, customer_id: int) -> list[Conversation]:
    return list(
        Conversation.objects.select_related("customer", "business_line", "agent")
        .filter(customer_id=customer_id, status__in=OPEN_STATUSES)
        .order_by("id")
    )


def agent_active_conversations(*, agent_id: int) -> list[Conversation]:
    return list(
        Conversation.objects.select_related("customer", "business_line", "agent")
        .filter(agent_id=agent_id, status=ConversationStatus.ACTIVE)
        .order_by("assigned_at", "id")
    )
