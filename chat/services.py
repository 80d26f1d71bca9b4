"""State changes of conversations and messages. Consumers, views, tasks and tests all go through these.

The sequence rule lives in `_append`: one statement locks the conversation row, takes the next gap-free `seq`
and inserts the message; realtime events go out only after it commits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from agents.models import Agent
from chat import events
from chat.errors import ChatError
from chat.models import OPEN_STATUSES, CloseReason, Conversation, ConversationStatus, Message, Sender
from chat.payloads import message_payload
from chat.permissions import (
    VISIBLE_SQL,
    WRITABLE_SQL,
    Participant,
    conversation_for,
    require_conversation_id,
    require_writable,
)
from cs_platform import metrics
from cs_platform.errors import ErrorCode
from customers.models import Channel, Customer

logger = logging.getLogger(__name__)

LEFT_MESSAGE_JOINS_MISSED_WITHIN = timedelta(hours=1)


_APPEND_SQL = """
WITH conversation AS (
    SELECT id, last_seq, status, agent_id, business_line_id FROM chat_conversation
    WHERE id = %(conversation_id)s AND {visible}
    FOR UPDATE
), message AS (
    INSERT INTO chat_message
        (conversation_id, seq, sender, agent_id, body, event, client_msg_id, is_internal_note, created_at)
    SELECT id, last_seq + 1, %(sender)s, %(agent_id)s, %(body)s, %(event)s, %(client_msg_id)s, %(internal)s, %(now)s
    FROM conversation
    WHERE {writable}
    ON CONFLICT (conversation_id, sender, client_msg_id) WHERE client_msg_id IS NOT NULL DO NOTHING
    RETURNING id, seq
), counters AS (
    UPDATE chat_conversation
    SET last_seq = message.seq,
        last_customer_message_at = COALESCE(%(customer_at)s, last_customer_message_at),
        last_agent_message_at = COALESCE(%(agent_at)s, last_agent_message_at),
        first_agent_reply_at = COALESCE(first_agent_reply_at, %(agent_at)s)
    FROM message
    WHERE chat_conversation.id = %(conversation_id)s
)
SELECT conversation.status, conversation.agent_id, conversation.business_line_id, message.id, message.seq
FROM conversation LEFT JOIN message ON TRUE
"""
# The statement for a participant's send (the permission rule inside it), and for a caller that checked already.
_APPEND_SQL_FOR = {
    **{kind: _APPEND_SQL.format(visible=VISIBLE_SQL[kind], writable=WRITABLE_SQL[kind]) for kind in VISIBLE_SQL},
    None: _APPEND_SQL.format(visible="TRUE", writable="TRUE"),
}


@dataclass(frozen=True)
class _Appended:
    """What one append statement saw of the conversation, and the message it stored (None: nothing stored)."""

    status: str
    agent_id: int | None
    business_line_id: int
    message: Message | None


def _append(
    *,
    conversation_id: int,
    participant: Participant | None,
    sender: str,
    body: str,
    agent_id: int | None,
    event: str,
    client_msg_id: str | None,
    internal: bool,
) -> _Appended | None:
    """The sequence rule, in one statement: lock the conversation row, store the message with `last_seq + 1`
    and move the conversation's counters, in the caller's transaction or (outside one) its own.

    With a participant, the permission rule is part of the statement: nothing is stored unless they may see
    and write to the conversation. Nothing is stored either for a repeated `(sender, client_msg_id)`. None
    when the conversation is not there or not visible to the participant.
    """
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            _APPEND_SQL_FOR[participant.kind if participant is not None else None],
            {
                "conversation_id": conversation_id,
                "participant_id": participant.id if participant is not None else None,
                "sender": sender,
                "agent_id": agent_id,
                "body": body,
                "event": event,
                "client_msg_id": client_msg_id,
                "internal": internal,
                "now": now,
                "customer_at": now if sender == Sender.CUSTOMER else None,
                "agent_at": now if sender == Sender.AGENT and not internal else None,
            },
        )
        row = cursor.fetchone()
    if row is None:
        return None
    status, conversation_agent_id, business_line_id, message_id, seq = row
    message = None
    if message_id is not None:
        message = Message(
            id=message_id,
            conversation_id=conversation_id,
            seq=seq,
            sender=sender,
            agent_id=agent_id,
            body=body,
            event=event,
            client_msg_id=client_msg_id,
            is_internal_note=internal,
            created_at=now,
        )
        message._state.adding = False
        message._state.db = connection.alias
        metrics.message_stored_on_commit(sender)
        events.publish_on_commit(
            events.conversation_group(conversation_id),
            events.frame_event(
                {"type": "message.new", "message": message_payload(message)},
                audience=events.AUDIENCE_AGENTS if internal else events.AUDIENCE_ALL,
            ),
        )
    return _Appended(status=status, agent_id=conversation_agent_id, business_line_id=business_line_id, message=message)


def message_append(
    *,
    conversation: Conversation,
    sender: str,
    body: str,
    agent_id: int | None = None,
    event: str = "",
    client_msg_id: str | None = None,
    internal: bool = False,
) -> Message | None:
    """Append to a conversation the caller has already checked (and usually locked) in this transaction.

    None when the sender already sent `client_msg_id` here: nothing is stored.
    """
    appended = _append(
        conversation_id=conversation.id,
        participant=None,
        sender=sender,
        body=body,
        agent_id=agent_id,
        event=event,
        client_msg_id=client_msg_id,
        internal=internal,
    )
    if appended is None or appended.message is None:
        return None
    message = appended.message
    conversation.last_seq = message.seq
    if sender == Sender.CUSTOMER:
        conversation.last_customer_message_at = message.created_at
    elif sender == Sender.AGENT and not internal:
        conversation.last_agent_message_at = message.created_at
        conversation.first_agent_reply_at = conversation.first_agent_reply_at or message.created_at
    return message


def system_message_append(*, conversation: Conversation, event: str, body: str) -> Message | None:
    """A system event (assigned, closed, ...) as a message, so the transcript tells the whole story."""
    return message_append(conversation=conversation, sender=Sender.SYSTEM, body=body, event=event)


def message_send(
    *,
    participant: Participant,
    conversation_id: int,
    client_msg_id: str,
    body: str,
    internal: bool = False,
) -> tuple[Message, bool]:
    """Store a customer's or agent's message; a repeated `client_msg_id` returns the original, stores nothing.

    Returns the message and whether it is new. One statement, committed on its own, because this runs for
    every chat message; only when it stores nothing do further queries find out why.
    """
    if internal and not participant.is_agent:
        raise ChatError(ErrorCode.INVALID_FIELD, "Only agents write internal notes")
    require_conversation_id(conversation_id)
    sender = Sender.AGENT if participant.is_agent else Sender.CUSTOMER
    appended = _append(
        conversation_id=conversation_id,
        participant=participant,
        sender=sender,
        body=body,
        agent_id=participant.id if participant.is_agent else None,
        event="",
        client_msg_id=client_msg_id,
        internal=internal,
    )
    if appended is None:
        raise ChatError(ErrorCode.NOT_FOUND, "No such conversation")
    if appended.message is None:
        sent_before = Message.objects.filter(
            conversation_id=conversation_id, sender=sender, client_msg_id=client_msg_id
        ).first()
        if sent_before is not None and sent_before.agent_id == (participant.id if participant.is_agent else None):
            return sent_before, False
        require_writable(
            participant,
            Conversation(id=conversation_id, status=appended.status, agent_id=appended.agent_id),
        )
        # Writable, so the insert met an earlier agent's message (before a transfer) under the same id.
        raise ChatError(ErrorCode.INVALID_FIELD, "client_msg_id was already used in this conversation")
    if appended.status == ConversationStatus.WAITING:
        # An assigner skips a row locked by this send (SKIP LOCKED): ask for routing again now it is committed.
        _routing_request(appended.business_line_id)
    return appended.message, True


def conversation_state_publish_on_commit(conversation: Conversation) -> None:
    """Tell every socket of the conversation (customer's and agent's) its state, as it is at commit."""
    from routing.selectors import conversation_state

    conversation_id = conversation.id

    def publish_state() -> None:
        fresh = Conversation.objects.select_related("customer", "business_line", "agent").get(id=conversation_id)
        events.publish(events.conversation_group(conversation_id), events.frame_event(conversation_state(fresh)))

    transaction.on_commit(publish_state)


def conversation_start(*, customer: Customer, channel: str) -> tuple[Conversation, bool]:
    """Open a conversation for the customer, or return the open one they already have.

    Returns the conversation and whether it is new. The database allows one open conversation per customer,
    so two sockets racing to start get the same one.
    """
    _require_channel(channel)
    existing = Conversation.objects.filter(customer=customer, status__in=OPEN_STATUSES).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            conversation = Conversation.objects.create(
                customer=customer, business_line_id=customer.business_line_id, channel=channel
            )
            greeting = customer.business_line.greeting
            if greeting:
                system_message_append(conversation=conversation, event="greeting", body=greeting)
            events.publish_on_commit(events.customer_group(customer.id), events.join_event(conversation.id))
            _routing_request(conversation.business_line_id)
    except IntegrityError:
        return Conversation.objects.get(customer=customer, status__in=OPEN_STATUSES), False
    logger.info("conversation %s started by customer %s on %s", conversation.id, customer.id, channel)
    return conversation, True


def conversation_close(*, participant: Participant, conversation_id: int) -> Conversation:
    """Close an open conversation; closing a closed one changes nothing."""
    with transaction.atomic():
        conversation = conversation_for(participant, conversation_id, for_update=True)
        if conversation.status not in OPEN_STATUSES:
            return conversation
        if participant.is_agent:
            require_writable(participant, conversation)
        who = "The agent" if participant.is_agent else "The customer"
        conversation_end(
            conversation=conversation,
            status=ConversationStatus.CLOSED,
            reason=CloseReason.AGENT if participant.is_agent else CloseReason.CUSTOMER,
            event="closed",
            body=f"{who} closed the conversation.",
        )
    logger.info("conversation %s closed by %s %s", conversation.id, participant.kind, participant.id)
    return conversation


def conversation_end(
    *, conversation: Conversation, status: ConversationStatus, reason: CloseReason, event: str, body: str
) -> None:
    """End a conversation whose row the caller has locked: closed or missed, said in the transcript, told to
    every socket, and the queue and the freed agent slot offered to routing."""
    freed_agent_id = conversation.agent_id if conversation.status == ConversationStatus.ACTIVE else None
    conversation.status = status
    conversation.closed_at = timezone.now()
    conversation.close_reason = reason
    conversation.save(update_fields=["status", "closed_at", "close_reason"])
    system_message_append(conversation=conversation, event=event, body=body)
    conversation_state_publish_on_commit(conversation)
    if status == ConversationStatus.MISSED:
        _missed_notify_on_commit(conversation)
    _routing_request(conversation.business_line_id)
    if freed_agent_id is not None:
        from routing.services import agent_freed

        agent_freed(agent_id=freed_agent_id)


def _missed_notify_on_commit(conversation: Conversation) -> None:
    """Agents of the business line learn of a missed conversation, to answer it later (`conversation.pick`)."""
    frame = events.frame_event({"type": "conversation.missed", "conversation_id": conversation.id})
    for agent_id in Agent.objects.filter(business_lines__id=conversation.business_line_id).values_list("id", flat=True):
        events.publish_on_commit(events.agent_group(agent_id), frame)


def _require_channel(channel: object) -> None:
    if channel not in Channel.values:
        raise ChatError(ErrorCode.INVALID_FIELD, f"channel must be one of {', '.join(Channel.values)}")


def _routing_request(business_line_id: int) -> None:
    from routing.services import routing_request

    routing_request(business_line_id=business_line_id)


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
    with transaction.atomic():
        # The customer's row serialises their left messages: two at once still make one conversation.
        Customer.objects.select_for_update().filter(id=customer.id).first()
        contact = {field: value for field, value in (("name", name), ("email", email)) if value}
        if contact:
            Customer.objects.filter(id=customer.id).update(**contact)
        conversation, unanswered = _conversation_for_left_message(customer)
        if conversation is not None and unanswered:
            message_append(conversation=conversation, sender=Sender.CUSTOMER, body=body)
            conversation_state_publish_on_commit(conversation)
            logger.info("customer %s added to their left message in conversation %s", customer.id, conversation.id)
            return conversation
        thanks = "Thanks! We got your message and will get back to you."
        if conversation is None:
            conversation = Conversation.objects.create(
                customer=customer, business_line_id=customer.business_line_id, channel=channel
            )
            events.publish_on_commit(events.customer_group(customer.id), events.join_event(conversation.id))
        message_append(conversation=conversation, sender=Sender.CUSTOMER, body=body)
        if conversation.status == ConversationStatus.MISSED:
            system_message_append(conversation=conversation, event="left_message", body=thanks)
            conversation_state_publish_on_commit(conversation)
            _missed_notify_on_commit(conversation)
        else:
            conversation_end(
                conversation=conversation,
                status=ConversationStatus.MISSED,
                reason=CloseReason.OFFLINE,
                event="left_message",
                body=thanks,
            )
    logger.info("customer %s left a message in conversation %s", customer.id, conversation.id)
    return conversation


def _conversation_for_left_message(customer: Customer) -> tuple[Conversation | None, bool]:
    """Where a left message goes, and whether that conversation already holds an unanswered left message: the
    customer's open (waiting) conversation, else their unanswered left message, else the conversation that timed
    out in the queue within the last hour, else none (a new one).

    The open one is looked for first, whatever its age: a missed chat picked by an agent is open though the
    customer started (and ended) a later one.
    """
    conversations = Conversation.objects.select_for_update().filter(customer=customer)
    open_conversation = conversations.filter(status__in=OPEN_STATUSES).first()
    if open_conversation is not None:
        if open_conversation.status == ConversationStatus.ACTIVE:
            raise ChatError(ErrorCode.INVALID_FIELD, "An agent is with you: write in the open conversation")
        return open_conversation, False
    latest = conversations.order_by("-started_at", "-id").first()
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
    return (
        Conversation.objects.select_for_update(of=("self",))
        .filter(customer=customer, status=ConversationStatus.MISSED)
        .annotate(last_event=Subquery(last_event))
        .filter(last_event="left_message")
        .order_by("-started_at", "-id")
        .first()
    )


def conversation_rate(*, customer_id: int, conversation_id: int, rating: int, comment: str = "") -> Conversation:
    """The customer rates a conversation that has ended (1 to 5, with an optional comment); rating again replaces it."""
    if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
        raise ChatError(ErrorCode.INVALID_FIELD, "rating must be an integer from 1 to 5")
    with transaction.atomic():
        conversation = conversation_for(Participant(kind="customer", id=customer_id), conversation_id, for_update=True)
        if conversation.status != ConversationStatus.CLOSED:
            raise ChatError(ErrorCode.INVALID_FIELD, "Only a closed conversation can be rated")
        conversation.rating = rating
        conversation.rating_comment = comment
        conversation.save(update_fields=["rating", "rating_comment"])
    logger.info("conversation %s rated %s by customer %s", conversation_id, rating, customer_id)
    return conversation
