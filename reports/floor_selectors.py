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
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from chat.models import Conversation, ConversationStatus, Message, Sender
from chat.payloads import conversation_payload
from reports.selectors import _rounded, floor_monitor
from routing.models import BusinessLine
from routing.selectors import QUEUE_ORDER


def floor_live() -> dict[str, Any]:
    """The `monitor.snapshot` frame of the supervisor socket: every business line's `floor_monitor` figures (the one
    place each of them is computed), with what is behind them: the queue in the order it is served, each agent's
    active chats with how long the customer's last message has gone unanswered, and the missed conversations and
    left messages nobody has answered yet (docs/protocol.md, "Supervisors").

    A chat breaches its line's reply target (`agent_reply_timeout`) when the customer's last message has waited
    longer than that for an agent's answer. Lists hold at most CHAT_QUEUE_SNAPSHOT_LIMIT entries each.
    """
    now = timezone.now()
    return {
        "type": "monitor.snapshot",
        "server_time": now.isoformat(),
        "lines": [_line_floor(line, now=now) for line in BusinessLine.objects.order_by("name", "id")],
    }


def _line_floor(line: BusinessLine, *, now: datetime) -> dict[str, Any]:
    limit = settings.CHAT_QUEUE_SNAPSHOT_LIMIT
    figures = floor_monitor(line)
    conversations = Conversation.objects.filter(business_line=line).select_related("customer", "business_line", "agent")
    queue = [
        {
            **conversation_payload(conversation, queue_position=position),
            "waited_seconds": _rounded(max((now - conversation.started_at).total_seconds(), 0.0)),
        }
        for position, conversation in enumerate(
            conversations.filter(status=ConversationStatus.WAITING).order_by(*QUEUE_ORDER)[:limit], start=1
        )
    ]
    chats: dict[int, list[dict[str, Any]]] = {}
    for conversation in conversations.filter(status=ConversationStatus.ACTIVE).order_by("assigned_at", "id")[:limit]:
        assert conversation.agent_id is not None  # an active conversation has an agent (a database constraint)
        chats.setdefault(conversation.agent_id, []).append(
            _chat(conversation, now=now, reply_target=line.agent_reply_timeout)
        )
    last_event = (
        Message.objects.filter(conversation=OuterRef("pk"), sender=Sender.SYSTEM)
        .exclude(event="")
        .order_by("-seq")
        .values("event")[:1]
    )
    missed = [
        {
            **conversation_payload(conversation),
            "left_message": conversation.last_event == "left_message",
            "missed_seconds": _rounded(max((now - (conversation.closed_at or now)).total_seconds(), 0.0)),
        }
        for conversation in conversations.filter(status=ConversationStatus.MISSED)
        .annotate(last_event=Subquery(last_event))
        .order_by("started_at", "id")[:limit]
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


def _chat(conversation: Conversation, *, now: datetime, reply_target: int) -> dict[str, Any]:
    """An active chat on the monitor: unanswered while the customer spoke after the agent's last message."""
    said = conversation.last_customer_message_at
    answered = conversation.last_agent_message_at
    unanswered_since = said if said is not None and (answered is None or said > answered) else None
    unanswered = max((now - unanswered_since).total_seconds(), 0.0) if unanswered_since is not None else None
    assert conversation.assigned_at is not None  # set with the agent
    return {
        **conversation_payload(conversation),
        "assigned_at": conversation.assigned_at.isoformat(),
        "unanswered_since": unanswered_since.isoformat() if unanswered_since is not None else None,
        "unanswered_seconds": _rounded(unanswered),
        "breach": unanswered is not None and unanswered > reply_target,
    }
