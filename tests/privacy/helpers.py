"""Transcripts with stored files, and a look at what is left of them."""

from datetime import datetime

from django.core.files.base import ContentFile

from chat.models import Conversation, ConversationStatus, Message
from tests.factories import AgentFactory, ConversationFactory, MessageFactory


def transcript(
    *,
    customer=None,
    status=ConversationStatus.CLOSED,
    closed_at: datetime | None = None,
    started_at: datetime | None = None,
    files: int = 1,
    **kwargs,
) -> Conversation:
    """A conversation with two messages, the first `files` of them carrying a stored file."""
    if status == ConversationStatus.ACTIVE:
        kwargs.setdefault("agent", AgentFactory())
    if customer is not None:
        kwargs["customer"] = customer
    if started_at is not None:
        kwargs["started_at"] = started_at
    conversation = ConversationFactory(status=status, closed_at=closed_at, **kwargs)
    for seq in (1, 2):
        attachment = ContentFile(b"%d" % seq, name=f"file-{conversation.pk}-{seq}.txt") if seq <= files else None
        MessageFactory(conversation=conversation, seq=seq, body=f"message {seq}", attachment=attachment)
    return conversation


def stored_files(conversation: Conversation) -> list[str]:
    return [message.attachment.name for message in conversation.messages.all() if message.attachment]


def exists(conversation: Conversation) -> bool:
    return Conversation.objects.filter(pk=conversation.pk).exists()


def message_count(conversation: Conversation) -> int:
    return Message.objects.filter(conversation_id=conversation.pk).count()
