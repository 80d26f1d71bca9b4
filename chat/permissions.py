"""The permission rule, in one place: who may see and who may write to a conversation.

A customer sees only their own conversations. An agent sees the conversations of their business lines, and
writes only to those assigned to them. A supervisor sees every conversation, internal notes included, and writes
to none (they whisper: `chat.services.whisper_send`). Unknown and foreign conversations are indistinguishable
(`not_found`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from django.db import connection
from django.db.models import QuerySet
from django.utils.translation import gettext

from chat.errors import ChatError
from chat.models import OPEN_STATUSES, Conversation, ConversationStatus
from cs_platform.errors import ErrorCode


@dataclass(frozen=True)
class Participant:
    """The authenticated side of a socket or request."""

    kind: Literal["customer", "agent", "supervisor"]
    id: int  # the customer's or agent's id; a supervisor's user id

    @property
    def is_agent(self) -> bool:
        return self.kind == "agent"

    @property
    def sees_internal_notes(self) -> bool:
        """Everyone on the company's side: agents and supervisors; customers never."""
        return self.kind != "customer"


def visible_conversations(participant: Participant) -> QuerySet[Conversation]:
    if participant.is_agent:
        return Conversation.objects.filter(business_line__agents__id=participant.id)
    if participant.kind == "supervisor":
        return Conversation.objects.all()
    return Conversation.objects.filter(customer_id=participant.id)


# The rule once more in SQL, for the statements every chat message runs (`conversation_for`, and
# `chat.services.message_append`), where compiling ORM queries cost more CPU than the rest of the send
# (docs/performance.md). Conditions on the columns of `chat_conversation`, with `%(participant_id)s`.
# tests/services/test_permissions.py keeps them equal to `visible_conversations` and `require_writable`.
VISIBLE_SQL = {
    "customer": "customer_id = %(participant_id)s",
    "agent": "business_line_id IN"
    " (SELECT businessline_id FROM agents_agent_business_lines WHERE agent_id = %(participant_id)s)",
    "supervisor": "TRUE",
}
WRITABLE_SQL = {
    "customer": "status IN ('waiting', 'active')",
    "agent": "status = 'active' AND agent_id = %(participant_id)s",
    "supervisor": "FALSE",
}

# Every concrete field has a column; the stub's `column` is optional for the others.
_COLUMNS = ", ".join(field.column for field in Conversation._meta.concrete_fields if field.column is not None)
_ATTNAMES = [field.attname for field in Conversation._meta.concrete_fields]


def require_conversation_id(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ChatError(ErrorCode.INVALID_FIELD, gettext("conversation_id must be an integer"), field="conversation_id")
    return value


def conversation_for(participant: Participant, conversation_id: object, *, for_update: bool = False) -> Conversation:
    """The conversation if `participant` may see it, else `not_found`; optionally row-locked."""
    conversation_id = require_conversation_id(conversation_id)
    visible = VISIBLE_SQL[participant.kind]
    sql = f"SELECT {_COLUMNS} FROM chat_conversation WHERE id = %(conversation_id)s AND {visible}"
    if for_update:
        sql += " FOR UPDATE"
    with connection.cursor() as cursor:
        cursor.execute(sql, {"conversation_id": conversation_id, "participant_id": participant.id})
        row = cursor.fetchone()
    if row is None:
        raise ChatError(ErrorCode.NOT_FOUND, gettext("No such conversation"))
    return Conversation.from_db(connection.alias, _ATTNAMES, row)


def require_writable(participant: Participant, conversation: Conversation) -> None:
    """Customers write while their conversation is open; agents only to conversations assigned to them; supervisors
    never (a whisper is not a message to the customer)."""
    if conversation.status not in OPEN_STATUSES:
        raise ChatError(ErrorCode.CONVERSATION_CLOSED, f"Conversation is {conversation.status}")
    if participant.kind == "supervisor":
        raise ChatError(
            ErrorCode.NOT_ASSIGNED, gettext("Supervisors whisper to the agent; they do not write to the customer")
        )
    if participant.is_agent and (
        conversation.status != ConversationStatus.ACTIVE or conversation.agent_id != participant.id
    ):
        raise ChatError(ErrorCode.NOT_ASSIGNED, gettext("This conversation is not assigned to you"))
