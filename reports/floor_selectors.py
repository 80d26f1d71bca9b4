"""The supervisors' live monitor: every business line's floor at this moment, with what is behind its figures.

The figures themselves (waiting, longest wait, active, missed today, each agent's status, load and capacity) are
`reports.selectors.floor_monitor`'s, the one place that computes them for `GET /api/monitor/` too; this adds the
lists a supervisor watches: the queue, each agent's chats with the customer's unanswered time, and the missed
conversations and left messages nobody has answered yet (docs/reports.md, "The live monitor").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import F, OuterRef, Q, Subquery
from django.utils import timezone

from chat.models import Conversation, ConversationStatus, Message, Sender
from reports.selectors import _rounded, floor_monitor
from routing.models import BusinessLine
from routing.selectors import QUEUE_ORDER

# What the monitor shows of each conversation it lists: who, where from, since when (one row read, no objects).
_ENTRY_FIELDS = ("id", "channel", "started_at", "customer_id", "customer__name", "customer__email")


# The customer's first message since the agent's last answer (internal notes are none): when their wait for an
# answer began. Read for the active chats only, through the messages' (conversation, seq) index.
_FIRST_UNANSWERED = (
    Message.objects.filter(conversation=OuterRef("pk"), sender=Sender.CUSTOMER)
    .filter(
        Q(conversation__last_agent_message_at__isnull=True) | Q(created_at__gt=F("conversation__last_agent_message_at"))
    )
    .order_by("seq")
    .values("created_at")[:1]
)


def floor_live(*, list_limit: int | None = None) -> dict[str, Any]:
    """The `monitor.snapshot` frame of the supervisor socket: every business line's `floor_monitor` figures (the one
    place each of them is computed), with what is behind them: the queue in the order it is served, each agent's
    active chats with how long the customer's last message has gone unanswered, and the missed conversations and
    left messages nobody has answered yet (docs/protocol.md, "Supervisors: the live monitor").

    A chat breaches its line's reply target (`agent_reply_timeout`) when the customer's last message has waited
    longer than that for an agent's answer. Each list holds at most `list_limit` entries (CHAT_QUEUE_SNAPSHOT_LIMIT
    by default). Three queries a line besides `floor_monitor`'s, reading only the columns shown.
    """
    now = timezone.now()
    limit = list_limit if list_limit is not None else settings.CHAT_QUEUE_SNAPSHOT_LIMIT
    return {
        "type": "monitor.snapshot",
        "server_time": now.isoformat(),
        "lines": [_line_floor(line, now=now, limit=limit) for line in BusinessLine.objects.order_by("name", "id")],
    }


def _line_floor(line: BusinessLine, *, now: datetime, limit: int) -> dict[str, Any]:
    figures = floor_monitor(line)
    conversations = Conversation.objects.filter(business_line=line)
    queue = [
        {**_entry(row), "queue_position": position, "waited_seconds": _seconds_since(row["started_at"], now)}
        for position, row in enumerate(
            conversations.filter(status=ConversationStatus.WAITING)
            .order_by(*QUEUE_ORDER)
            .values(*_ENTRY_FIELDS)[:limit],
            start=1,
        )
    ]
    chats: dict[int, list[dict[str, Any]]] = {}
    active = (
        conversations.filter(status=ConversationStatus.ACTIVE)
        .annotate(first_unanswered_at=Subquery(_FIRST_UNANSWERED))
        .order_by("assigned_at", "id")
    )
    for row in active.values(
        *_ENTRY_FIELDS,
        "agent_id",
        "assigned_at",
        "last_customer_message_at",
        "last_agent_message_at",
        "first_unanswered_at",
    )[:limit]:
        chats.setdefault(row["agent_id"], []).append(_chat(row, now=now, reply_target=line.agent_reply_timeout))
    last_event = (
        Message.objects.filter(conversation=OuterRef("pk"), sender=Sender.SYSTEM)
        .exclude(event="")
        .order_by("-seq")
        .values("event")[:1]
    )
    missed = [
        {
            **_entry(row),
            "closed_at": row["closed_at"].isoformat(),
            "close_reason": row["close_reason"],
            "left_message": row["last_event"] == "left_message",
            "missed_seconds": _seconds_since(row["closed_at"], now),
        }
        for row in conversations.filter(status=ConversationStatus.MISSED)
        .annotate(last_event=Subquery(last_event))
        .order_by("started_at", "id")
        .values(*_ENTRY_FIELDS, "closed_at", "close_reason", "last_event")[:limit]
    ]
    return {
        "business_line": {"key": line.key, "name": line.name},
        "reply_target_seconds": line.agent_reply_timeout,
        **figures,
        "agents": [{**agent, "chats": chats.get(agent["id"], [])} for agent in figures["agents"]],
        "queue": queue,
        "missed": missed,
        "breaches": sum(chat["breach"] for agent_chats in chats.values() for chat in agent_chats),
    }


def _entry(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "channel": row["channel"],
        "customer": {"id": row["customer_id"], "name": row["customer__name"], "email": row["customer__email"]},
        "started_at": row["started_at"].isoformat(),
    }


def _seconds_since(moment: datetime, now: datetime) -> float | None:
    return _rounded(max((now - moment).total_seconds(), 0.0))


def _chat(row: dict[str, Any], *, now: datetime, reply_target: int) -> dict[str, Any]:
    """An active chat on the monitor. It is unanswered while the customer spoke after the agent's last message; the
    customer has waited since their first message after it (`unanswered_since`, which a breach is measured by), and
    their last message is `last_unanswered_at`."""
    said: datetime | None = row["last_customer_message_at"]
    answered: datetime | None = row["last_agent_message_at"]
    waiting = said is not None and (answered is None or said > answered)
    since: datetime | None = (row["first_unanswered_at"] or said) if waiting else None
    last = said if waiting else None
    unanswered = _seconds_since(since, now) if since is not None else None
    return {
        **_entry(row),
        "assigned_at": row["assigned_at"].isoformat(),
        "unanswered_since": since.isoformat() if since is not None else None,
        "unanswered_seconds": unanswered,
        "last_unanswered_at": last.isoformat() if last is not None else None,
        "last_unanswered_seconds": _seconds_since(last, now) if last is not None else None,
        "breach": unanswered is not None and unanswered > reply_target,
    }
