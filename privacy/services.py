"""Data protection: transcripts deleted once their business line's retention period is over, and one customer
erased on request.

Both delete in short transactions, take rows with row locks (conversations after their customer, as the chat
services do), delete stored files only once the rows are gone for good (after commit), and leave an audit entry
that names records by id only. An open (waiting or active) conversation is never deleted: retention skips it,
and erasing its customer is refused until it has ended.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import AnonymousUser, User
from django.contrib.contenttypes.models import ContentType
from django.core.files.storage import Storage
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from audit.models import AuditAction
from audit.services import audit_record
from chat import locks
from chat.models import OPEN_STATUSES, Attachment, Conversation, Message
from cs_platform.errors import ErrorCode
from customers.models import Customer
from privacy.selectors import conversations_ended_before, customers_forgotten_before
from routing.models import BusinessLine

logger = logging.getLogger(__name__)


class ErasureRefused(Exception):
    """Nothing was erased; the message says why and what to do."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Deleted:
    """What one purge or erasure deleted."""

    conversations: int = 0
    messages: int = 0
    files: int = 0
    customers: int = 0

    def __add__(self, other: Deleted) -> Deleted:
        return Deleted(**{name: value + getattr(other, name) for name, value in asdict(self).items()})

    def __bool__(self) -> bool:
        return any(asdict(self).values())


# Erasure


def customer_erase(
    *,
    customer_id: int,
    reason: str,
    actor: User | AnonymousUser | None = None,
    actor_label: str = "",
    address: str | None = None,
) -> Deleted:
    """Erase a customer on their request: every conversation, message and file of theirs, then the customer.

    Refused while the customer is in an open conversation: erasing it would pull a live chat from under its
    agent, and it ends on its own (closed, or by a timeout). The audit entry keeps the customer's id, the
    business line, the counts and the reason; the admin's own history of the customer loses their name.
    """
    reason = reason.strip()
    if not reason:
        raise ErasureRefused(
            ErrorCode.REASON_REQUIRED,
            gettext("Say why the customer is erased (their request, a ticket number): it is kept in the audit log."),
        )
    with locks.transaction():
        customer = locks.customer(customer_id=customer_id)
        if customer is None:
            raise ErasureRefused(
                ErrorCode.CUSTOMER_NOT_FOUND, gettext("There is no customer %(id)s.") % {"id": customer_id}
            )
        conversations = [
            (conversation.id, conversation.status)
            for conversation in locks.customer_conversations(customer_id=customer_id)
        ]
        still_open = [conversation_id for conversation_id, status in conversations if status in OPEN_STATUSES]
        if still_open:
            raise ErasureRefused(
                ErrorCode.CUSTOMER_HAS_OPEN_CONVERSATION,
                gettext(
                    "Customer %(id)s is in an open conversation (#%(conversation)s): erase them once it has ended "
                    "(closed by the agent or the customer, or by a timeout)."
                )
                % {"id": customer_id, "conversation": still_open[0]},
            )
        deleted = _transcripts_delete(conversation_ids=[conversation_id for conversation_id, _ in conversations])
        deleted += _customers_delete(customer_ids=[customer_id])
        audit_record(
            action=AuditAction.CUSTOMER_ERASE,
            actor=actor,
            actor_label=actor_label,
            target_type=Customer._meta.label_lower,
            target_id=customer_id,
            address=address,
            details={"reason": reason, "business_line_id": customer.business_line_id, **asdict(deleted)},
        )
    logger.info("customer %s erased: %s", customer_id, deleted)
    return deleted


# Retention


def transcripts_purge_expired(*, now: datetime | None = None, batch_size: int | None = None) -> dict[int, Deleted]:
    """Delete, for every business line with a retention period, the transcripts (and files) of conversations
    that ended longer ago than the period, then its customers not seen for as long who have nothing left.

    Runs in batches of `batch_size` conversations (or customers), one short transaction each, skipping rows
    another transaction holds: a large purge never holds many locks for long, and two sweeps share the work.
    Returns what was deleted, per business line id.
    """
    now = now or timezone.now()
    batch_size = batch_size or settings.RETENTION_BATCH_SIZE
    purged: dict[int, Deleted] = {}
    for line in BusinessLine.objects.filter(retention_days__gt=0).order_by("id"):
        assert line.retention_days is not None  # the filter's
        cutoff = now - timedelta(days=line.retention_days)
        deleted = _line_purge(business_line_id=line.id, cutoff=cutoff, batch_size=batch_size)
        if deleted:
            purged[line.id] = deleted
            audit_record(
                action=AuditAction.RETENTION_PURGE,
                actor_label="retention sweep",
                target_type=BusinessLine._meta.label_lower,
                target_id=line.id,
                details={"retention_days": line.retention_days, "cutoff": cutoff.isoformat(), **asdict(deleted)},
            )
            logger.info("business line %s: deleted past retention (%s days): %s", line.id, line.retention_days, deleted)
    return purged


def _line_purge(*, business_line_id: int, cutoff: datetime, batch_size: int) -> Deleted:
    total = Deleted()
    while True:
        with locks.transaction():
            conversation_ids = locks.conversation_ids_skip_locked(
                conversations_ended_before(business_line_id=business_line_id, cutoff=cutoff), limit=batch_size
            )
            total += _transcripts_delete(conversation_ids=conversation_ids)
        if len(conversation_ids) < batch_size:
            break
    while True:
        with locks.transaction():
            customer_ids = locks.customer_ids_skip_locked(
                customers_forgotten_before(business_line_id=business_line_id, cutoff=cutoff), limit=batch_size
            )
            # Again under the lock: a conversation may have started since the rows were read.
            total += _customers_delete(
                customer_ids=customers_forgotten_before(business_line_id=business_line_id, cutoff=cutoff)
                .filter(id__in=customer_ids)
                .values_list("id", flat=True)
            )
        if len(customer_ids) < batch_size:
            break
    return total


# Deleting, inside the caller's transaction


def _transcripts_delete(*, conversation_ids: list[int]) -> Deleted:
    """Delete conversations with their messages; their files go from storage once this commits."""
    if not conversation_ids:
        return Deleted()
    files = list(
        Message.objects.filter(conversation_id__in=conversation_ids)
        .exclude(attachment="")
        .exclude(attachment__isnull=True)
        .values_list("attachment", flat=True)
    )
    attachment_files = [
        name
        for pair in Attachment.objects.filter(conversation_id__in=conversation_ids).values_list("file", "thumbnail")
        for name in pair
        if name
    ]
    _, counts = Conversation.objects.filter(id__in=conversation_ids).delete()
    transaction.on_commit(lambda: _files_delete(files))
    transaction.on_commit(lambda: _files_delete(attachment_files, storage=Attachment._meta.get_field("file").storage))
    return Deleted(
        conversations=counts.get(Conversation._meta.label, 0),
        messages=counts.get(Message._meta.label, 0),
        files=len(files) + len(attachment_files),
    )


def _customers_delete(*, customer_ids: Iterable[int]) -> Deleted:
    """Delete customers, and their names from the admin's own history (Django's LogEntry keeps them)."""
    object_ids = [str(customer_id) for customer_id in customer_ids]
    if not object_ids:
        return Deleted()
    LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(Customer), object_id__in=object_ids).update(
        object_repr="(erased customer)"
    )
    _, counts = Customer.objects.filter(id__in=object_ids).delete()
    return Deleted(customers=counts.get(Customer._meta.label, 0))


def _files_delete(names: list[Any], storage: Storage | None = None) -> None:
    """Remove stored files (messages' own, or attachments' from their storage); one that cannot be removed is
    logged (an orphan file), never raised."""
    storage = storage or Message._meta.get_field("attachment").storage
    for name in names:
        try:
            storage.delete(name)
        except Exception:
            logger.exception("could not delete the stored file %s", name)
