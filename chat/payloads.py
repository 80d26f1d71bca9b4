"""The wire shapes of the protocol (docs/protocol.md): one place, used by WebSocket frames and REST alike."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.base_user import AbstractBaseUser
from django.urls import reverse

from chat.files import link_signature
from chat.models import Attachment, Conversation, Message


def attachment_payload(attachment: Attachment) -> dict[str, Any]:
    """An attachment with its download link: signed, valid `ATTACHMENT_LINK_MAX_AGE` seconds, a path on this
    server (clients resolve it against the server's address)."""
    query = urlencode({"sig": link_signature(attachment.id)})
    path = reverse("attachment-download", kwargs={"attachment_id": attachment.id})
    payload: dict[str, Any] = {
        "id": attachment.id,
        "name": attachment.name,
        "content_type": attachment.content_type,
        "size": attachment.size,
        "url": f"{path}?{query}",
    }
    if attachment.thumbnail.name:
        thumbnail = reverse("attachment-thumbnail", kwargs={"attachment_id": attachment.id})
        payload.update(width=attachment.width, height=attachment.height, thumbnail_url=f"{thumbnail}?{query}")
    return payload


def user_display_name(user: AbstractBaseUser) -> str:
    """A user who is not an agent (a supervisor) by name: their full name, else their username."""
    full_name = getattr(user, "get_full_name", lambda: "")()
    return str(full_name or user.get_username())


def message_payload(message: Message) -> dict[str, Any]:
    """`message.attachments` should be prefetched and `message.author_user` fetched (the selectors and
    `chat.services` do)."""
    payload: dict[str, Any] = {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "seq": message.seq,
        "sender": message.sender,
        "body": message.body,
        "client_msg_id": message.client_msg_id,
        "created_at": message.created_at.isoformat(),
        "attachments": [attachment_payload(a) for a in message.attachments.all()],
    }
    if message.event:
        payload["event"] = message.event
        payload["params"] = dict(message.params or {})
    if message.agent_id is not None:
        payload["agent_id"] = message.agent_id
    author = message.author_user  # None without a query when there is none (every customer's and agent's message)
    if author is not None:
        payload["author"] = {"id": author.pk, "name": user_display_name(author)}
    if message.is_internal_note:
        payload["internal"] = True
    if message.attachment.name:
        payload["attachment"] = {"url": message.attachment.url, "name": message.attachment.name.rsplit("/", 1)[-1]}
    return payload


def conversation_payload(conversation: Conversation, *, queue_position: int | None = None) -> dict[str, Any]:
    """`conversation.agent` and `.customer` should be fetched with `select_related`."""
    agent = conversation.agent
    customer = conversation.customer
    return {
        "id": conversation.id,
        "status": conversation.status,
        "channel": conversation.channel,
        "business_line": conversation.business_line.key,
        "customer": {"id": customer.id, "name": customer.name, "email": customer.email},
        "agent": None if agent is None else {"id": agent.id, "name": agent.display_name},
        "queue_position": queue_position,
        "last_seq": conversation.last_seq,
        "started_at": conversation.started_at.isoformat(),
        "closed_at": conversation.closed_at.isoformat() if conversation.closed_at else None,
        "close_reason": conversation.close_reason or None,
    }
