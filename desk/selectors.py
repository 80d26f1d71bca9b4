"""Reads for the agent's tools: canned replies (with their variables filled), labels, customer notes, search.

Who may see what follows chat's rule (`chat.permissions`): an agent reads the conversations of their business
lines, and the customers they may see (`chat.selectors.history_customer_for_agent`); a foreign id reads as a
missing one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import connection
from django.db.models import Q, QuerySet

from agents.models import Agent
from agents.selectors import agent_for_user, is_supervisor
from chat.models import Conversation
from chat.permissions import Participant, visible_conversations
from chat.selectors import history_customer_for_agent
from customers.models import Customer
from desk.models import CannedReply, CustomerNote, Label
from desk.payloads import label_payload, note_payload

# Canned replies


def canned_replies_visible(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[CannedReply]:
    """An agent's own replies and those of their business lines; a supervisor's, every line's."""
    agent = agent_for_user(user=user)
    visible = Q(pk__in=[])
    if agent is not None:
        visible |= Q(agent=agent) | Q(business_line__agents=agent)
    if is_supervisor(user=user):
        visible |= Q(business_line__isnull=False)
    return (
        CannedReply.objects.filter(visible).select_related("business_line").prefetch_related("attachments").distinct()
    )


def canned_replies_search(
    *, user: AbstractBaseUser | AnonymousUser, query: str = "", business_line_id: int | None = None
) -> list[CannedReply]:
    """Replies whose shortcut starts with `query`, or whose title or body holds it; personal ones first (an agent's
    own `/hi` comes before the line's), then by shortcut. `business_line_id` keeps the personal ones and those of
    that line (the conversation on screen)."""
    replies = canned_replies_visible(user=user)
    if business_line_id is not None:
        replies = replies.filter(Q(business_line__isnull=True) | Q(business_line_id=business_line_id))
    query = query.strip().lstrip("/")
    if query:
        replies = replies.filter(Q(shortcut__istartswith=query) | Q(title__icontains=query) | Q(body__icontains=query))
    return sorted(replies, key=lambda reply: (reply.agent_id is None, reply.shortcut, reply.pk))


def canned_reply_editable(*, user: AbstractBaseUser | AnonymousUser, reply: CannedReply) -> bool:
    """Personal replies by their owner; a line's by supervisors."""
    if reply.agent_id is not None:
        agent = agent_for_user(user=user)
        return agent is not None and agent.pk == reply.agent_id
    return is_supervisor(user=user)


VARIABLE = re.compile(r"\{([a-z_]+\.[a-z_]+)\}")


def canned_reply_variables(*, conversation: Conversation, agent: Agent) -> dict[str, str]:
    """What `{customer.name}` and the others stand for in this conversation, written by this agent."""
    customer = conversation.customer
    return {
        "customer.name": customer.name,
        "customer.email": customer.email,
        "customer.external_id": customer.external_id or "",
        "agent.name": agent.display_name,
        "business_line.name": conversation.business_line.name,
        "conversation.id": str(conversation.pk),
    }


def canned_reply_render(body: str, variables: dict[str, str]) -> str:
    """The body with its variables filled. A variable that is unknown, or empty here (a visitor with no name),
    stays as written, so the agent sees what is missing instead of sending a blank."""
    return VARIABLE.sub(lambda match: variables.get(match.group(1)) or match.group(0), body)


# Labels


def labels_of_line(*, business_line_id: int) -> list[Label]:
    return list(Label.objects.filter(business_line_id=business_line_id).order_by("name", "id"))


def labels_of_conversation(*, conversation_id: int) -> list[Label]:
    return list(Label.objects.filter(conversations__id=conversation_id).order_by("name", "id"))


def conversation_labels_frame(*, conversation_id: int) -> tuple[int, dict[str, Any]] | None:
    """The `conversation.labels` frame as committed, and the business line whose agents see the conversation now
    (after a transfer, the new line's); None when the conversation is gone."""
    business_line_id = (
        Conversation.objects.filter(id=conversation_id).values_list("business_line_id", flat=True).first()
    )
    if business_line_id is None:
        return None
    labels = [label_payload(label) for label in labels_of_conversation(conversation_id=conversation_id)]
    return business_line_id, {"type": "conversation.labels", "conversation_id": conversation_id, "labels": labels}


def conversation_for_agent(*, agent_id: int, conversation_id: int) -> Conversation | None:
    """A conversation of the agent's business lines, with its customer and line; None for any other."""
    return (
        visible_conversations(Participant(kind="agent", id=agent_id))
        .filter(id=conversation_id)
        .select_related("customer", "business_line", "agent")
        .first()
    )


# Customer notes


def customer_notes(*, agent_id: int, customer_id: int) -> list[CustomerNote] | None:
    """The notes on a customer the agent may see, newest first; None when the customer is not theirs to see."""
    if history_customer_for_agent(agent_id=agent_id, customer_id=customer_id) is None:
        return None
    return list(
        CustomerNote.objects.filter(customer_id=customer_id).select_related("author").order_by("-created_at", "-id")
    )


def customer_notes_frame(*, customer_id: int) -> tuple[list[int], dict[str, Any]]:
    """The `customer.notes` frame as committed (newest first), and the business lines whose agents may see the
    customer: theirs, and every line one of their conversations is in (transferred there)."""
    line_ids = set(Customer.objects.filter(id=customer_id).values_list("business_line_id", flat=True))
    line_ids.update(Conversation.objects.filter(customer_id=customer_id).values_list("business_line_id", flat=True))
    notes = CustomerNote.objects.filter(customer_id=customer_id).select_related("author").order_by("-created_at", "-id")
    frame = {"type": "customer.notes", "customer_id": customer_id, "notes": [note_payload(note) for note in notes]}
    return sorted(line_ids), frame


# Search

CJK_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]+")
SEARCH_LIMIT = 50
# The indexed expressions of desk/migrations/0002_search.py, word for word.
MESSAGE_VECTOR = "desk_search_vector(m.body)"
MESSAGE_INDEXED = "m.sender <> 'system'"
CUSTOMER_TEXT = "(cu.name || ' ' || cu.email || ' ' || coalesce(cu.external_id, ''))"
CUSTOMER_VECTOR = f"desk_search_vector{CUSTOMER_TEXT}"


@dataclass(frozen=True)
class SearchQuery:
    """A query as PostgreSQL reads it: a tsquery, and the runs of CJK text each match must hold as written."""

    tsquery: str
    cjk_runs: tuple[str, ...]


def _quoted(lexeme: str) -> str:
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def search_query_parse(text: str) -> SearchQuery | None:
    """Words become prefixes (`refun` finds `refund`); a run of CJK characters becomes its bigrams, all required,
    and must appear as written (the bigrams alone do not keep their order); one CJK character is a prefix of the
    bigrams it starts. None when nothing is left to look for."""
    terms: list[str] = []
    runs = tuple(run.lower() for run in CJK_RUN.findall(text))
    for run in runs:
        if len(run) == 1:
            terms.append(_quoted(run) + ":*")
        else:
            terms.extend(_quoted(run[i : i + 2]) for i in range(len(run) - 1))
    for word in CJK_RUN.sub(" ", text).split():
        word = word.strip("&|!():*<>'\\")
        if word:
            terms.append(_quoted(word.lower()) + ":*")
    if not terms:
        return None
    return SearchQuery(tsquery=" & ".join(terms), cjk_runs=runs)


@dataclass(frozen=True)
class SearchHit:
    conversation: Conversation
    snippet: str


def conversations_search(*, agent_id: int, query: SearchQuery, limit: int = SEARCH_LIMIT) -> list[SearchHit]:
    """The newest conversations of the agent's business lines whose customer (name, email, external id) or any
    message (internal notes included, system events not) matches, each with its first matching message.

    One statement: the GIN indexes give the matching messages and customers, the agent's lines filter them.
    """
    message_match = f"{MESSAGE_INDEXED} AND {MESSAGE_VECTOR} @@ to_tsquery('simple', %(q)s)"
    customer_match = f"{CUSTOMER_VECTOR} @@ to_tsquery('simple', %(q)s)"
    params: dict[str, str | int | list[int]] = {"q": query.tsquery, "agent_id": agent_id, "limit": limit}
    for n, run in enumerate(query.cjk_runs):
        params[f"run{n}"] = run
        message_match += f" AND strpos(lower(m.body), %(run{n})s) > 0"
        customer_match += f" AND strpos(lower{CUSTOMER_TEXT}, %(run{n})s) > 0"
    sql = f"""
        SELECT c.id FROM chat_conversation c
        WHERE c.business_line_id IN
                (SELECT businessline_id FROM agents_agent_business_lines WHERE agent_id = %(agent_id)s)
          AND (c.id IN (SELECT m.conversation_id FROM chat_message m WHERE {message_match})
               OR c.customer_id IN (SELECT cu.id FROM customers_customer cu WHERE {customer_match}))
        ORDER BY c.started_at DESC, c.id DESC
        LIMIT %(limit)s
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        ids = [row[0] for row in cursor.fetchall()]
        if not ids:
            return []
        cursor.execute(
            f"""SELECT DISTINCT ON (m.conversation_id) m.conversation_id, m.body FROM chat_message m
                WHERE m.conversation_id = ANY(%(ids)s) AND {message_match}
                ORDER BY m.conversation_id, m.seq""",
            {**params, "ids": ids},
        )
        snippets = dict(cursor.fetchall())
    conversations = Conversation.objects.select_related("customer", "business_line", "agent").in_bulk(ids)
    return [SearchHit(conversation=conversations[i], snippet=snippets.get(i, "")) for i in ids]
