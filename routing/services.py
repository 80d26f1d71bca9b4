"""The assignment rule, in one place.

Per business line, the next waiting conversation (highest priority, then oldest) goes to the online,
connected agent of the line's team with the most free capacity; ties go to the agent whose last
assignment is oldest. Each assignment is one short transaction: the conversation row is taken with
`SKIP LOCKED` (so concurrent assigners work on different conversations), then the candidate agents'
rows are locked in id order (so they cannot deadlock) and their load counted under that lock, so no
conversation is assigned twice and no agent goes past capacity, whichever worker decides.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone as dt_timezone

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from agents import presence
from agents.models import Agent, Presence
from chat import events
from chat.models import Conversation, ConversationStatus
from chat.services import conversation_state_publish_on_commit, system_message_append
from routing.selectors import waiting_queue

logger = logging.getLogger(__name__)

_NEVER = datetime.min.replace(tzinfo=dt_timezone.utc)


def assignment_request(*, business_line_id: int) -> None:
    """Something happened that may make an assignment possible: run the rule for that business line."""
    try:
        assignment_run(business_line_id=business_line_id)
    except Exception:
        logger.exception("assignment failed for business line %s", business_line_id)


def assignment_run(*, business_line_id: int) -> list[int]:
    """Assign waiting conversations of the business line while an agent has room; returns their ids."""
    assigned: list[int] = []
    while (conversation_id := _assign_next(business_line_id)) is not None:
        assigned.append(conversation_id)
    return assigned


def _online_team(business_line_id: int) -> list[int]:
    team = list(
        Agent.objects.filter(business_lines__id=business_line_id, presence=Presence.ONLINE).values_list(
            "id", flat=True
        )
    )
    return sorted(presence.connected_agent_ids(team))


def _assign_next(business_line_id: int) -> int | None:
    candidates = _online_team(business_line_id)
    if not candidates:
        return None
    with transaction.atomic():
        conversation = waiting_queue(business_line_id=business_line_id).select_for_update(skip_locked=True).first()
        if conversation is None:
            return None
        agents = list(
            Agent.objects.select_for_update().filter(id__in=candidates, presence=Presence.ONLINE).order_by("id")
        )
        load = dict(
            Conversation.objects.filter(agent__in=agents, status=ConversationStatus.ACTIVE)
            .values_list("agent_id")
            .annotate(count=Count("id"))
        )
        with_room = [agent for agent in agents if agent.capacity > load.get(agent.id, 0)]
        if not with_room:
            return None
        agent = max(
            with_room,
            key=lambda a: (a.capacity - load.get(a.id, 0), -(a.last_assigned_at or _NEVER).timestamp(), -a.id),
        )
        _assign(conversation, agent)
    logger.info("conversation %s assigned to agent %s", conversation.id, agent.id)
    return conversation.id


def _assign(conversation: Conversation, agent: Agent) -> None:
    now = timezone.now()
    conversation.status = ConversationStatus.ACTIVE
    conversation.agent = agent
    conversation.assigned_at = now
    conversation.save(update_fields=["status", "agent", "assigned_at"])
    Agent.objects.filter(id=agent.id).update(last_assigned_at=now)
    system_message_append(
        conversation=conversation, event="assigned", body=f"{agent.display_name} joined the conversation."
    )
    conversation_state_publish_on_commit(conversation)
    events.publish_on_commit(events.agent_group(agent.id), events.join_event(conversation.id))
