"""State changes of messages (and a conversation's rating). Consumers, views, tasks and tests all go through these.

The sequence rule lives in `_append`: one statement locks the conversation row, takes the next gap-free `seq`
and inserts the message; realtime events go out only after it commits. Changes of a conversation's status,
agent or line are `chat.lifecycle`'s.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.core.files.storage import Storage
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext

from chat import events, files, hooks, images, locks
from chat.errors import ChatError
from chat.models import Attachment, Conversation, ConversationStatus, Message, Sender
from chat.payloads import message_payload
from chat.permissions import (
    VISIBLE_SQL,
    WRITABLE_SQL,
    Participant,
    conversation_for,
    require_conversation_id,
    require_writable,
)
from chat.selectors import attachment_limits_for
from cs_platform import metrics
from cs_platform.errors import ErrorCode

logger = logging.getLogger(__name__)


_APPEND_SQL = """
WITH conversation AS (
    SELECT id, last_seq, status, agent_id, business_line_id, answers_by_email FROM chat_conversation
    WHERE id = %(conversation_id)s AND {visible}
    FOR UPDATE
), message AS (
    INSERT INTO chat_message
        (conversation_id, seq, sender, agent_id, author_user_id, body, event, params, client_msg_id,
        is_internal_note, created_at)
    SELECT id, last_seq + 1, %(sender)s, %(agent_id)s, %(author_user_id)s, %(body)s, %(event)s, %(params)s::jsonb,
        %(client_msg_id)s,
        %(internal)s, %(now)s
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
SELECT conversation.status, conversation.agent_id, conversation.business_line_id, conversation.answers_by_email,
    message.id, message.seq
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
    answers_by_email: bool
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
    attachment_ids: Sequence[int] = (),
    author_user: User | None = None,
    params: Mapping[str, str] | None = None,
) -> _Appended | None:
    """The sequence rule, in one statement: lock the conversation row, store the message with `last_seq + 1`
    and move the conversation's counters, in the caller's transaction or (outside one) its own.

    With a participant, the permission rule is part of the statement: nothing is stored unless they may see
    and write to the conversation. Nothing is stored either for a repeated `(sender, client_msg_id)`. None
    when the conversation is not there or not visible to the participant. `attachment_ids` go with the new
    message (`_attachments_link`: the caller's transaction rolls back when one may not).
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
                "author_user_id": author_user.pk if author_user is not None else None,
                "body": body,
                "event": event,
                "params": json.dumps(dict(params or {})),
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
    status, conversation_agent_id, business_line_id, answers_by_email, message_id, seq = row
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
            params=dict(params or {}),
            client_msg_id=client_msg_id,
            is_internal_note=internal,
            created_at=now,
        )
        if author_user is not None:
            message.author_user = author_user
        message._state.adding = False
        message._state.db = connection.alias
        attachments = _attachments_link(message, attachment_ids) if attachment_ids else []
        _attachments_known(message, attachments)
        metrics.message_stored_on_commit(sender)
        events.publish_on_commit(
            events.conversation_group(conversation_id),
            events.frame_event(
                {"type": "message.new", "message": message_payload(message)},
                audience=events.AUDIENCE_AGENTS if internal else events.AUDIENCE_ALL,
            ),
        )
    return _Appended(
        status=status,
        agent_id=conversation_agent_id,
        business_line_id=business_line_id,
        answers_by_email=answers_by_email,
        message=message,
    )


def _attachments_link(message: Message, attachment_ids: Sequence[int]) -> list[Attachment]:
    """Send the attachments with `message`: each only once, only by its uploader, only in its conversation."""
    unsent = Attachment.objects.filter(
        id__in=attachment_ids, conversation_id=message.conversation_id, message__isnull=True, uploader=message.sender
    )
    if message.agent_id is not None:
        unsent = unsent.filter(agent_id=message.agent_id)
    linked = unsent.update(message=message)
    if linked != len(attachment_ids):
        raise ChatError(
            ErrorCode.INVALID_FIELD,
            "attachment_ids must be your own uploads to this conversation, not sent before",
            field="attachment_ids",
        )
    return list(Attachment.objects.filter(message=message).order_by("id"))


def _attachments_known(message: Message, attachments: list[Attachment]) -> None:
    """Give a message built from a statement its attachments as if prefetched, so its payload costs no query."""
    queryset = Attachment.objects.filter(message=message)
    # What Django's prefetch_related sets (QuerySet and Model internals the stubs do not declare)
    queryset._result_cache = attachments
    queryset._prefetch_done = True  # type: ignore[attr-defined]
    message._prefetched_objects_cache = {"attachments": queryset}  # type: ignore[attr-defined]


def message_append(
    *,
    conversation: Conversation,
    sender: str,
    body: str,
    agent_id: int | None = None,
    event: str = "",
    client_msg_id: str | None = None,
    internal: bool = False,
    author_user: User | None = None,
    params: Mapping[str, str] | None = None,
) -> Message | None:
    """Append to a conversation the caller has already checked (and usually locked) in this transaction.

    None when the sender already sent `client_msg_id` here: nothing is stored. `author_user` is who wrote a message
    that is neither an agent's nor the customer's (a supervisor's whisper).
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
        author_user=author_user,
        params=params,
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


def system_message_append(
    *, conversation: Conversation, event: str, body: str, params: Mapping[str, str] | None = None
) -> Message | None:
    """A system event (assigned, closed, ...) as a message, so the transcript tells the whole story. `body` is its
    English text, kept as the fallback; readers see it written from `event` and `params` in their own language
    (chat/system_messages.py, static/shared/i18n.js)."""
    return message_append(conversation=conversation, sender=Sender.SYSTEM, body=body, event=event, params=params)


def message_send(
    *,
    participant: Participant,
    conversation_id: int,
    client_msg_id: str,
    body: str,
    internal: bool = False,
    attachment_ids: Sequence[int] = (),
) -> tuple[Message, bool]:
    """Store a customer's or agent's message; a repeated `client_msg_id` returns the original, stores nothing.

    Returns the message and whether it is new. One statement, committed on its own, because this runs for
    every chat message; only when it stores nothing do further queries find out why. A message with
    attachments runs in a transaction: refused attachments (`invalid_field`) leave nothing stored.
    """
    if participant.kind == "supervisor":
        # Supervisors never write to the customer: the rule says why (`not_found`, `conversation_closed`,
        # `not_assigned`), as for anyone who may not write here; a whisper is `whisper_send`.
        require_writable(participant, conversation_for(participant, conversation_id))
        raise ChatError(
            ErrorCode.NOT_ASSIGNED, gettext("Supervisors whisper to the agent; they do not write to the customer")
        )
    if internal and not participant.is_agent:
        raise ChatError(ErrorCode.INVALID_FIELD, gettext("Only agents write internal notes"), field="internal")
    require_conversation_id(conversation_id)
    if len(attachment_ids) > settings.CHAT_MAX_ATTACHMENTS or len(set(attachment_ids)) != len(attachment_ids):
        raise ChatError(
            ErrorCode.INVALID_FIELD,
            f"attachment_ids must be at most {settings.CHAT_MAX_ATTACHMENTS} distinct ids",
            field="attachment_ids",
        )
    if not body and not attachment_ids:
        raise ChatError(ErrorCode.INVALID_FIELD, gettext("A message needs a body or attachments"), field="body")
    sender = Sender.AGENT if participant.is_agent else Sender.CUSTOMER
    # Without attachments, the one statement commits on its own: no transaction around it.
    with transaction.atomic() if attachment_ids else nullcontext():
        appended = _append(
            conversation_id=conversation_id,
            participant=participant,
            sender=sender,
            body=body,
            agent_id=participant.id if participant.is_agent else None,
            event="",
            client_msg_id=client_msg_id,
            internal=internal,
            attachment_ids=attachment_ids,
        )
    if appended is None:
        raise ChatError(ErrorCode.NOT_FOUND, gettext("No such conversation"))
    if appended.message is None:
        sent_before = (
            Message.objects.filter(conversation_id=conversation_id, sender=sender, client_msg_id=client_msg_id)
            .annotate(has_attachments=Exists(Attachment.objects.filter(message=OuterRef("pk"))))
            .first()
        )
        if sent_before is not None:
            # Fetched here (a query only when there are some): the consumer builds the ack outside this thread.
            _attachments_known(
                sent_before,
                list(Attachment.objects.filter(message=sent_before)) if sent_before.has_attachments else [],
            )
        if sent_before is not None and sent_before.agent_id == (participant.id if participant.is_agent else None):
            return sent_before, False
        require_writable(
            participant,
            Conversation(id=conversation_id, status=appended.status, agent_id=appended.agent_id),
        )
        # Writable, so the insert met an earlier agent's message (before a transfer) under the same id.
        raise ChatError(
            ErrorCode.INVALID_FIELD,
            gettext("client_msg_id was already used in this conversation"),
            field="client_msg_id",
        )
    if appended.answers_by_email and sender == Sender.AGENT and not internal:
        # An answer to a missed conversation or a left message: emailed if the customer has left (notifications).
        hooks.missed_answered(conversation_id=conversation_id)
    if appended.status == ConversationStatus.WAITING:
        # An assigner skips a row locked by this send (SKIP LOCKED): ask for routing again now it is committed.
        hooks.queue_changed(business_line_id=appended.business_line_id)
    return appended.message, True


WHISPER_EVENT = "whisper"


def whisper_send(
    *, supervisor: Participant, conversation_id: int, client_msg_id: str, body: str
) -> tuple[Message, bool]:
    """A supervisor's whisper: an internal note in an open conversation, which its agent (and every supervisor
    watching) sees and the customer never does, like an agent's internal note (`is_internal_note`, published to
    agents only, left out of a customer's sync and history).

    Stored as a system message with the event `whisper` (the supervisor is no agent, so no agent writes it) and
    the supervisor's user as its author (`author_user`: agents and the admin's transcript show their name); it
    counts for no timing (not an agent's answer). Returns the message and whether it is new: a repeated
    `client_msg_id` stores nothing and returns the original.
    """
    if supervisor.kind != "supervisor":
        raise ChatError(ErrorCode.NOT_A_SUPERVISOR, gettext("Only supervisors whisper"))
    author = User.objects.get(pk=supervisor.id)
    with locks.transaction():
        conversation = locks.conversation_for(supervisor, conversation_id)
        if conversation.status not in (ConversationStatus.WAITING, ConversationStatus.ACTIVE):
            raise ChatError(ErrorCode.CONVERSATION_CLOSED, f"Conversation is {conversation.status}")
        message = message_append(
            conversation=conversation,
            sender=Sender.SYSTEM,
            body=body,
            event=WHISPER_EVENT,
            client_msg_id=client_msg_id,
            internal=True,
            author_user=author,
        )
    if message is None:
        return (
            Message.objects.select_related("author_user")
            .prefetch_related("attachments")
            .get(conversation_id=conversation_id, sender=Sender.SYSTEM, client_msg_id=client_msg_id),
            False,
        )
    logger.info("supervisor (user %s) whispered in conversation %s", supervisor.id, conversation_id)
    return message, True


def attachment_upload(*, participant: Participant, conversation_id: int, upload: UploadedFile[bytes]) -> Attachment:
    """Store a file for a message the participant may write in this conversation, once it passed the business
    line's limits (size, then the type its content shows); a refused file leaves nothing stored.

    The file is streamed to storage chunk by chunk (the upload is a temporary file on disk when large).
    """
    limits = attachment_limits_for(participant=participant, conversation_id=conversation_id)
    size = upload.size or 0
    if size > limits.max_bytes:
        raise ChatError(
            ErrorCode.FILE_TOO_LARGE, gettext("The file is larger than %(limit)s bytes") % {"limit": limits.max_bytes}
        )
    name = files.clean_name(upload.name or "")
    upload.seek(0)
    content_type = files.content_type_of(upload.chunks(), name)
    if content_type is None or content_type not in limits.types:
        raise ChatError(ErrorCode.FILE_TYPE_NOT_ALLOWED, gettext("Files of this type cannot be sent here"))
    upload.seek(0)
    _scan(upload, content_type)
    image = None
    if content_type in files.INLINE_TYPES:
        image = images.image_prepare(upload, content_type)
        if image is None:
            raise ChatError(ErrorCode.FILE_TYPE_NOT_ALLOWED, gettext("The image cannot be read, or is too large"))
    attachment = Attachment(
        conversation_id=conversation_id,
        uploader=Sender.AGENT if participant.is_agent else Sender.CUSTOMER,
        agent_id=participant.id if participant.is_agent else None,
        name=name,
        content_type=content_type,
        size=size,
    )
    # Stored names of our own: the uploader's name never reaches the file system or a bucket's keys.
    stored_name = uuid.uuid4().hex
    if image is not None:
        attachment.width, attachment.height = image.width, image.height
        attachment.thumbnail.save(f"{stored_name}-thumbnail", ContentFile(image.thumbnail), save=False)
    if image is not None and image.cleaned is not None:
        attachment.size = len(image.cleaned)
        attachment.file.save(stored_name, ContentFile(image.cleaned), save=False)
    else:
        attachment.file.save(stored_name, upload, save=False)
    try:
        attachment.save()
    except Exception:
        for stored in (attachment.file, attachment.thumbnail):
            if stored.name:
                stored.storage.delete(str(stored.name))
        raise
    logger.info(
        "attachment %s (%s, %s bytes) uploaded to conversation %s", attachment.id, content_type, size, conversation_id
    )
    return attachment


def _scan(upload: UploadedFile[bytes], content_type: str) -> None:
    """The operator's virus scanner (ATTACHMENT_SCANNER), if any: a reason it gives refuses the file."""
    if not settings.ATTACHMENT_SCANNER:
        return
    scan = import_string(settings.ATTACHMENT_SCANNER)
    reason = scan(upload, content_type)
    upload.seek(0)
    if reason:
        logger.warning("attachment refused by the scanner: %s", reason)
        raise ChatError(ErrorCode.FILE_REJECTED, gettext("The file was refused by a security check"))


# Deletes a batch of uploads never sent, oldest first; rows a send holds locked are left for the next run.
_UNSENT_DELETE_SQL = """
DELETE FROM chat_attachment WHERE id IN (
    SELECT id FROM chat_attachment WHERE message_id IS NULL AND created_at < %(cutoff)s
    ORDER BY id LIMIT %(batch)s FOR UPDATE SKIP LOCKED
) RETURNING file, thumbnail
"""


def attachments_unsent_delete(*, batch_size: int = 500) -> int:
    """Delete uploads older than ATTACHMENT_UNSENT_MAX_AGE that no message carries, with their files; how many."""
    cutoff = timezone.now() - timedelta(seconds=settings.ATTACHMENT_UNSENT_MAX_AGE)
    storage = Attachment._meta.get_field("file").storage
    total = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_UNSENT_DELETE_SQL, {"cutoff": cutoff, "batch": batch_size})
            rows = cursor.fetchall()
            names = [name for row in rows for name in row if name]
            transaction.on_commit(partial(_stored_files_delete, storage, names))
        total += len(rows)
        if len(rows) < batch_size:
            break
    if total:
        logger.info("deleted %s attachments never sent", total)
    return total


def _stored_files_delete(storage: Storage, names: list[str]) -> None:
    """Remove stored files; one that cannot be removed is logged (an orphan file), never raised."""
    for name in names:
        try:
            storage.delete(name)
        except Exception:
            logger.exception("could not delete the stored file %s", name)


def conversation_rate(*, customer_id: int, conversation_id: int, rating: int, comment: str = "") -> Conversation:
    """The customer rates a conversation that has ended (1 to 5, with an optional comment); rating again replaces it."""
    if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
        raise ChatError(ErrorCode.INVALID_FIELD, gettext("rating must be an integer from 1 to 5"), field="rating")
    with locks.transaction():
        conversation = locks.conversation_for(Participant(kind="customer", id=customer_id), conversation_id)
        if conversation.status != ConversationStatus.CLOSED:
            raise ChatError(ErrorCode.INVALID_FIELD, gettext("Only a closed conversation can be rated"))
        conversation.rating = rating
        conversation.rating_comment = comment
        conversation.save(update_fields=["rating", "rating_comment"])
    logger.info("conversation %s rated %s by customer %s", conversation_id, rating, customer_id)
    return conversation


def conversation_answers_emailed_claim(*, conversation_id: int, after_seq: int, through_seq: int) -> bool:
    """Claim the agents' answers in (`after_seq`, `through_seq`] for one email (or as seen live): True for the one
    caller that moved the mark from `after_seq`, so two runs at once never email the same answers twice."""
    claimed = Conversation.objects.filter(id=conversation_id, answers_emailed_seq=after_seq).update(
        answers_emailed_seq=through_seq
    )
    return claimed == 1
