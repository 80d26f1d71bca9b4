"""Reads for data protection: which transcripts are past their retention, which customers are forgotten."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Exists, OuterRef, QuerySet

from chat.models import Conversation, ConversationStatus
from customers.models import Customer

ENDED_STATUSES = (ConversationStatus.CLOSED, ConversationStatus.MISSED)


def conversations_ended_before(*, business_line_id: int, cutoff: datetime) -> QuerySet[Conversation]:
    """Closed or missed conversations of a business line that ended before `cutoff`; an open one never is.

    A conversation ends after it starts, so `started_at` before the cutoff too: it lets PostgreSQL use the
    index on `started_at` instead of reading every conversation.
    """
    return Conversation.objects.filter(
        business_line_id=business_line_id,
        status__in=ENDED_STATUSES,
        closed_at__lt=cutoff,
        started_at__lt=cutoff,
    ).order_by("id")


def customers_forgotten_before(*, business_line_id: int, cutoff: datetime) -> QuerySet[Customer]:
    """Customers of a business line not seen since `cutoff` and with no conversation left."""
    return (
        Customer.objects.filter(business_line_id=business_line_id, last_seen_at__lt=cutoff)
        .filter(~Exists(Conversation.objects.filter(customer_id=OuterRef("pk"))))
        .order_by("id")
    )
