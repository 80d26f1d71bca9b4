"""Routing: the assignment rule, transfers, queue positions and timeouts.

The assignment rule lives in `_assign_next` and nowhere else. Per business line, the next waiting
conversation (highest priority, then oldest) goes to the online, connected agent of the line's team with
the most free capacity; ties go to the agent whose last assignment is oldest. Each assignment is one short
transaction: the conversation row is taken with `SKIP LOCKED` (concurrent assigners work on different
conversations), then the candidate agents' rows are locked in id order (so they cannot deadlock) and their
load counted under that lock: no conversation is assigned twice and no agent goes past capacity, whichever
web or Celery worker decides. Locks are always taken conversation first, then agents by id.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from agents import presence
from agents.models import Agent
from chat import events
from chat.errors import ChatError
from chat.models import OPEN_STATUSES, CloseReason, Conversation, ConversationStatus
from chat.permissions import Participant, conversation_for, require_writable
from chat.services import conversation_end, conversation_state_publish_on_commit, system_message_append
from cs_platform import metrics
from cs_platform.errors import ErrorCode
from cs_platform.redis_clients import sync_client
from routing.models import BusinessLine
from routing.selectors import available_agent_ids, conversation_state, queue_states, waiting_queue

logger = logging.getLogger(__name__)

_NEVER = datetime.min.replace(tzinfo=UTC)


# Triggers


def routing_request(*, business_line_id: int) -> None:
    """Something changed a business line's queue or team: once committed, run the rule and update positions.

    Requests for one line coalesce: while a run is pending, more requests add nothing, and the run reads
    the database after clearing the flag, so every change is seen by some run. The beat sweep covers a run
    that was lost (a broker outage, a killed worker).
    """

    def enqueue() -> None:
        from routing.tasks import line_changed

        try:
            if sync_client().set(_pending_key(business_line_id), 1, nx=True, ex=30):
                line_changed.delay(business_line_id)
        except Exception as error:
            logger.exception("could not enqueue routing for business line %s; the sweep will", business_line_id)
            metrics.error_caught("routing", error)

    transaction.on_commit(enqueue)


def _pending_key(business_line_id: int) -> str:
    return f"{settings.REDIS_PREFIX}:routing:pending:{business_line_id}"


def agent_freed(*, agent_id: int) -> None:
    """An agent's slot opened: every business line of theirs may now assign, not only the chat's own."""
    for line_id in BusinessLine.objects.filter(agents__id=agent_id).values_list("id", flat=True):
        routing_request(business_line_id=line_id)


def line_changed_run(*, business_line_id: int) -> list[int]:
    """The work behind `routing_request`: assign what can be assigned, then tell the queue where it stands."""
    sync_client().delete(_pending_key(business_line_id))
    assigned = assignment_run(business_line_id=business_line_id)
    queue_positions_publish(business_line_id=business_line_id)
    return assigned


# The assignment rule


def assignment_run(*, business_line_id: int) -> list[int]:
    """Assign waiting conversations of the business line while an agent has room; returns their ids."""
    assigned: list[int] = []
    while (conversation_id := _assign_next(business_line_id)) is not None:
        assigned.append(conversation_id)
    return assigned


def _assign_next(
    business_line_id: int,
    *,
    only_agent_id: int | None = None,
    conversation_id: int | None = None,
    exclude_agent_id: int | None = None,
) -> int | None:
    """Assign one conversation; the manual pick and reassignment narrow the choice but share the rule."""
    candidates = available_agent_ids(business_line_id=business_line_id)
    if only_agent_id is not None:
        candidates = [agent_id for agent_id in candidates if agent_id == only_agent_id]
    if exclude_agent_id is not None:
        candidates = [agent_id for agent_id in candidates if agent_id != exclude_agent_id]
    if not candidates:
        return None
    with transaction.atomic():
        queue = waiting_queue(business_line_id=business_line_id)
        if conversation_id is not None:
            queue = Conversation.objects.filter(
                id=conversation_id,
                business_line_id=business_line_id,
                status__in=[ConversationStatus.WAITING, ConversationStatus.MISSED],
            )
        conversation = queue.select_for_update(skip_locked=True).first()
        if conversation is None:
            return None
        agent = _agent_with_most_room(candidates)
        if agent is None:
            return None
        _assign(conversation, agent)
    logger.info("conversation %s assigned to agent %s", conversation.id, agent.id)
    return conversation.id


def _agent_with_most_room(candidate_ids: Iterable[int]) -> Agent | None:
    """Lock the candidates (by id) and pick the one with the most free capacity, then the longest idle."""
    agents = list(Agent.objects.select_for_update().filter(id__in=list(candidate_ids)).order_by("id"))
    load = dict(
        Conversation.objects.filter(agent__in=agents, status=ConversationStatus.ACTIVE)
        .values_list("agent_id")
        .annotate(count=Count("id"))
    )
    with_room = [agent for agent in agents if agent.capacity > load.get(agent.id, 0)]
    if not with_room:
        return None
    return max(
        with_room,
        key=lambda a: (a.capacity - load.get(a.id, 0), -(a.last_assigned_at or _NEVER).timestamp(), -a.id),
    )


def _assign(conversation: Conversation, agent: Agent) -> None:
    now = timezone.now()
    if conversation.status == ConversationStatus.WAITING:
        waited = (now - conversation.waiting_since).total_seconds()
        metrics.assignment_timed_on_commit(business_line=conversation.business_line.key, waited_seconds=waited)
    previous_agent_id = conversation.agent_id
    conversation.status = ConversationStatus.ACTIVE
    conversation.agent = agent
    conversation.assigned_at = now
    conversation.closed_at = None
    conversation.close_reason = ""
    conversation.save(update_fields=["status", "agent", "assigned_at", "closed_at", "close_reason"])
    Agent.objects.filter(id=agent.id).update(last_assigned_at=now)
    if previous_agent_id is not None and previous_agent_id != agent.id:
        events.publish_on_commit(events.agent_group(previous_agent_id), events.leave_event(conversation.id))
        agent_freed(agent_id=previous_agent_id)
    system_message_append(
        conversation=conversation, event="assigned", body=f"{agent.display_name} joined the conversation."
    )
    conversation_state_publish_on_commit(conversation)
    events.publish_on_commit(events.agent_group(agent.id), events.join_event(conversation.id))
    events.publish_on_commit(events.customer_group(conversation.customer_id), events.join_event(conversation.id))


def assignment_pick(*, agent_id: int, conversation_id: int) -> Conversation:
    """An agent with room takes a waiting or missed conversation of their business lines from the queue."""
    conversation = conversation_for(Participant(kind="agent", id=agent_id), conversation_id)
    if conversation.status not in (ConversationStatus.WAITING, ConversationStatus.MISSED):
        raise ChatError(ErrorCode.NOT_FOUND, "This conversation is not in the queue")
    if (
        conversation.status == ConversationStatus.MISSED
        and Conversation.objects.filter(customer_id=conversation.customer_id, status__in=OPEN_STATUSES).exists()
    ):
        raise ChatError(ErrorCode.AGENT_UNAVAILABLE, "The customer already has an open conversation")
    assigned = _assign_next(conversation.business_line_id, only_agent_id=agent_id, conversation_id=conversation_id)
    if assigned is None:
        raise ChatError(ErrorCode.AGENT_UNAVAILABLE, "You must be online, connected and have room to pick it")
    routing_request(business_line_id=conversation.business_line_id)
    return Conversation.objects.get(id=conversation_id)


# Transfer


def conversation_transfer(
    *, agent_id: int, conversation_id: int, to_agent_id: int | None = None, to_business_line: str | None = None
) -> Conversation:
    """Hand a conversation to another agent with room, or to another business line's queue."""
    if (to_agent_id is None) == (to_business_line is None):
        raise ChatError(ErrorCode.INVALID_FIELD, "Give exactly one of to_agent_id and to_business_line")
    participant = Participant(kind="agent", id=agent_id)
    with transaction.atomic():
        conversation = conversation_for(participant, conversation_id, for_update=True)
        require_writable(participant, conversation)
        old_line_id = conversation.business_line_id
        if to_agent_id is not None:
            _transfer_to_agent(conversation, to_agent_id)
        else:
            _transfer_to_queue(conversation, to_business_line or "")
        conversation_state_publish_on_commit(conversation)
        routing_request(business_line_id=old_line_id)
        if conversation.business_line_id != old_line_id:
            routing_request(business_line_id=conversation.business_line_id)
    logger.info("conversation %s transferred by agent %s", conversation_id, agent_id)
    return conversation


def _transfer_to_agent(conversation: Conversation, to_agent_id: object) -> None:
    if not isinstance(to_agent_id, int) or isinstance(to_agent_id, bool) or to_agent_id == conversation.agent_id:
        raise ChatError(ErrorCode.INVALID_FIELD, "to_agent_id must be another agent's id")
    if to_agent_id not in available_agent_ids(business_line_id=conversation.business_line_id):
        raise ChatError(ErrorCode.AGENT_UNAVAILABLE, "That agent is not online in this business line")
    target = _agent_with_most_room([to_agent_id])
    if target is None:
        raise ChatError(ErrorCode.AGENT_UNAVAILABLE, "That agent has no free capacity")
    previous = conversation.agent
    system_message_append(
        conversation=conversation,
        event="transferred",
        body=f"{previous.display_name} transferred the conversation to {target.display_name}.",
    )
    _assign(conversation, target)


def _transfer_to_queue(conversation: Conversation, line_key: str) -> None:
    target = BusinessLine.objects.filter(key=line_key).first() if isinstance(line_key, str) else None
    if target is None:
        raise ChatError(ErrorCode.NOT_FOUND, "No such business line")
    previous_agent_id = conversation.agent_id
    _requeue(conversation, event="transferred", body=f"Transferred to {target.name}; waiting for an agent.")
    if target.id != conversation.business_line_id:
        conversation.business_line = target
        conversation.save(update_fields=["business_line"])
    events.publish_on_commit(events.agent_group(previous_agent_id), events.leave_event(conversation.id))
    agent_freed(agent_id=previous_agent_id)


def _requeue(conversation: Conversation, *, event: str, body: str) -> None:
    """Back into the waiting queue, ahead of later arrivals: it keeps its original start time."""
    conversation.status = ConversationStatus.WAITING
    conversation.agent = None
    conversation.assigned_at = None
    conversation.queued_at = conversation.started_at
    conversation.waiting_since = timezone.now()
    conversation.save(update_fields=["status", "agent", "assigned_at", "queued_at", "waiting_since"])
    system_message_append(conversation=conversation, event=event, body=body)


# Queue positions


def queue_positions_publish(*, business_line_id: int) -> int:
    """Send `conversation.state` to each waiting customer whose position changed; returns how many."""
    client = sync_client()
    key = f"{settings.REDIS_PREFIX}:routing:positions:{business_line_id}"
    lock = client.lock(f"{key}:lock", timeout=10, blocking_timeout=10)
    with lock:
        frames = queue_states(business_line_id=business_line_id)
        published = {str(f["conversation"]["id"]): f["conversation"]["queue_position"] for f in frames}
        previous = {k.decode(): int(v) for k, v in client.hgetall(key).items()}
        changed = [
            frame
            for frame in frames
            if previous.get(str(frame["conversation"]["id"])) != frame["conversation"]["queue_position"]
        ]
        events.publish_many(
            [(events.conversation_group(frame["conversation"]["id"]), events.frame_event(frame)) for frame in changed]
        )
        # A conversation assigned while we were publishing its old position must not be left looking queued:
        # its current state goes out after the stale one.
        moved_on = (
            Conversation.objects.select_related("customer", "business_line", "agent")
            .filter(id__in=[frame["conversation"]["id"] for frame in changed])
            .exclude(status=ConversationStatus.WAITING)
        )
        events.publish_many(
            [(events.conversation_group(c.id), events.frame_event(conversation_state(c))) for c in moved_on]
        )
        with client.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            if published:
                pipe.hset(key, mapping=published)
            pipe.execute()
    return len(changed)


# Timeouts


def routing_sweep() -> dict[str, int]:
    """The safety net, run by beat: apply every timeout, then run the rule and positions for every line."""
    counts = {"missed": 0, "reassigned": 0, "requeued": 0, "idle_closed": 0, "assigned": 0}
    for line in BusinessLine.objects.all():
        # Serve whom an agent with room can take before telling anyone that nobody is free.
        counts["assigned"] += len(assignment_run(business_line_id=line.id))
        counts["missed"] += _apply_timeout(_waited_too_long(line), _miss)
        counts["reassigned"] += _apply_timeout(_unanswered_too_long(line), _reassign)
        counts["requeued"] += _requeue_disconnected_agents(line)
        counts["idle_closed"] += _apply_timeout(_customer_idle_too_long(line), _close_idle)
        counts["assigned"] += len(line_changed_run(business_line_id=line.id))
    return counts


def _ago(seconds: int) -> datetime:
    return timezone.now() - timedelta(seconds=seconds)


def _waited_too_long(line: BusinessLine) -> Q:
    return Q(business_line=line, status=ConversationStatus.WAITING, waiting_since__lt=_ago(line.wait_timeout))


def _unanswered_too_long(line: BusinessLine) -> Q:
    """Assigned, and the agent has not written since: the first answer is overdue."""
    silent = Q(last_agent_message_at__isnull=True) | Q(last_agent_message_at__lt=F("assigned_at"))
    overdue = Q(business_line=line, status=ConversationStatus.ACTIVE, assigned_at__lt=_ago(line.agent_reply_timeout))
    return overdue & silent


def _customer_idle_too_long(line: BusinessLine) -> Q:
    """The agent spoke last, and the customer has been silent since for longer than the idle timeout."""
    customer_silent = Q(last_customer_message_at__isnull=True) | Q(
        last_customer_message_at__lt=F("last_agent_message_at")
    )
    return (
        Q(business_line=line, status=ConversationStatus.ACTIVE, last_agent_message_at__lt=_ago(line.idle_timeout))
        & customer_silent
    )


def _apply_timeout(condition: Q, action: Callable[[Conversation], bool]) -> int:
    """Lock each overdue conversation alone (skipping ones being changed) and act if it is still overdue."""
    done = 0
    for conversation_id in Conversation.objects.filter(condition).values_list("id", flat=True)[:500]:
        with transaction.atomic():
            conversation = (
                Conversation.objects.select_for_update(skip_locked=True).filter(condition, id=conversation_id).first()
            )
            if conversation is not None and action(conversation):
                done += 1
    return done


def _miss(conversation: Conversation) -> bool:
    conversation_end(
        conversation=conversation,
        status=ConversationStatus.MISSED,
        reason=CloseReason.WAIT_TIMEOUT,
        event="missed",
        body="Sorry, nobody is free right now. Leave us a message and we will get back to you.",
    )
    logger.info("conversation %s missed after waiting %ss", conversation.id, conversation.business_line.wait_timeout)
    return True


def _reassign(conversation: Conversation) -> bool:
    """Give an unanswered conversation to another agent with room; keep it where it is when nobody has room."""
    others = [
        agent_id
        for agent_id in available_agent_ids(business_line_id=conversation.business_line_id)
        if agent_id != conversation.agent_id
    ]
    target = _agent_with_most_room(others) if others else None
    if target is None:
        return False
    system_message_append(
        conversation=conversation,
        event="reassigned",
        body=f"{conversation.agent.display_name} did not answer in time; reassigning.",
    )
    _assign(conversation, target)
    logger.info("conversation %s reassigned to agent %s after no reply", conversation.id, target.id)
    return True


def _close_idle(conversation: Conversation) -> bool:
    conversation_end(
        conversation=conversation,
        status=ConversationStatus.CLOSED,
        reason=CloseReason.IDLE,
        event="closed",
        body="The conversation was closed because there was no reply for a while.",
    )
    return True


def _requeue_disconnected_agents(line: BusinessLine) -> int:
    """An agent without any live socket past the grace period: their chats go back to the front of the queue."""
    holders = set(
        Conversation.objects.filter(business_line=line, status=ConversationStatus.ACTIVE).values_list(
            "agent_id", flat=True
        )
    )
    gone = [
        agent_id for agent_id, seconds in presence.disconnected_for(holders).items() if seconds > line.disconnect_grace
    ]
    if not gone:
        return 0

    def requeue(conversation: Conversation) -> bool:
        previous_agent_id = conversation.agent_id
        _requeue(conversation, event="requeued", body="The agent was disconnected; finding another agent.")
        conversation_state_publish_on_commit(conversation)
        events.publish_on_commit(events.agent_group(previous_agent_id), events.leave_event(conversation.id))
        return True

    done = _apply_timeout(Q(business_line=line, status=ConversationStatus.ACTIVE, agent_id__in=gone), requeue)
    logger.info("requeued %s conversations of disconnected agents %s", done, gone)
    return done
