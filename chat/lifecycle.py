"""The life of a conversation: every change of its status, agent or business line happens here and nowhere else.

    start ──> waiting ──assign──> active ──close / idle──> closed
                 │  ▲               │
                 │  └──requeue, transfer to a line──┘   (active -> active: transfer to an agent, reassign)
                 └──wait timeout, leave a message──> missed ──pick (assign)──> active
                                                         └──answer──> closed (answered, never active)

Each function applies one change to a conversation whose row the caller has locked (`chat.locks`; the agent's
too when one is given), says it in the transcript (a system message), and tells the sockets on commit
(`chat.events`). Who gets a conversation and when is not decided here: routing holds that policy, calls these
functions to carry out its decisions, and hears what changed through `chat.hooks` (a line's queue, an agent's
free slot, a conversation's state), so dependencies run one way: routing -> chat.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError
from django.db.models import OuterRef, Subquery
from django.utils import timezone, translation
from django.utils.translation import gettext

from agents.models import Agent
from chat import events, hooks, locks
from chat.errors import ChatError
from chat.models import OPEN_STATUSES, CloseReason, Conversation, ConversationStatus, Message, Sender
from chat.permissions import Participant, require_writable
from chat.services import message_append, system_message_append
from cs_platform import metrics
from cs_platform.errors import ErrorCode
from customers.models import Channel, Customer

logger = logging.getLogger(__name__)

LEFT_MESSAGE_JOINS_MISSED_WITHIN = timedelta(hours=1)


# Start


def conversation_start(
    *, customer: Customer, channel: str, prechat: Mapping[str, object] | None = None
) -> tuple[Conversation, bool]:
    """Open a conversation for the customer, or return the open one they already have.

    Returns the conversation and whether it is new. The database allows one open conversation per customer,
    so two sockets racing to start get the same one. `prechat`: the answers to the business line's pre-chat form
    (`prechat_answers`), kept on the customer and written as the conversation's first customer message.
    """
    _require_channel(channel)
    existing = Conversation.objects.filter(customer=customer, status__in=OPEN_STATUSES).first()
    if existing is not None:
        return existing, False
    answers = prechat_answers(customer=customer, prechat=prechat or {})
    try:
        with locks.transaction():
            conversation = Conversation.objects.create(
                customer=customer, business_line_id=customer.business_line_id, channel=channel
            )
            greeting = customer.business_line.greeting
            if greeting:
                system_message_append(conversation=conversation, event="greeting", body=greeting)
            if answers:
                _prechat_keep(customer, conversation, answers)
            events.publish_on_commit(events.customer_group(customer.id), events.join_event(conversation.id))
            hooks.queue_changed(business_line_id=conversation.business_line_id)
    except IntegrityError:
        return Conversation.objects.get(customer=customer, status__in=OPEN_STATUSES), False
    logger.info("conversation %s started by customer %s on %s", conversation.id, customer.id, channel)
    return conversation, True


_PRECHAT_MAX_CHARS = {"name": 200, "email": 200, "phone": 32}
_PHONE = re.compile(r"\+?[0-9 ()./-]{4,32}")


def prechat_answers(*, customer: Customer, prechat: Mapping[str, object]) -> dict[str, str]:
    """The answers to the business line's pre-chat form, checked against it: only the questions it asks, each a
    string of the right shape; a required one answered, or already known of the customer (name, email, phone).
    Raises `invalid_field` naming what is wrong (in `field` too, for clients), before anything is stored."""
    form = customer.business_line.prechat_form
    unknown = sorted(set(prechat) - {field for field, mode in form.items() if mode != "off"})
    if unknown:
        raise ChatError(
            ErrorCode.INVALID_FIELD, f"prechat: not asked here: {', '.join(unknown)}", field=f"prechat.{unknown[0]}"
        )
    answers: dict[str, str] = {}
    for field, mode in form.items():
        path = f"prechat.{field}"
        value = prechat.get(field, "")
        if not isinstance(value, str):
            raise ChatError(ErrorCode.INVALID_FIELD, f"{path} must be a string", field=path)
        value = value.strip()
        limit = _PRECHAT_MAX_CHARS.get(field, settings.CHAT_MAX_BODY_CHARS)
        if len(value) > limit:
            raise ChatError(ErrorCode.INVALID_FIELD, f"{path} is longer than {limit} characters", field=path)
        if field == "email" and value:
            try:
                validate_email(value)
            except ValidationError:
                raise ChatError(
                    ErrorCode.INVALID_FIELD, gettext("prechat.email is not an email address"), field=path
                ) from None
        if field == "phone" and value and not _PHONE.fullmatch(value):
            raise ChatError(ErrorCode.INVALID_FIELD, gettext("prechat.phone is not a phone number"), field=path)
        if mode == "required" and not value and not getattr(customer, field, ""):
            raise ChatError(ErrorCode.INVALID_FIELD, f"{path} is required", field=path)
        if value:
            answers[field] = value
    return answers


def _prechat_keep(customer: Customer, conversation: Conversation, answers: dict[str, str]) -> None:
    """The answers land on the customer (what they just told us replaces what was known) and, as the customer's
    first message, in the transcript, where the agent reads them. The labels are in the customer's language: the
    message is theirs, shown in their chat as they wrote it."""
    contact = {field: answers[field] for field in ("name", "email", "phone") if field in answers}
    if contact:
        Customer.objects.filter(id=customer.id).update(**contact)
        for field, value in contact.items():
            setattr(customer, field, value)
    with translation.override(customer.language or translation.get_language()):
        labels = {"name": gettext("Name"), "email": gettext("Email"), "phone": gettext("Phone")}
    lines = [f"{labels[field]}: {value}" for field, value in contact.items()]
    if "question" in answers:
        lines += ["", answers["question"]] if lines else [answers["question"]]
    message_append(conversation=conversation, sender=Sender.CUSTOMER, body="\n".join(lines))


# Assign, reassign, transfer, requeue


def conversation_assign(*, conversation: Conversation, agent: Agent) -> None:
    """Give the conversation to the agent (from the queue, a missed one picked, or from another agent).

    The caller chose the agent by the assignment rule, with the conversation's and the agent's rows locked.
    """
    locks.require_held(conversation_id=conversation.id, agent_id=agent.id)
    now = timezone.now()
    if conversation.status == ConversationStatus.WAITING:
        waited = (now - conversation.waiting_since).total_seconds()
        metrics.assignment_timed_on_commit(business_line=conversation.business_line.key, waited_seconds=waited)
    previous_agent_id = conversation.agent_id
    conversation.status = ConversationStatus.ACTIVE
    conversation.agent = agent
    conversation.assigned_at = now
    conversation.first_assigned_at = conversation.first_assigned_at or now
    if agent.id not in conversation.handler_ids:
        conversation.handler_ids = [*conversation.handler_ids, agent.id]
    conversation.closed_at = None
    conversation.close_reason = ""
    conversation.save(
        update_fields=[
            "status",
            "agent",
            "assigned_at",
            "first_assigned_at",
            "handler_ids",
            "closed_at",
            "close_reason",
        ]
    )
    Agent.objects.filter(id=agent.id).update(last_assigned_at=now)
    if previous_agent_id is not None and previous_agent_id != agent.id:
        events.publish_on_commit(events.agent_group(previous_agent_id), events.leave_event(conversation.id))
        hooks.agent_free(agent_id=previous_agent_id)
    system_message_append(
        conversation=conversation,
        event="assigned",
        body=f"{agent.display_name} joined the conversation.",
        params={"agent": agent.display_name},
    )
    hooks.conversation_changed(conversation_id=conversation.id)
    events.publish_on_commit(events.agent_group(agent.id), events.join_event(conversation.id))
    events.publish_on_commit(events.customer_group(conversation.customer_id), events.join_event(conversation.id))


def conversation_reassign(*, conversation: Conversation, agent: Agent) -> None:
    """Its agent did not answer in time: another agent takes it over."""
    system_message_append(
        conversation=conversation,
        event="reassigned",
        # The customer reads it: no agent's name, no blame; agents' clients write the name from `params`.
        body="Sorry for the wait: another agent is taking over.",
        params={"agent": _agent_of(conversation).display_name},
    )
    conversation_assign(conversation=conversation, agent=agent)
    logger.info("conversation %s reassigned to agent %s after no reply", conversation.id, agent.id)


def conversation_transfer_to_agent(*, conversation: Conversation, agent: Agent, by: str | None = None) -> None:
    """Its agent (or `by`, a supervisor) hands it to another agent, who has room (the caller checked, under the
    agent's lock)."""
    who = by if by is not None else _agent_of(conversation).display_name
    system_message_append(
        conversation=conversation,
        event="transferred",
        body=f"{who} transferred the conversation to {agent.display_name}.",
        params={"by": who, "agent": agent.display_name},
    )
    conversation_assign(conversation=conversation, agent=agent)
    hooks.conversation_changed(conversation_id=conversation.id)


def conversation_transfer_to_line(*, conversation: Conversation, business_line_id: int, line_name: str) -> None:
    """Its agent (or a supervisor) sends it to a business line's waiting queue (its own or another): the agent is
    free of it. A conversation still waiting (a supervisor's transfer) moves to the other line's queue as it is: it
    keeps `queued_at` and `waiting_since`, so it takes its place there by age and its wait timeout runs on."""
    if conversation.status == ConversationStatus.WAITING:
        locks.require_held(conversation_id=conversation.id)
        conversation.business_line_id = business_line_id
        conversation.save(update_fields=["business_line"])
        system_message_append(
            conversation=conversation,
            event="transferred",
            body=f"Transferred to {line_name}; waiting for an agent.",
            params={"line": line_name},
        )
        hooks.conversation_changed(conversation_id=conversation.id)
        return
    previous_agent_id = _agent_id_of(conversation)
    _requeue(
        conversation,
        event="transferred",
        body=f"Transferred to {line_name}; waiting for an agent.",
        params={"line": line_name},
    )
    if business_line_id != conversation.business_line_id:
        conversation.business_line_id = business_line_id
        conversation.save(update_fields=["business_line"])
    events.publish_on_commit(events.agent_group(previous_agent_id), events.leave_event(conversation.id))
    hooks.agent_free(agent_id=previous_agent_id)
    hooks.conversation_changed(conversation_id=conversation.id)


def conversation_requeue(*, conversation: Conversation) -> None:
    """Its agent has been disconnected too long: back to the front of the queue, for the next agent with room.

    The queue is not announced: the sweep that requeues runs the line's rule right after.
    """
    previous_agent_id = _agent_id_of(conversation)
    _requeue(conversation, event="requeued", body="The agent was disconnected; finding another agent.")
    hooks.conversation_changed(conversation_id=conversation.id)
    events.publish_on_commit(events.agent_group(previous_agent_id), events.leave_event(conversation.id))


def conversation_hand_back(*, conversation: Conversation) -> None:
    """Its agent went away or offline and chose to hand their chats back: to the front of the queue, like a
    disconnected agent's (the customer is not told who left)."""
    previous_agent_id = _agent_id_of(conversation)
    _requeue(
        conversation,
        event="requeued",
        body="Your agent had to step away; another agent will be with you shortly.",
        params={"by": "hand_back"},
    )
    hooks.conversation_changed(conversation_id=conversation.id)
    events.publish_on_commit(events.agent_group(previous_agent_id), events.leave_event(conversation.id))


def _requeue(conversation: Conversation, *, event: str, body: str, params: dict[str, str] | None = None) -> None:
    """Back into the waiting queue, ahead of later arrivals: it keeps its original start time."""
    locks.require_held(conversation_id=conversation.id)
    conversation.status = ConversationStatus.WAITING
    conversation.agent = None
    conversation.assigned_at = None
    conversation.queued_at = conversation.started_at
    conversation.waiting_since = timezone.now()
    conversation.save(update_fields=["status", "agent", "assigned_at", "queued_at", "waiting_since"])
    system_message_append(conversation=conversation, event=event, body=body, params=params)


def _agent_of(conversation: Conversation) -> Agent:
    agent = conversation.agent
    if agent is None:
        raise ChatError(ErrorCode.NOT_ASSIGNED, gettext("This conversation has no agent"))
    return agent


def _agent_id_of(conversation: Conversation) -> int:
    if conversation.agent_id is None:
        raise ChatError(ErrorCode.NOT_ASSIGNED, gettext("This conversation has no agent"))
    return conversation.agent_id


# End: close, time out, miss


def conversation_close(*, participant: Participant, conversation_id: int) -> Conversation:
    """Close an open conversation; closing a closed one changes nothing."""
    with locks.transaction():
        conversation = locks.conversation_for(participant, conversation_id)
        if conversation.status not in OPEN_STATUSES:
            return conversation
        if participant.is_agent:
            require_writable(participant, conversation)
        who = "The agent" if participant.is_agent else "The customer"
        _end(
            conversation,
            status=ConversationStatus.CLOSED,
            reason=CloseReason.AGENT if participant.is_agent else CloseReason.CUSTOMER,
            event="closed",
            body=f"{who} closed the conversation.",
            params={"by": "agent" if participant.is_agent else "customer"},
        )
    logger.info("conversation %s closed by %s %s", conversation.id, participant.kind, participant.id)
    return conversation


def conversation_close_idle(*, conversation: Conversation) -> None:
    """The customer has been silent too long since the agent's last message: closed, with a notice."""
    _end(
        conversation,
        status=ConversationStatus.CLOSED,
        reason=CloseReason.IDLE,
        event="closed",
        body="The conversation was closed because there was no reply for a while.",
        params={"by": "idle"},
    )


def conversation_miss(*, conversation: Conversation) -> None:
    """Nobody was free before the wait timeout: missed, and the customer is offered to leave a message."""
    _end(
        conversation,
        status=ConversationStatus.MISSED,
        reason=CloseReason.WAIT_TIMEOUT,
        event="missed",
        body="Sorry, nobody is free right now. Leave us a message and we will get back to you.",
    )
    logger.info("conversation %s missed after waiting %ss", conversation.id, conversation.business_line.wait_timeout)


def _end(
    conversation: Conversation,
    *,
    status: ConversationStatus,
    reason: CloseReason,
    event: str,
    body: str,
    params: dict[str, str] | None = None,
) -> None:
    """The one way a conversation ends: closed or missed, said in the transcript, told to every socket, and the
    queue and the freed agent slot announced."""
    locks.require_held(conversation_id=conversation.id)
    freed_agent_id = conversation.agent_id if conversation.status == ConversationStatus.ACTIVE else None
    conversation.status = status
    conversation.closed_at = timezone.now()
    conversation.close_reason = reason
    if reason == CloseReason.WAIT_TIMEOUT:
        conversation.missed_at = conversation.missed_at or conversation.closed_at
    conversation.save(update_fields=["status", "closed_at", "close_reason", "missed_at"])
    system_message_append(conversation=conversation, event=event, body=body, params=params)
    if status == ConversationStatus.MISSED:
        # From now on an agent's answers may be emailed: those written before it was missed never are.
        conversation.answers_by_email = True
        conversation.answers_emailed_seq = conversation.last_seq
        conversation.save(update_fields=["answers_by_email", "answers_emailed_seq"])
    hooks.conversation_changed(conversation_id=conversation.id)
    if status == ConversationStatus.MISSED:
        _missed_notify_on_commit(conversation)
    hooks.queue_changed(business_line_id=conversation.business_line_id)
    if freed_agent_id is not None:
        hooks.agent_free(agent_id=freed_agent_id)


def _missed_notify_on_commit(conversation: Conversation) -> None:
    """Agents of the business line learn of a missed conversation, to answer it later (`conversation.pick`)."""
    frame = events.frame_event({"type": "conversation.missed", "conversation_id": conversation.id})
    for agent_id in Agent.objects.filter(business_lines__id=conversation.business_line_id).values_list("id", flat=True):
        events.publish_on_commit(events.agent_group(agent_id), frame)


# Answer from the missed list


def conversation_answer(*, agent_id: int, conversation_id: int, client_msg_id: str, body: str) -> Message:
    """An agent of the line answers a missed conversation or a left message from the missed list, without taking it.

    The answer is stored in the conversation, which closes as `answered` (a system event after it) and so leaves
    every agent's missed list at once. It is never active, so it never counts toward anyone's load: an agent with
    no room answers too. The customer reads the answer when they come back (their socket brings their latest
    conversation when an agent answered it), or live when connected; a customer who has left and whose email is
    known gets it by email (`hooks.missed_answered`). One answer per conversation: after another agent's answer or
    a pick it is `already_answered`; the same `client_msg_id` again returns the stored answer.
    """
    if not body.strip():
        raise ChatError(ErrorCode.INVALID_FIELD, gettext("body must be a non-empty string"), field="body")
    if len(body) > settings.CHAT_MAX_BODY_CHARS:
        raise ChatError(ErrorCode.BODY_TOO_LONG, f"body is longer than {settings.CHAT_MAX_BODY_CHARS} characters")
    participant = Participant(kind="agent", id=agent_id)
    with locks.transaction():
        conversation = locks.conversation_for(participant, conversation_id)
        sent_before = Message.objects.filter(
            conversation_id=conversation.id, sender=Sender.AGENT, agent_id=agent_id, client_msg_id=client_msg_id
        ).first()
        if sent_before is not None:
            return sent_before
        if conversation.status != ConversationStatus.MISSED:
            if conversation.answers_by_email:
                raise ChatError(ErrorCode.ALREADY_ANSWERED, gettext("Another agent has already answered or taken it"))
            raise ChatError(ErrorCode.NOT_FOUND, gettext("This conversation is not in the missed list"))
        if Conversation.objects.filter(customer_id=conversation.customer_id, status__in=OPEN_STATUSES).exists():
            raise ChatError(
                ErrorCode.AGENT_UNAVAILABLE, gettext("The customer is in a conversation now: answer them there")
            )
        answer = message_append(
            conversation=conversation, sender=Sender.AGENT, body=body, agent_id=agent_id, client_msg_id=client_msg_id
        )
        if answer is None:
            raise ChatError(
                ErrorCode.INVALID_FIELD,
                gettext("client_msg_id was already used in this conversation"),
                field="client_msg_id",
            )
        conversation.agent_id = agent_id
        if agent_id not in conversation.handler_ids:
            conversation.handler_ids = [*conversation.handler_ids, agent_id]
        conversation.save(update_fields=["agent", "handler_ids"])
        _end(
            conversation,
            status=ConversationStatus.CLOSED,
            reason=CloseReason.ANSWERED,
            event="closed",
            body="An agent answered your message.",
            params={"by": "answer"},
        )
        # Emailed to a customer who has left; a connected one reads it in the widget, which loads the conversation.
        hooks.missed_answered(conversation_id=conversation.id)
        events.publish_on_commit(events.customer_group(conversation.customer_id), events.join_event(conversation.id))
    logger.info("conversation %s answered from the missed list by agent %s", conversation.id, agent_id)
    return answer


# Leave a message


def conversation_leave_message(
    *, customer: Customer, channel: str, body: str, name: str = "", email: str = ""
) -> Conversation:
    """Nobody can answer now: keep the customer's message and contact details as a missed conversation.

    The message joins what was said before: an open waiting conversation becomes the missed one, and a
    conversation that has just timed out in the queue takes the message. A customer has at most one unanswered
    left message: while one waits for an agent, a new message is added to it (agents, told of it once, see the
    whole text when they pick it) instead of opening another.
    """
    _require_channel(channel)
    with locks.transaction():
        # The customer's row serialises their left messages: two at once still make one conversation.
        locks.customer(customer_id=customer.id)
        contact = {field: value for field, value in (("name", name), ("email", email)) if value}
        if contact:
            Customer.objects.filter(id=customer.id).update(**contact)
        conversation, unanswered = _conversation_for_left_message(customer)
        if conversation is not None and unanswered:
            _left_message_append(conversation, body)
            hooks.conversation_changed(conversation_id=conversation.id)
            logger.info("customer %s added to their left message in conversation %s", customer.id, conversation.id)
            return conversation
        thanks = "Thanks! We got your message and will get back to you."
        if conversation is None:
            conversation = Conversation.objects.create(
                customer=customer, business_line_id=customer.business_line_id, channel=channel
            )
            events.publish_on_commit(events.customer_group(customer.id), events.join_event(conversation.id))
        _left_message_append(conversation, body)
        if conversation.status == ConversationStatus.MISSED:
            system_message_append(conversation=conversation, event="left_message", body=thanks)
            hooks.conversation_changed(conversation_id=conversation.id)
            _missed_notify_on_commit(conversation)
        else:
            _end(
                conversation,
                status=ConversationStatus.MISSED,
                reason=CloseReason.OFFLINE,
                event="left_message",
                body=thanks,
            )
    logger.info("customer %s left a message in conversation %s", customer.id, conversation.id)
    return conversation


def _left_message_append(conversation: Conversation, body: str) -> None:
    """The customer's message, and the line's inbox told of it once committed (notifications)."""
    message = message_append(conversation=conversation, sender=Sender.CUSTOMER, body=body)
    if message is not None:
        hooks.message_left(message_id=message.id)


def _conversation_for_left_message(customer: Customer) -> tuple[Conversation | None, bool]:
    """Where a left message goes, and whether that conversation already holds an unanswered left message: the
    customer's open (waiting) conversation, else their unanswered left message, else the conversation that timed
    out in the queue within the last hour, else none (a new one).

    The open one is looked for first, whatever its age: a missed chat picked by an agent is open though the
    customer started (and ended) a later one.
    """
    theirs = Conversation.objects.all()
    open_conversation = locks.customer_conversation(theirs.filter(status__in=OPEN_STATUSES), customer_id=customer.id)
    if open_conversation is not None:
        if open_conversation.status == ConversationStatus.ACTIVE:
            raise ChatError(ErrorCode.INVALID_FIELD, gettext("An agent is with you: write in the open conversation"))
        return open_conversation, False
    latest = locks.customer_conversation(theirs.order_by("-started_at", "-id"), customer_id=customer.id)
    if latest is None:
        return None, False
    unanswered = _unanswered_left_message(customer)
    if unanswered is not None:
        return unanswered, True
    recently_missed = (
        latest.status == ConversationStatus.MISSED
        and latest.close_reason == CloseReason.WAIT_TIMEOUT
        and latest.closed_at is not None
        and timezone.now() - latest.closed_at < LEFT_MESSAGE_JOINS_MISSED_WITHIN
    )
    return (latest if recently_missed else None), False


def _unanswered_left_message(customer: Customer) -> Conversation | None:
    """The customer's newest missed conversation whose last event is a left message: no agent has picked it since
    (a pick adds `assigned`)."""
    last_event = (
        Message.objects.filter(conversation=OuterRef("pk"), sender=Sender.SYSTEM)
        .exclude(event="")
        .order_by("-seq")
        .values("event")[:1]
    )
    return locks.customer_conversation(
        Conversation.objects.filter(status=ConversationStatus.MISSED)
        .annotate(last_event=Subquery(last_event))
        .filter(last_event="left_message")
        .order_by("-started_at", "-id"),
        customer_id=customer.id,
    )


def _require_channel(channel: object) -> None:
    if channel not in Channel.values:
        raise ChatError(ErrorCode.INVALID_FIELD, f"channel must be one of {', '.join(Channel.values)}", field="channel")
