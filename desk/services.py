"""Changes to the agent's tools: canned replies, a conversation's labels, notes on a customer.

Each checks who asks with the selectors' rules and refuses with a `DeskError` that changes nothing.
"""

from __future__ import annotations

import logging
import re
import uuid
from functools import partial

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from agents.selectors import agent_for_user, is_supervisor
from chat import events, files
from chat.errors import ChatError
from chat.models import Attachment
from chat.permissions import Participant
from chat.selectors import attachment_limits_for, history_customer_for_agent
from chat.services import attachment_upload
from cs_platform.errors import ErrorCode
from desk.errors import DeskError
from desk.models import SHORTCUT_PATTERN, CannedAttachment, CannedReply, CustomerNote, Label
from desk.selectors import (
    canned_replies_search,
    canned_replies_visible,
    canned_reply_editable,
    conversation_for_agent,
    conversation_labels_frame,
    customer_notes_frame,
)
from routing.models import BusinessLine

logger = logging.getLogger(__name__)

TITLE_MAX = 100
BODY_MAX = 4000
NOTE_MAX = 2000


def _clean(*, shortcut: str, title: str, body: str) -> tuple[str, str, str]:
    shortcut = shortcut.strip().lstrip("/").lower()
    if not re.fullmatch(SHORTCUT_PATTERN, shortcut):
        raise DeskError(
            ErrorCode.INVALID_FIELD,
            "A shortcut is 1 to 32 lower-case letters, digits, - or _, starting with a letter or digit.",
            field="shortcut",
        )
    title = title.strip()
    if not title or len(title) > TITLE_MAX:
        raise DeskError(
            ErrorCode.INVALID_FIELD, gettext("A title is 1 to %(max)s characters.") % {"max": TITLE_MAX}, field="title"
        )
    if not body.strip() or len(body) > BODY_MAX:
        raise DeskError(
            ErrorCode.INVALID_FIELD, gettext("A body is 1 to %(max)s characters.") % {"max": BODY_MAX}, field="body"
        )
    return shortcut, title, body


def _saved(reply: CannedReply) -> CannedReply:
    """Saves, refusing a shortcut its owner (the agent, or the line) already uses."""
    try:
        with transaction.atomic():
            reply.save()
    except IntegrityError as exc:
        raise DeskError(
            ErrorCode.INVALID_FIELD, f"The shortcut /{reply.shortcut} is already used.", field="shortcut"
        ) from exc
    return reply


def canned_reply_create(
    *,
    user: AbstractBaseUser | AnonymousUser,
    shortcut: str,
    title: str,
    body: str,
    business_line: BusinessLine | None = None,
) -> CannedReply:
    """A personal reply of the asking agent; or, with `business_line`, a reply of that line (supervisors only)."""
    shortcut, title, body = _clean(shortcut=shortcut, title=title, body=body)
    if business_line is not None:
        if not is_supervisor(user=user):
            raise DeskError(
                ErrorCode.NOT_A_SUPERVISOR, gettext("Only supervisors keep a business line's canned replies.")
            )
        reply = CannedReply(business_line=business_line, shortcut=shortcut, title=title, body=body)
    else:
        agent = agent_for_user(user=user)
        if agent is None:
            raise DeskError(
                ErrorCode.NOT_AN_AGENT, gettext("Personal canned replies are an agent's: name a business line.")
            )
        reply = CannedReply(agent=agent, shortcut=shortcut, title=title, body=body)
    _saved(reply)
    logger.info("canned reply %s created (/%s)", reply.pk, reply.shortcut)
    return reply


def _editable(*, user: AbstractBaseUser | AnonymousUser, reply_id: int) -> CannedReply:
    reply = canned_replies_visible(user=user).filter(pk=reply_id).first()
    if reply is None:
        raise DeskError(ErrorCode.NOT_FOUND, gettext("No such canned reply."))
    if not canned_reply_editable(user=user, reply=reply):
        raise DeskError(
            ErrorCode.PERMISSION_DENIED, gettext("Only supervisors change a business line's canned replies.")
        )
    return reply


def canned_reply_update(
    *,
    user: AbstractBaseUser | AnonymousUser,
    reply_id: int,
    shortcut: str | None = None,
    title: str | None = None,
    body: str | None = None,
) -> CannedReply:
    """Changes what is given; the owner stays (a personal reply never becomes a line's)."""
    reply = _editable(user=user, reply_id=reply_id)
    reply.shortcut, reply.title, reply.body = _clean(
        shortcut=reply.shortcut if shortcut is None else shortcut,
        title=reply.title if title is None else title,
        body=reply.body if body is None else body,
    )
    reply.updated_at = timezone.now()
    return _saved(reply)


def canned_reply_delete(*, user: AbstractBaseUser | AnonymousUser, reply_id: int) -> None:
    reply = _editable(user=user, reply_id=reply_id)
    stored = [attachment.file for attachment in reply.attachments.all()]
    reply.delete()

    def delete_files() -> None:
        for file in stored:
            file.storage.delete(str(file.name))

    # The files go once the rows are gone for good.
    transaction.on_commit(delete_files)
    logger.info("canned reply %s deleted", reply_id)


def canned_attachment_add(
    *, user: AbstractBaseUser | AnonymousUser, reply_id: int, upload: UploadedFile[bytes]
) -> CannedAttachment:
    """A file for a canned reply its keeper may change, within the product's own limits (ATTACHMENT_MAX_BYTES,
    ATTACHMENT_ALLOWED_TYPES, the type read from the content); a business line's narrower limits apply when the
    file is copied into one of its conversations."""
    reply = _editable(user=user, reply_id=reply_id)
    if reply.attachments.count() >= settings.CHAT_MAX_ATTACHMENTS:
        raise DeskError(
            ErrorCode.INVALID_FIELD, f"A reply carries at most {settings.CHAT_MAX_ATTACHMENTS} files.", field="file"
        )
    size = upload.size or 0
    if size > settings.ATTACHMENT_MAX_BYTES:
        raise DeskError(
            ErrorCode.FILE_TOO_LARGE,
            gettext("The file is larger than %(limit)s bytes") % {"limit": settings.ATTACHMENT_MAX_BYTES},
        )
    name = files.clean_name(upload.name or "")
    upload.seek(0)
    content_type = files.content_type_of(upload.chunks(), name)
    if content_type is None or content_type not in settings.ATTACHMENT_ALLOWED_TYPES:
        raise DeskError(ErrorCode.FILE_TYPE_NOT_ALLOWED, gettext("Files of this type cannot be sent"))
    upload.seek(0)
    attachment = CannedAttachment(canned_reply=reply, name=name, content_type=content_type, size=size)
    attachment.file.save(uuid.uuid4().hex, upload, save=False)
    try:
        attachment.save()
    except Exception:
        attachment.file.storage.delete(str(attachment.file.name))
        raise
    logger.info("file %s (%s, %s bytes) added to canned reply %s", attachment.pk, content_type, size, reply.pk)
    return attachment


def canned_reply_use(
    *, user: AbstractBaseUser | AnonymousUser, reply_id: int, conversation_id: int
) -> tuple[CannedReply, list[Attachment]]:
    """Copies the reply's files into the conversation as new uploads of the asking agent, ready for their next
    `message.send` (`attachment_ids`). Each copy passes `chat.services.attachment_upload` like a file the agent
    chose: the conversation must be theirs and active, and its line's limits and scanner apply. All or nothing."""
    agent = agent_for_user(user=user)
    if agent is None:
        raise DeskError(ErrorCode.NOT_AN_AGENT, gettext("Only agents use canned replies in a conversation."))
    conversation = conversation_for_agent(agent_id=agent.pk, conversation_id=conversation_id)
    if conversation is None:
        raise DeskError(ErrorCode.NOT_FOUND, gettext("No such conversation."))
    usable = canned_replies_search(user=user, business_line_id=conversation.business_line_id)
    reply = next((r for r in usable if r.pk == reply_id), None)
    if reply is None:
        raise DeskError(ErrorCode.NOT_FOUND, gettext("No such canned reply."))
    copies: list[Attachment] = []
    try:
        # Refused as a file the agent chose would be, even for a reply without files: not theirs, or ended.
        attachment_limits_for(participant=Participant(kind="agent", id=agent.pk), conversation_id=conversation.pk)
        with transaction.atomic():
            for source in reply.attachments.all():
                with source.file.open("rb") as stored:
                    upload = UploadedFile(stored, name=source.name, content_type=source.content_type, size=source.size)
                    copies.append(
                        attachment_upload(
                            participant=Participant(kind="agent", id=agent.pk),
                            conversation_id=conversation.pk,
                            upload=upload,
                        )
                    )
    except ChatError as refusal:
        for copy in copies:
            for stored_file in (copy.file, copy.thumbnail):
                if stored_file.name:
                    stored_file.storage.delete(str(stored_file.name))
        raise DeskError(refusal.code, refusal.message) from refusal
    logger.info("canned reply %s used in conversation %s: %s files copied", reply.pk, conversation.pk, len(copies))
    return reply, copies


def conversation_labels_set(*, agent_id: int, conversation_id: int, label_ids: list[int]) -> list[Label]:
    """The conversation's labels become exactly these, each one of its business line's; any agent of the line
    may set them, on an open or an ended conversation."""
    conversation = conversation_for_agent(agent_id=agent_id, conversation_id=conversation_id)
    if conversation is None:
        raise DeskError(ErrorCode.NOT_FOUND, gettext("No such conversation."))
    wanted = set(label_ids)
    labels = list(Label.objects.filter(business_line_id=conversation.business_line_id, id__in=wanted))
    if len(labels) != len(wanted):
        raise DeskError(
            ErrorCode.INVALID_FIELD, gettext("A label is not one of this business line's."), field="label_ids"
        )
    with transaction.atomic():
        conversation.labels.set(labels)
        transaction.on_commit(partial(_labels_publish, conversation.pk))
    logger.info("conversation %s labels set to %s by agent %s", conversation_id, sorted(wanted), agent_id)
    return sorted(labels, key=lambda label: (label.name, label.pk))


def _note_body(body: str) -> str:
    body = body.strip()
    if not body or len(body) > NOTE_MAX:
        raise DeskError(
            ErrorCode.INVALID_FIELD, gettext("A note is 1 to %(max)s characters.") % {"max": NOTE_MAX}, field="body"
        )
    return body


def customer_note_add(*, agent_id: int, customer_id: int, body: str) -> CustomerNote:
    """A note on a customer the agent may see, for every agent who may see them."""
    if history_customer_for_agent(agent_id=agent_id, customer_id=customer_id) is None:
        raise DeskError(ErrorCode.NOT_FOUND, gettext("No such customer."))
    body = _note_body(body)
    with transaction.atomic():
        note = CustomerNote.objects.create(customer_id=customer_id, author_id=agent_id, body=body)
        transaction.on_commit(partial(_notes_publish, customer_id))
    logger.info("note %s on customer %s by agent %s", note.pk, customer_id, agent_id)
    return note


def _own_note(*, agent_id: int, customer_id: int, note_id: int) -> CustomerNote:
    """A note on a customer the agent may see (`not_found` otherwise), written by them: every agent of the line
    reads a note, only its author changes or removes it (`permission_denied`)."""
    if history_customer_for_agent(agent_id=agent_id, customer_id=customer_id) is None:
        raise DeskError(ErrorCode.NOT_FOUND, gettext("No such note."))
    note = CustomerNote.objects.select_related("author").filter(pk=note_id, customer_id=customer_id).first()
    if note is None:
        raise DeskError(ErrorCode.NOT_FOUND, gettext("No such note."))
    if note.author_id != agent_id:
        raise DeskError(ErrorCode.PERMISSION_DENIED, gettext("Only its author changes or removes a note."))
    return note


def customer_note_update(*, agent_id: int, customer_id: int, note_id: int, body: str) -> CustomerNote:
    """The author rewrites their note; it keeps its place (`created_at`)."""
    note = _own_note(agent_id=agent_id, customer_id=customer_id, note_id=note_id)
    note.body = _note_body(body)
    with transaction.atomic():
        note.save(update_fields=["body"])
        transaction.on_commit(partial(_notes_publish, customer_id))
    logger.info("note %s on customer %s changed by agent %s", note.pk, customer_id, agent_id)
    return note


def customer_note_delete(*, agent_id: int, customer_id: int, note_id: int) -> None:
    note = _own_note(agent_id=agent_id, customer_id=customer_id, note_id=note_id)
    with transaction.atomic():
        note.delete()
        transaction.on_commit(partial(_notes_publish, customer_id))
    logger.info("note %s on customer %s removed by agent %s", note_id, customer_id, agent_id)


# What the line's agents see live. Each frame is read once committed, so the last one any socket gets holds the
# latest state even when two agents change the same labels or notes at once.


def _labels_publish(conversation_id: int) -> None:
    """Every socket of the agents of the conversation's (current) business line hears its labels."""
    found = conversation_labels_frame(conversation_id=conversation_id)
    if found is not None:
        business_line_id, frame = found
        events.publish(events.line_agents_group(business_line_id), events.frame_event(frame))


def _notes_publish(customer_id: int) -> None:
    """Every socket of the agents who may see the customer hears the notes on them."""
    line_ids, frame = customer_notes_frame(customer_id=customer_id)
    events.publish_many([(events.line_agents_group(line_id), events.frame_event(frame)) for line_id in line_ids])
