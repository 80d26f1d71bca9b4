"""Routing: who gets a conversation and when. The assignment rule, picks, transfers, queue positions, timeouts.

Routing decides; `chat.lifecycle` carries the decision out (every change of a conversation's status is there), and
chat tells routing what changed through `chat.hooks`, whose listeners `RoutingConfig.ready()` registers.

The assignment rule is decided in `_assignment_choice` and nowhere else (docs/routing.md): the next waiting
conversation (`routing.selectors.QUEUE_ORDER`: highest priority, then longest in the queue) goes to the online,
connected agent of the line's team with the most free capacity; ties go to the agent idle longest. The first
assignment, the manual pick, the reassignment and the transfer to an agent all ask it. Each assignment is one
short transaction: the conversation row is taken with `SKIP LOCKED` (concurrent assigners work on different
conversations), then the candidate agents' rows are locked in id order and their load counted under that lock
(`chat.locks` states the order): no conversation is assigned twice and no agent goes past capacity, whichever web
or Celery worker decides.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import cast

from django.conf import settings
from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext
from redis.typing import EncodableT

from agents import presence
from agents.models import Agent
from chat import events, hooks, lifecycle, locks
from chat.errors import ChatError
from chat.models import OPEN_STATUSES, Conversation, ConversationStatus, Sender
from chat.permissions import Participant, conversation_for, require_writable
from chat.services import message_append
from cs_platform.errors import ErrorCode
from cs_platform.redis_clients import sync_client
from routing.models import BusinessLine
from routing.selectors import available_agent_ids, conversation_state, queue_states, waiting_queue

logger = logging.getLogger(__name__)

_NEVER = datetime.min.replace(tzinfo=UTC)


# Requests for a run of the rule (their listeners, which enqueue the Celery task, are in routing/tasks.py)


def line_run_pending_set(*, business_line_id: int) -> bool:
    """Mark a run of the line as pending; False when one already was (the pending run will see this change too).

    Requests for one line coalesce: while a run is pending, more requests add nothing, and the run reads the
    database after clearing the flag, so every change is seen by some run. The beat sweep covers a run that was
    lost (a broker outage, a killed worker).
    """
    return bool(sync_client().set(_pending_key(business_line_id), 1, nx=True, ex=30))


def _pending_key(business_line_id: int) -> str:
    return f"{settings.REDIS_PREFIX}:routing:pending:{business_line_id}"


def line_changed_run(*, business_line_id: int) -> list[int]:
    """The work behind a request: assign what can be assigned, then tell the queue where it stands."""
    sync_client().delete(_pending_key(business_line_id))
    assigned = assignment_run(business_line_id=business_line_id)
    queue_positions_publish(business_line_id=business_line_id)
    return assigned


def conversation_state_publish(conversation_id: int) -> None:
    """Tell every socket of the conversation (customer's and agent's) its state as committed, and its line's agents
    that their queue may have changed (it was assigned, picked, requeued, missed...): `chat.hooks` calls this after
    each change of a conversation's status, agent or line."""
    fresh = Conversation.objects.select_related("customer", "business_line", "agent").get(id=conversation_id)
    events.publish_many(
        [
            (events.conversation_group(conversation_id), events.frame_event(conversation_state(fresh))),
            (events.line_agents_group(fresh.business_line_id), events.queue_changed_event(fresh.business_line_id)),
        ]
    )


def line_agents_publish(business_line_id: int) -> None:
    """Tell the sockets of the line's agents that its waiting or missed conversations changed: each reads its
    `queue.snapshot` again. `chat.hooks` calls this after each committed change to the line's queue."""
    events.publish(events.line_agents_group(business_line_id), events.queue_changed_event(business_line_id))


# The assignment rule


def _with_room(agents: list[Agent]) -> tuple[list[Agent], dict[int, int]]:
    """The agents below their capacity, and each agent's count of active conversations."""
    load = dict(
        Conversation.objects.filter(agent__in=agents, status=ConversationStatus.ACTIVE)
        .values_list("agent_id")
        .annotate(count=Count("id"))
    )
    return [agent for agent in agents if agent.capacity > load.get(agent.id, 0)], load


def _assignment_choice(
    business_line_id: int,
    *,
    conversation: Conversation | None = None,
    queue: QuerySet[Conversation] | None = None,
    only_agent_id: int | None = None,
    exclude_agent_id: int | None = None,
) -> tuple[Conversation, Agent] | None:
    """The rule: which conversation is served and which agent takes it, both locked; None when nobody can.

    The conversation is the one given (the caller holds its lock: a reassignment, a transfer), else the first of
    `queue` that nobody else holds (the line's waiting queue unless a pick narrows it). Eligible agents are the
    line's team who chose `online`, have a live socket and have room, narrowed to `only_agent_id` or without
    `exclude_agent_id`; the one with the most free capacity takes it, then the one idle longest, then the lowest id.
    """
    candidates = [
        agent_id
        for agent_id in available_agent_ids(business_line_id=business_line_id)
        if (only_agent_id is None or agent_id == only_agent_id) and agent_id != exclude_agent_id
    ]
    if not candidates:
        return None
    if conversation is None:
        # An attempt that cannot assign must not hold the queue's head meanwhile: a concurrent attempt that can
        # would skip it (skip_locked) and serve a younger conversation first. This read is a hint; the check under
        # the agents' locks below decides.
        if not _with_room(list(Agent.objects.filter(id__in=candidates)))[0]:
            return None
        served = queue if queue is not None else waiting_queue(business_line_id=business_line_id)
        conversation = locks.conversation_first(served, skip_locked=True)
        if conversation is None:
            return None
    with_room, load = _with_room(locks.agents(candidates))
    if not with_room:
        return None
    chosen = max(
        with_room,
        key=lambda a: (a.capacity - load.get(a.id, 0), -(a.last_assigned_at or _NEVER).timestamp(), -a.id),
    )
    return conversation, chosen


def assignment_run(*, business_line_id: int) -> list[int]:
    """Assign waiting conversations of the business line while an agent has room; returns their ids."""
    assigned: list[int] = []
    while (conversation_id := _assign_next(business_line_id)) is not None:
        assigned.append(conversation_id)
    return assigned


def _assign_next(
    business_line_id: int, *, only_agent_id: int | None = None, conversation_id: int | None = None
) -> int | None:
    """Assign one conversation by the rule, in a transaction of its own; a pick names the conversation and agent."""
    picked = None
    if conversation_id is not None:
        picked = Conversation.objects.filter(
            id=conversation_id,
            business_line_id=business_line_id,
            status__in=[ConversationStatus.WAITING, ConversationStatus.MISSED],
        )
    with locks.transaction():
        choice = _assignment_choice(business_line_id, queue=picked, only_agent_id=only_agent_id)
        if choice is None:
            return None
        conversation, agent = choice
        lifecycle.conversation_assign(conversation=conversation, agent=agent)
    logger.info("conversation %s assigned to agent %s", conversation.id, agent.id)
    return conversation.id


def assignment_pick(*, agent_id: int, conversation_id: int) -> Conversation:
    """An agent with room takes a waiting or missed conversation of their business lines from the queue."""
    conversation = conversation_for(Participant(kind="agent", id=agent_id), conversation_id)
    if conversation.status not in (ConversationStatus.WAITING, ConversationStatus.MISSED):
        raise ChatError(ErrorCode.NOT_FOUND, gettext("This conversation is not in the queue"))
    if (
        conversation.status == ConversationStatus.MISSED
        and Conversation.objects.filter(customer_id=conversation.customer_id, status__in=OPEN_STATUSES).exists()
    ):
        raise ChatError(ErrorCode.AGENT_UNAVAILABLE, gettext("The customer already has an open conversation"))
    assigned = _assign_next(conversation.business_line_id, only_agent_id=agent_id, conversation_id=conversation_id)
    if assigned is None:
        raise ChatError(ErrorCode.AGENT_UNAVAILABLE, gettext("You must be online, connected and have room to pick it"))
    hooks.queue_changed(business_line_id=conversation.business_line_id)
    return Conversation.objects.get(id=conversation_id)


def agent_conversations_hand_back(*, agent_id: int) -> list[int]:
    """An agent going away or offline hands their active conversations back: each to the front of its line's
    queue, for the next agent with room (not them: they are no longer online). Returns the ids handed back."""
    handed: list[int] = []
    mine = Q(agent_id=agent_id, status=ConversationStatus.ACTIVE)
    for conversation_id in Conversation.objects.filter(mine).values_list("id", flat=True):
        with locks.transaction():
            conversation = locks.conversation_first(Conversation.objects.filter(mine, id=conversation_id))
            if conversation is None:
                continue  # closed or transferred meanwhile
            lifecycle.conversation_hand_back(conversation=conversation)
            hooks.queue_changed(business_line_id=conversation.business_line_id)
            handed.append(conversation.id)
    logger.info("agent %s handed back conversations %s", agent_id, handed)
    return handed


# Transfer


def conversation_transfer(
    *,
    agent_id: int,
    conversation_id: int,
    to_agent_id: object = None,
    to_business_line: object = None,
    note: object = None,
) -> Conversation:
    """Hand a conversation to another agent with room, or to a business line's queue, with an optional note for
    whoever takes it: an internal note (agents only, never the customer) written just before the transfer."""
    return _transfer(
        Participant(kind="agent", id=agent_id),
        conversation_id,
        to_agent_id=to_agent_id,
        to_business_line=to_business_line,
        note=_transfer_note(note),
    )


def conversation_transfer_by_supervisor(
    *, supervisor: Participant, conversation_id: int, to_agent_id: object = None, to_business_line: object = None
) -> Conversation:
    """A supervisor moves any open conversation to an agent of its line with room, or to a business line's queue:
    the same rule and the same lifecycle changes as the agent's own transfer. A conversation still waiting goes to
    the agent through the assignment rule, or to the other line's queue keeping its place by age."""
    if supervisor.kind != "supervisor":
        raise ChatError(ErrorCode.NOT_A_SUPERVISOR, gettext("Only supervisors transfer other agents' conversations"))
    return _transfer(supervisor, conversation_id, to_agent_id=to_agent_id, to_business_line=to_business_line)


def _transfer(
    participant: Participant,
    conversation_id: int,
    *,
    to_agent_id: object,
    to_business_line: object,
    note: str = "",
) -> Conversation:
    if (to_agent_id is None) == (to_business_line is None):
        raise ChatError(ErrorCode.INVALID_FIELD, gettext("Give exactly one of to_agent_id and to_business_line"))
    with locks.transaction():
        conversation = locks.conversation_for(participant, conversation_id)
        if participant.kind == "supervisor":
            if conversation.status not in OPEN_STATUSES:
                raise ChatError(ErrorCode.CONVERSATION_CLOSED, f"Conversation is {conversation.status}")
        else:
            require_writable(participant, conversation)
        old_line_id = conversation.business_line_id
        if note:
            message_append(
                conversation=conversation,
                sender=Sender.AGENT,
                agent_id=participant.id,
                body=note,
                event=TRANSFER_NOTE_EVENT,
                internal=True,
            )
        if to_agent_id is not None:
            _transfer_to_agent(
                conversation, to_agent_id, by="A supervisor" if participant.kind == "supervisor" else None
            )
        else:
            _transfer_to_line(conversation, to_business_line)
        hooks.queue_changed(business_line_id=old_line_id)
        if conversation.business_line_id != old_line_id:
            hooks.queue_changed(business_line_id=conversation.business_line_id)
    logger.info("conversation %s transferred by %s %s", conversation_id, participant.kind, participant.id)
    return conversation


# The `event` of a transfer's note: the receiving agent's workbench shows it as the note that came with the chat.
TRANSFER_NOTE_EVENT = "transfer_note"


def _transfer_note(note: object) -> str:
    """The note's text, trimmed ('' for none); anything but text within the message length is `invalid_field`."""
    if note is None:
        return ""
    if not isinstance(note, str) or len(note) > settings.CHAT_MAX_BODY_CHARS:
        raise ChatError(
            ErrorCode.INVALID_FIELD,
            f"note must be text of at most {settings.CHAT_MAX_BODY_CHARS} characters",
            field="note",
        )
    return note.strip()


def _transfer_to_agent(conversation: Conversation, to_agent_id: object, *, by: str | None) -> None:
    if not isinstance(to_agent_id, int) or isinstance(to_agent_id, bool) or to_agent_id == conversation.agent_id:
        raise ChatError(ErrorCode.INVALID_FIELD, gettext("to_agent_id must be another agent's id"), field="to_agent_id")
    line_id = conversation.business_line_id
    choice = _assignment_choice(line_id, conversation=conversation, only_agent_id=to_agent_id)
    if choice is None:
        if to_agent_id not in available_agent_ids(business_line_id=line_id):
            raise ChatError(ErrorCode.AGENT_UNAVAILABLE, gettext("That agent is not online in this business line"))
        raise ChatError(ErrorCode.AGENT_UNAVAILABLE, gettext("That agent has no free capacity"))
    lifecycle.conversation_transfer_to_agent(conversation=conversation, agent=choice[1], by=by)


def _transfer_to_line(conversation: Conversation, line_key: object) -> None:
    target = BusinessLine.objects.filter(key=line_key).first() if isinstance(line_key, str) else None
    if target is None:
        raise ChatError(ErrorCode.NOT_FOUND, gettext("No such business line"))
    if conversation.status == ConversationStatus.WAITING and target.id == conversation.business_line_id:
        raise ChatError(ErrorCode.INVALID_FIELD, gettext("It already waits in that business line's queue"))
    lifecycle.conversation_transfer_to_line(
        conversation=conversation, business_line_id=target.id, line_name=target.name
    )


# Queue positions


def queue_positions_publish(*, business_line_id: int) -> int:
    """Send `conversation.state` to each waiting customer whose position changed; returns how many."""
    client = sync_client()
    key = f"{settings.REDIS_PREFIX}:routing:positions:{business_line_id}"
    lock = client.lock(f"{key}:lock", timeout=10, blocking_timeout=10)
    with lock:
        frames = queue_states(business_line_id=business_line_id)
        published: dict[EncodableT, EncodableT] = {
            str(f["conversation"]["id"]): f["conversation"]["queue_position"] for f in frames
        }
        # The client does not decode responses: the hash comes back as bytes.
        previous = {k.decode(): int(v) for k, v in cast(dict[bytes, bytes], client.hgetall(key)).items()}
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
        with locks.transaction():
            conversation = locks.conversation_first(
                Conversation.objects.filter(condition, id=conversation_id), skip_locked=True
            )
            if conversation is not None and action(conversation):
                done += 1
    return done


def _miss(conversation: Conversation) -> bool:
    lifecycle.conversation_miss(conversation=conversation)
    return True


def _reassign(conversation: Conversation) -> bool:
    """Give an unanswered conversation to another agent with room; keep it where it is when nobody has room."""
    choice = _assignment_choice(
        conversation.business_line_id, conversation=conversation, exclude_agent_id=conversation.agent_id
    )
    if choice is None:
        return False
    lifecycle.conversation_reassign(conversation=conversation, agent=choice[1])
    return True


def _close_idle(conversation: Conversation) -> bool:
    lifecycle.conversation_close_idle(conversation=conversation)
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
        lifecycle.conversation_requeue(conversation=conversation)
        return True

    done = _apply_timeout(Q(business_line=line, status=ConversationStatus.ACTIVE, agent_id__in=gone), requeue)
    logger.info("requeued %s conversations of disconnected agents %s", done, gone)
    return done
