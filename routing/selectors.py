"""Reads about the waiting queue: order, positions, estimated wait, and whether anyone can answer now."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Avg, DurationField, ExpressionWrapper, F, Q, QuerySet
from django.utils import timezone

from agents import presence
from agents.models import Agent, Presence
from chat.models import Conversation, ConversationStatus
from chat.payloads import conversation_payload
from routing.models import BusinessLine

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Until a business line has handled enough chats, assume this long per chat.
DEFAULT_HANDLING_SECONDS = 300
RECENT_CHATS_FOR_ESTIMATE = 50


def waiting_queue(*, business_line_id: int) -> QuerySet[Conversation]:
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


def business_line_is_open(business_line: BusinessLine, *, at: datetime | None = None) -> bool:
    """Within the weekly schedule, in the business line's time zone; an empty schedule is always open."""
    schedule = business_line.business_hours or {}
    if not schedule:
        return True
    local = (at or timezone.now()).astimezone(zoneinfo.ZoneInfo(business_line.time_zone))
    now = local.strftime("%H:%M")
    return any(start <= now < end for start, end in schedule.get(WEEKDAYS[local.weekday()], []))


def available_agent_ids(*, business_line_id: int) -> list[int]:
    """Agents of the team who chose `online` and have a live socket on some worker, in id order."""
    team = Agent.objects.filter(business_lines__id=business_line_id, presence=Presence.ONLINE).values_list(
        "id", flat=True
    )
    return sorted(presence.connected_agent_ids(team))


def business_line_offline(business_line: BusinessLine) -> bool:
    """Closed, or nobody online: the widget offers to leave a message instead of waiting."""
    return not business_line_is_open(business_line) or not available_agent_ids(business_line_id=business_line.id)


def average_handling_seconds(*, business_line_id: int) -> float:
    recent = (
        Conversation.objects.filter(
            business_line_id=business_line_id,
            status=ConversationStatus.CLOSED,
            assigned_at__isnull=False,
            closed_at__isnull=False,
        )
        .order_by("-closed_at")
        .values("id")[:RECENT_CHATS_FOR_ESTIMATE]
    )
    average = Conversation.objects.filter(id__in=recent).aggregate(
        value=Avg(ExpressionWrapper(F("closed_at") - F("assigned_at"), output_field=DurationField()))
    )["value"]
    return average.total_seconds() if isinstance(average, timedelta) else DEFAULT_HANDLING_SECONDS


def estimated_wait_seconds(*, position: int, handling_seconds: float, slots: int) -> int:
    """Chats ahead are served `slots` at a time, each taking about `handling_seconds`."""
    return int(round(position * handling_seconds / max(slots, 1)))


def team_slots(*, business_line_id: int) -> int:
    return sum(
        Agent.objects.filter(id__in=available_agent_ids(business_line_id=business_line_id)).values_list(
            "capacity", flat=True
        )
    )


def conversation_state(conversation: Conversation) -> dict[str, Any]:
    """The `conversation.state` frame: the conversation plus what a waiting customer needs to know."""
    position = queue_position(conversation)
    payload = conversation_payload(conversation, queue_position=position)
    if position is not None:
        payload["estimated_wait_seconds"] = estimated_wait_seconds(
            position=position,
            handling_seconds=average_handling_seconds(business_line_id=conversation.business_line_id),
            slots=team_slots(business_line_id=conversation.business_line_id),
        )
    payload["offline"] = business_line_offline(conversation.business_line)
    if conversation.status == ConversationStatus.MISSED:
        payload["leave_message"] = True
    return {"type": "conversation.state", "conversation": payload}


def queue_states(*, business_line_id: int) -> list[dict[str, Any]]:
    """`conversation.state` for every waiting conversation of a business line, in queue order, cheaply."""
    waiting = list(waiting_queue(business_line_id=business_line_id).select_related("customer", "business_line"))
    if not waiting:
        return []
    handling = average_handling_seconds(business_line_id=business_line_id)
    slots = team_slots(business_line_id=business_line_id)
    offline = business_line_offline(waiting[0].business_line)
    frames = []
    for position, conversation in enumerate(waiting, start=1):
        payload = conversation_payload(conversation, queue_position=position)
        payload["estimated_wait_seconds"] = estimated_wait_seconds(
            position=position, handling_seconds=handling, slots=slots
        )
        payload["offline"] = offline
        frames.append({"type": "conversation.state", "conversation": payload})
    return frames
