"""Reads about the waiting queue: order, positions, estimated wait, and whether anyone can answer now."""

from __future__ import annotations

import zoneinfo
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Min, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Left
from django.utils import timezone

from agents import presence
from agents.models import Agent, Presence
from chat.models import Conversation, ConversationStatus, Message, Sender
from chat.payloads import conversation_payload
from chat.permissions import Participant, conversation_for
from routing.models import BusinessLine

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Until a business line has handled enough chats, assume this long per chat.
DEFAULT_HANDLING_SECONDS = 300
RECENT_CHATS_FOR_ESTIMATE = 50


# The order the waiting queue is served in, the conversation side of the assignment rule
# (`routing.services._assignment_choice`): higher priority first, then longer in the queue (a requeued conversation
# keeps its start time as `queued_at`), then the lower id. Queue positions count by the same order.
QUEUE_ORDER = ("-priority", "queued_at", "id")


def waiting_queue(*, business_line_id: int) -> QuerySet[Conversation]:
    """Waiting conversations of a business line in the order they are served."""
    return Conversation.objects.filter(business_line_id=business_line_id, status=ConversationStatus.WAITING).order_by(
        *QUEUE_ORDER
    )


def queue_position(conversation: Conversation) -> int | None:
    """1 for the next conversation to be served; None when it is not waiting."""
    if conversation.status != ConversationStatus.WAITING:
        return None
    ahead = waiting_queue(business_line_id=conversation.business_line_id).filter(_served_before(conversation))
    return ahead.count() + 1


def _served_before(conversation: Conversation) -> Q:
    """The conversations `QUEUE_ORDER` puts ahead of this one, read term by term (ties go to the next term)."""
    ahead = Q(pk__in=[])
    tied = Q()
    for term in QUEUE_ORDER:
        field = term.removeprefix("-")
        value = getattr(conversation, field)
        ahead |= tied & Q(**{f"{field}__{'gt' if term.startswith('-') else 'lt'}": value})
        tied &= Q(**{field: value})
    return ahead


def business_line_is_open(business_line: BusinessLine, *, at: datetime | None = None) -> bool:
    """Within the weekly schedule, in the business line's time zone; an empty schedule is always open."""
    schedule = business_line.business_hours or {}
    if not schedule:
        return True
    local = (at or timezone.now()).astimezone(zoneinfo.ZoneInfo(business_line.time_zone))
    now = local.strftime("%H:%M")
    return any(start <= now < end for start, end in schedule.get(WEEKDAYS[local.weekday()], []))


def business_hours_q(business_line: BusinessLine, *, iso_weekday: str, local_time: str) -> Q:
    """`business_line_is_open` as a filter, for reports that count what happened within business hours: the
    moment's ISO weekday (1 = Monday) and time of day in the line's zone are read from the fields (or annotations)
    `iso_weekday` and `local_time`. The same weekly schedule and the same comparison (`start <= time < end`; an
    end of "24:00" is the end of the day); an empty schedule is always open."""
    schedule = business_line.business_hours or {}
    if not schedule:
        return Q()
    open_at = Q(pk__in=[])
    for weekday_number, weekday in enumerate(WEEKDAYS, start=1):
        for start, end in schedule.get(weekday, []):
            interval = Q(**{iso_weekday: weekday_number, f"{local_time}__gte": _time_of_day(start)})
            if end < "24:00":
                interval &= Q(**{f"{local_time}__lt": _time_of_day(end)})
            open_at |= interval
    return open_at


def _time_of_day(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def available_agent_ids(*, business_line_id: int) -> list[int]:
    """Agents of the team who chose `online` and have a live socket on some worker, in id order."""
    team = Agent.objects.filter(business_lines__id=business_line_id, presence=Presence.ONLINE).values_list(
        "id", flat=True
    )
    return sorted(presence.connected_agent_ids(team))


def agent_business_line_ids(*, agent_id: int) -> list[int]:
    return list(BusinessLine.objects.filter(agents__id=agent_id).values_list("id", flat=True))


def business_line_offline(business_line: BusinessLine) -> bool:
    """Closed, or nobody online: the widget offers to leave a message instead of waiting."""
    return not business_line_is_open(business_line) or not available_agent_ids(business_line_id=business_line.id)


async def business_line_offline_among(business_line: BusinessLine, *, online_agent_ids: list[int]) -> bool:
    """`business_line_offline` for a caller that read the team's `online` agents already (a socket's handshake):
    only Redis is asked, from the event loop."""
    return not business_line_is_open(business_line) or not await presence.any_connected(online_agent_ids)


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
    return round(position * handling_seconds / max(slots, 1))


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


# Characters of the newest customer message shown with each conversation of an agent's queue.
QUEUE_PREVIEW_CHARS = 200


def agent_queue_snapshot(*, agent_id: int) -> dict[str, Any]:
    """The `queue.snapshot` frame: the waiting and missed conversations of the agent's business lines.

    Waiting ones in the order they are served (`QUEUE_ORDER`, so oldest first within a priority) with their
    queue position, missed ones oldest first; each with when its wait began, how long it has waited and the
    newest thing the customer wrote. One query per list, the first CHAT_QUEUE_SNAPSHOT_LIMIT of each: an agent's
    socket reads it at connect and after every change of their lines' queues (coalesced), so it must stay cheap.
    """
    now = timezone.now()
    limit = settings.CHAT_QUEUE_SNAPSHOT_LIMIT
    newest_customer_text = (
        Message.objects.filter(conversation=OuterRef("pk"), sender=Sender.CUSTOMER).order_by("-seq").values("body")[:1]
    )
    lines = Conversation.objects.filter(
        business_line_id__in=BusinessLine.objects.filter(agents__id=agent_id).values("id")
    ).select_related("customer", "business_line", "agent")
    waiting = lines.filter(status=ConversationStatus.WAITING).order_by(*QUEUE_ORDER)
    missed = lines.filter(status=ConversationStatus.MISSED).order_by("started_at", "id")
    preview = Left(Subquery(newest_customer_text), QUEUE_PREVIEW_CHARS)
    positions: Counter[int] = Counter()
    waiting_payloads = []
    for conversation in waiting.annotate(preview=preview)[:limit]:
        positions[conversation.business_line_id] += 1
        payload = conversation_payload(conversation, queue_position=positions[conversation.business_line_id])
        waiting_payloads.append(_queued_payload(payload, conversation, since=conversation.waiting_since, now=now))
    missed_payloads = [
        _queued_payload(conversation_payload(conversation), conversation, since=conversation.started_at, now=now)
        for conversation in missed.annotate(preview=preview)[:limit]
    ]
    return {"type": "queue.snapshot", "waiting": waiting_payloads, "missed": missed_payloads}


def _queued_payload(
    payload: dict[str, Any], conversation: Conversation, *, since: datetime, now: datetime
) -> dict[str, Any]:
    return {
        **payload,
        "waiting_since": since.isoformat(),
        "waited_seconds": max(int((now - since).total_seconds()), 0),
        "preview": getattr(conversation, "preview", None) or "",
    }


@dataclass(frozen=True)
class LineQueue:
    """Where one business line's queue stands now."""

    business_line: str
    waiting: int
    longest_wait_seconds: float
    agents_available: int


def queue_overview() -> list[LineQueue]:
    """Every business line's waiting count, longest current wait (from `waiting_since`) and agents who could
    take a chat (online and connected), by key. Three small queries (the waiting ones through their partial
    index) and one Redis round trip, however many lines: `/metrics` reads it at every scrape."""
    now = timezone.now()
    queues = {
        line_id: (count, oldest)
        for line_id, count, oldest in Conversation.objects.filter(status=ConversationStatus.WAITING)
        .order_by()
        .values("business_line_id")
        .annotate(count=Count("id"), oldest=Min("waiting_since"))
        .values_list("business_line_id", "count", "oldest")
    }
    team = list(
        Agent.business_lines.through.objects.filter(agent__presence=Presence.ONLINE).values_list(
            "businessline_id", "agent_id"
        )
    )
    connected = presence.connected_agent_ids({agent_id for _, agent_id in team})
    available = Counter(line_id for line_id, agent_id in team if agent_id in connected)
    overview = []
    for line_id, key in BusinessLine.objects.order_by("key").values_list("id", "key"):
        count, oldest = queues.get(line_id, (0, None))
        overview.append(
            LineQueue(
                business_line=key,
                waiting=count,
                longest_wait_seconds=max((now - oldest).total_seconds(), 0.0) if oldest is not None else 0.0,
                agents_available=available[line_id],
            )
        )
    return overview


def transfer_targets(*, agent_id: int, conversation_id: int) -> dict[str, Any]:
    """Where the agent may hand a conversation of their lines (`not_found` for any other): the other agents of its
    business line, each with their presence (`offline` without a live socket, whatever they chose), load and
    capacity, and every other business line with how many wait there and how many of its agents are online."""
    conversation = conversation_for(Participant(kind="agent", id=agent_id), conversation_id)
    line_id = conversation.business_line_id
    team = list(
        Agent.objects.filter(business_lines__id=line_id)
        .exclude(id=agent_id)
        .annotate(load=Count("conversations", filter=Q(conversations__status=ConversationStatus.ACTIVE), distinct=True))
        .order_by("display_name", "id")
    )
    connected = presence.connected_agent_ids(agent.pk for agent in team)
    agents = []
    for agent in team:
        status = agent.presence if agent.pk in connected else Presence.OFFLINE.value
        agents.append(
            {
                "id": agent.pk,
                "name": agent.display_name,
                "presence": status,
                "load": agent.load,
                "capacity": agent.capacity,
                "available": status == Presence.ONLINE and agent.load < agent.capacity,
            }
        )
    lines = list(
        BusinessLine.objects.exclude(id=line_id)
        .annotate(waiting=Count("conversations", filter=Q(conversations__status=ConversationStatus.WAITING)))
        .order_by("name")
    )
    # Who is online in the other lines: one query and one Redis call, however many lines there are.
    online = list(
        Agent.business_lines.through.objects.filter(
            businessline_id__in=[line.pk for line in lines], agent__presence=Presence.ONLINE
        ).values_list("businessline_id", "agent_id")
    )
    live = presence.connected_agent_ids({agent_id for _, agent_id in online})
    online_count = Counter(line_pk for line_pk, agent_id in online if agent_id in live)
    return {
        "conversation_id": conversation.pk,
        "agents": agents,
        "business_lines": [
            {"key": line.key, "name": line.name, "waiting": line.waiting, "agents_online": online_count[line.pk]}
            for line in lines
        ],
    }
