"""Reads about the waiting queue."""

from __future__ import annotations

from django.db.models import Q

from chat.models import Conversation, ConversationStatus


def waiting_queue(*, business_line_id: int):
    """Waiting conversations of a business line in the order they are served: priority, then oldest first."""
    return Conversation.objects.filter(
        business_line_id=business_line_id, status=ConversationStatus.WAITING
    ).order_by("-priority", "queued_at", "id")


def queue_position(conversation: Conversation) -> int | None:
    """1 for the next conversation to be served; None when it is not waiting."""
    if conversation.status != ConversationStatus.WAITING:
        return None
    ahead = Conversation.objects.filter(
        Q(priority__gt=conversation.priority)
        | Q(priority=conversation.priority, queued_at__lt=conversation.queued_at)
        | Q(priority=conversation.priority, queued_at=conversation.queued_at, id__lt=conversation.id),
        business_line_id=conversation.business_line_id,
        status=ConversationStatus.WAITING,
    ).count()
    return ahead + 1
