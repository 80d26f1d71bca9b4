"""State changes of messages (and a conversation's rating). Consumers, views, tasks and tests all go through these.

The sequence rule lives in `_append`: one statement locks the conversation row, takes the next gap-free `seq`
and inserts the message; realtime events go out only after it commits. Changes of a conversation's status,
agent or line are `chat.lifecycle`'s.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from chat import events, hooks, locks
from chat.errors import ChatError
from chat.models import Conversation, ConversationStatus, Message, Sender
from chat.payloads import message_payload
from chat.permissions import VISIBLE_SQL, WRITABLE_SQL, Participant, require_conversation_id, require_writable
from cs_platform import metrics
from cs_platform.errors import ErrorCode

logger = logging.getLogger(__name__)


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
_APPEND_SQL_FOR: dict[str | None, str] = {
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
    locks.conversation_locked_by_statement(conversation.id)
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
        hooks.queue_changed(business_line_id=appended.business_line_id)
    return appended.message, True


def conversation_rate(*, customer_id: int, conversation_id: int, rating: int, comment: str = "") -> Conversation:
    """The customer rates a conversation that has ended (1 to 5, with an optional comment); rating again replaces it."""
    if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
        raise ChatError(ErrorCode.INVALID_FIELD, "rating must be an integer from 1 to 5")
    with locks.transaction():
        conversation = locks.conversation_for(Participant(kind="customer", id=customer_id), conversation_id)
        if conversation.status != ConversationStatus.CLOSED:
            raise ChatError(ErrorCode.INVALID_FIELD, "Only a closed conversation can be rated")
        conversation.rating = rating
        conversation.rating_comment = comment
        conversation.save(update_fields=["rating", "rating_comment"])
    logger.info("conversation %s rated %s by customer %s", conversation_id, rating, customer_id)
    return conversation
