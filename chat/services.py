"""State changes of conversations and messages. Consumers, views, tasks and tests all go through these.

The sequence rule lives in `message_append`: the conversation row is locked, the next gap-free `seq` taken
and the message inserted in one transaction; realtime events go out only after it commits.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from agents.models import Agent
from chat import events
from chat.errors import ChatError, ErrorCode
from chat.models import OPEN_STATUSES, CloseReason, Conversation, ConversationStatus, Message, Sender
from chat.payloads import message_payload
from chat.permissions import Participant, conversation_for, require_writable
from customers.models import Channel, Customer

logger = logging.getLogger(__name__)

LEFT_MESSAGE_JOINS_MISSED_WITHIN = timedelta(hours=1)


_APPEND_SQL = """
WITH message AS (
    INSERT INTO chat_message
        (conversation_id, seq, sender, agent_id, body, event, client_msg_id, is_internal_note, created_at)
    VALUES (%(conversation_id)s, %(seq)s, %(sender)s, %(agent_id)s, %(body)s, %(event)s, %(client_msg_id)s,
            %(internal)s, %(now)s)
    ON CONFLICT (conversation_id, sender, client_msg_id) WHERE client_msg_id IS NOT NULL DO NOTHING
    RETURNING id, seq
), conversation AS (
    UPDATE chat_conversation
    SET last_seq = message.seq,
        last_customer_message_at = COALESCE(%(customer_at)s, last_customer_message_at),
        last_agent_message_at = COALESCE(%(agent_at)s, last_agent_message_at),
        first_agent_reply_at = COALESCE(first_agent_reply_at, %(agent_at)s)
    FROM message
    WHERE chat_conversation.id = %(conversation_id)s
)
SELECT id FROM message
"""


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
    """Append to a conversation whose row the caller has locked (`select_for_update`) in this transaction.

    One statement stores the message with the next `seq` and moves the conversation's counters, because this
    runs for every chat message. None when the sender already sent `client_msg_id` here: nothing is stored.
    """
    now = timezone.now()
    seq = conversation.last_seq + 1
    customer_at = now if sender == Sender.CUSTOMER else None
    agent_at = now if sender == Sender.AGENT and not internal else None
    with connection.cursor() as cursor:
        cursor.execute(
            _APPEND_SQL,
            {
                "conversation_id": conversation.id,
                "seq": seq,
                "sender": sender,
                "agent_id": agent_id,
                "body": body,
                "event": event,
                "client_msg_id": client_msg_id,
                "internal": internal,
                "now": now,
                "customer_at": customer_at,
                "agent_at": agent_at,
            },
        )
        row = cursor.fetchone()
    if row is None:
        return None
    conversation.last_seq = seq
    conversation.last_customer_message_at = customer_at or conversation.last_customer_message_at
    conversation.last_agent_message_at = agent_at or conversation.last_agent_message_at
    conversation.first_agent_reply_at = conversation.first_agent_reply_at or agent_at
    message = Message(
        id=row[0],
        conversation=conversation,
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
    events.publish_on_commit(
        events.conversation_group(conversation.id),
        events.frame_event(
            {"type": "message.new", "message": message_payload(message)},
            audience=events.AUDIENCE_AGENTS if internal else events.AUDIENCE_ALL,
        ),
    )
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

    Returns the message and whether it is new.
    """
    if internal and not participant.is_agent:
        raise ChatError(ErrorCode.INVALID_FIELD, "Only agents write internal notes")
    sender = Sender.AGENT if participant.is_agent else Sender.CUSTOMER
    with transaction.atomic():
        conversation = conversation_for(participant, conversation_id, for_update=True)
        try:
            require_writable(participant, conversation)
        except ChatError:
            original = _message_sent(conversation, sender, client_msg_id)
            if original is None:
                raise
            return original, False
        message = message_append(
            conversation=conversation,
            sender=sender,
            body=body,
            agent_id=participant.id if participant.is_agent else None,
            client_msg_id=client_msg_id,
            internal=internal,
        )
        if message is None:
            return _message_sent(conversation, sender, client_msg_id), False
        if conversation.status == ConversationStatus.WAITING:
            # An assigner skips a row locked by this send (SKIP LOCKED): ask for routing again once it commits.
            _routing_request(conversation.business_line_id)
    return message, True


def _message_sent(conversation: Conversation, sender: str, client_msg_id: str) -> Message | None:
    """What the sender already stored under `client_msg_id`: a retry gets the original back."""
    return Message.objects.filter(conversation=conversation, sender=sender, client_msg_id=client_msg_id).first()


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
    conversation that has just timed out in the queue takes the message.
    """
    _require_channel(channel)
    with transaction.atomic():
        contact = {field: value for field, value in (("name", name), ("email", email)) if value}
        if contact:
            Customer.objects.filter(id=customer.id).update(**contact)
        conversation = _conversation_for_left_message(customer)
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


def _conversation_for_left_message(customer: Customer) -> Conversation | None:
    """The customer's waiting conversation, or the one that timed out in the queue within the last hour."""
    latest = (
        Conversation.objects.select_for_update()
        .filter(customer=customer)
        .order_by("-started_at", "-id")
        .first()
    )
    if latest is None:
        return None
    if latest.status == ConversationStatus.ACTIVE:
        raise ChatError(ErrorCode.INVALID_FIELD, "An agent is with you: write in the open conversation")
    if latest.status == ConversationStatus.WAITING:
        return latest
    recently_missed = (
        latest.status == ConversationStatus.MISSED
        and latest.close_reason == CloseReason.WAIT_TIMEOUT
        and latest.closed_at is not None
        and timezone.now() - latest.closed_at < LEFT_MESSAGE_JOINS_MISSED_WITHIN
    )
    return latest if recently_missed else None


def conversation_rate(*, customer_id: int, conversation_id: int, rating: int, comment: str = "") -> Conversation:
    """The customer rates a conversation that has ended (1 to 5, with an optional comment); rating again replaces it."""
    if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
        raise ChatError(ErrorCode.INVALID_FIELD, "rating must be an integer from 1 to 5")
    with transaction.atomic():
        conversation = conversation_for(
            Participant(kind="customer", id=customer_id), conversation_id, for_update=True
        )
        if conversation.status != ConversationStatus.CLOSED:
            raise ChatError(ErrorCode.INVALID_FIELD, "Only a closed conversation can be rated")
        conversation.rating = rating
        conversation.rating_comment = comment
        conversation.save(update_fields=["rating", "rating_comment"])
    logger.info("conversation %s rated %s by customer %s", conversation_id, rating, customer_id)
    return conversation
