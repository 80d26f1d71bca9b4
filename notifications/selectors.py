"""What the emails say, read from the transcript: never an agent's internal note, never a system event (their
texts are not the reader's language yet)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from chat.models import Conversation, Message, Sender


@dataclass(frozen=True)
class TranscriptLine:
    """One message as an email shows it: who, when (the business line's time zone) and what, with file names."""

    seq: int
    sender: str
    who: str
    at: datetime
    body: str
    files: list[str]


def conversation_for_email(*, conversation_id: int) -> Conversation | None:
    """The conversation with its customer, line and agent, or None when it is gone (erased, retention)."""
    return Conversation.objects.select_related("customer", "business_line", "agent").filter(id=conversation_id).first()


def left_message_for_email(*, message_id: int) -> Message | None:
    """A customer's left message with its conversation, customer and line."""
    return (
        Message.objects.select_related("conversation__customer", "conversation__business_line")
        .filter(id=message_id, sender=Sender.CUSTOMER)
        .first()
    )


def transcript_lines(
    *, conversation: Conversation, after_seq: int = 0, agents_only: bool = False
) -> list[TranscriptLine]:
    """The customer's and agents' messages after `after_seq`, in order; internal notes and system events left out.

    `agents_only`: the agents' answers only (the email that carries them)."""
    senders = [Sender.AGENT] if agents_only else [Sender.CUSTOMER, Sender.AGENT]
    messages = (
        Message.objects.filter(
            conversation_id=conversation.id, seq__gt=after_seq, sender__in=senders, is_internal_note=False
        )
        .select_related("agent")
        .prefetch_related("attachments")
        .order_by("seq")
    )
    customer_name = conversation.customer.name
    return [
        TranscriptLine(
            seq=message.seq,
            sender=message.sender,
            who=message.agent.display_name if message.agent is not None else customer_name,
            at=message.created_at,
            body=message.body,
            files=[attachment.name for attachment in message.attachments.all()],
        )
        for message in messages
    ]


def answers_last_seq(*, conversation_id: int) -> int:
    """The seq of the conversation's newest agent answer (no internal note), 0 when none."""
    last = (
        Message.objects.filter(conversation_id=conversation_id, sender=Sender.AGENT, is_internal_note=False)
        .order_by("-seq")
        .values_list("seq", flat=True)
        .first()
    )
    return last or 0
