"""Row locks: every `SELECT ... FOR UPDATE` of the product is taken here, in one order, checked as it is taken.

The order is **customer -> conversation -> agent**, and within agents by ascending id:

- a customer's row serialises what spans their conversations (a left message, an erasure), which then lock those
  conversations;
- an assigner takes a conversation (`SKIP LOCKED`), then locks the candidate agents to count their load under the
  lock; a transfer locks its conversation, then the agent it goes to;
- agents are locked in id order, so two assigners wanting overlapping agents wait for each other instead of
  deadlocking.

Several conversations are locked in one transaction only under their customer's lock, in id order, or with
`SKIP LOCKED` (which never waits). A row already held may be locked again at any point: the sequence statement
(`chat.services._append`) re-locks the conversation it appends to. Business lines are never row-locked (queue
positions use a Redis lock per line). Writes touch only rows locked here or created in the same transaction.

Locks are taken inside `locks.transaction()`, which tracks what the transaction holds: a lock out of order raises
`LockOrderError` (a bug that would deadlock under load) instead of waiting for the day two workers collide.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import IntEnum
from typing import cast

from django.db import transaction as db_transaction
from django.db.models import QuerySet

from agents.models import Agent
from chat.models import Conversation
from chat.permissions import Participant, require_conversation_id
from chat.permissions import conversation_for as _visible_conversation
from customers.models import Customer


class LockKind(IntEnum):
    """The kinds of row locked, in the order they are locked."""

    CUSTOMER = 1
    CONVERSATION = 2
    AGENT = 3


class LockOrderError(RuntimeError):
    """A row lock taken against the order: a deadlock waiting to happen, so it is refused."""


@dataclass
class _Held:
    """The rows one transaction has locked; `committed` once it has, while its on-commit callbacks run."""

    rows: dict[LockKind, set[int]] = field(default_factory=lambda: {kind: set() for kind in LockKind})
    committed: bool = False

    def commit(self) -> None:
        self.committed = True


_held_var: ContextVar[_Held | None] = ContextVar("row_locks_held", default=None)


def _held_now() -> _Held | None:
    held = _held_var.get()
    return None if held is None or held.committed else held


@contextmanager
def transaction() -> Iterator[None]:
    """A transaction whose row locks are checked against the order; nested, a savepoint that shares the check.

    The locks are gone at commit, so what its on-commit callbacks do (a task run inline) starts afresh.
    """
    if _held_now() is not None:
        with db_transaction.atomic():
            yield
        return
    held = _Held()
    token = _held_var.set(held)
    try:
        with db_transaction.atomic():
            db_transaction.on_commit(held.commit)
            yield
    finally:
        _held_var.reset(token)


def _take(kind: LockKind, ids: Collection[int] | None, *, skip_locked: bool = False, ordered: bool = True) -> None:
    """Check a lock on rows `ids` of `kind` (None: not known before the query) against what is held; record it.

    `ordered=False` for rows whose order the parent's lock makes irrelevant (a customer's conversations).
    """
    held = _held_now()
    if held is None:
        raise LockOrderError(f"{kind.name.lower()} rows are locked inside chat.locks.transaction() only")
    fresh = None if ids is None else set(ids) - held.rows[kind]
    if fresh is not None and not fresh:
        return
    later = [other.name.lower() for other in LockKind if other > kind and held.rows[other]]
    if later:
        raise LockOrderError(f"{kind.name.lower()} locked after {', '.join(later)}: the order is {_ORDER}")
    if fresh and ordered and not skip_locked and held.rows[kind] and min(fresh) < max(held.rows[kind]):
        raise LockOrderError(f"{kind.name.lower()} {min(fresh)} locked after {max(held.rows[kind])}: ids ascend")
    if fresh:
        held.rows[kind] |= fresh


def _require_customer_held(customer_id: int) -> None:
    held = _held_now()
    if held is None or customer_id not in held.rows[LockKind.CUSTOMER]:
        raise LockOrderError(f"customer {customer_id}'s conversations are locked under the customer's lock only")


_ORDER = "customer -> conversation -> agent (agents by id)"


def require_held(*, conversation_id: int, agent_id: int | None = None) -> None:
    """For a change whose caller must hold the rows (`chat.lifecycle`): refuse it when they are not locked."""
    held = _held_now()
    missing = []
    if held is None or conversation_id not in held.rows[LockKind.CONVERSATION]:
        missing.append(f"conversation {conversation_id}")
    if agent_id is not None and (held is None or agent_id not in held.rows[LockKind.AGENT]):
        missing.append(f"agent {agent_id}")
    if missing:
        raise LockOrderError(f"{' and '.join(missing)} must be locked (chat.locks) before this change")


# Customers


def customer(*, customer_id: int) -> Customer | None:
    """Lock a customer's row: what spans their conversations (a left message, an erasure) goes one at a time."""
    _take(LockKind.CUSTOMER, [customer_id])
    return Customer.objects.select_for_update().filter(id=customer_id).first()


def customer_first(customers: QuerySet[Customer]) -> Customer | None:
    """Lock the first customer of `customers` (a visitor becoming an identified customer)."""
    _take(LockKind.CUSTOMER, None)
    found = customers.select_for_update().first()
    if found is not None:
        _take(LockKind.CUSTOMER, [found.id])
    return found


def customer_ids_skip_locked(customers: QuerySet[Customer], *, limit: int) -> list[int]:
    """Lock up to `limit` of `customers` that nobody else holds (a batch of a sweep); their ids."""
    _take(LockKind.CUSTOMER, None, skip_locked=True)
    ids = list(customers.select_for_update(skip_locked=True).values_list("id", flat=True)[:limit])
    _take(LockKind.CUSTOMER, ids, skip_locked=True)
    return ids


# Conversations


def conversation_for(participant: Participant, conversation_id: object) -> Conversation:
    """Lock a conversation the participant may see (`not_found` otherwise): the permission rule and the lock in
    one statement."""
    require_conversation_id(conversation_id)
    _take(LockKind.CONVERSATION, [cast(int, conversation_id)])
    return _visible_conversation(participant, conversation_id, for_update=True)


def conversation_first(conversations: QuerySet[Conversation], *, skip_locked: bool = False) -> Conversation | None:
    """Lock the first of `conversations`: the head of a queue, or an overdue one, skipping rows others hold."""
    _take(LockKind.CONVERSATION, None, skip_locked=skip_locked)
    found = conversations.select_for_update(skip_locked=skip_locked).first()
    if found is not None:
        _take(LockKind.CONVERSATION, [found.id], skip_locked=skip_locked)
    return found


def customer_conversation(conversations: QuerySet[Conversation], *, customer_id: int) -> Conversation | None:
    """Lock the first of the customer's `conversations`, under the customer's lock (taken first)."""
    _require_customer_held(customer_id)
    _take(LockKind.CONVERSATION, None, ordered=False)
    found = conversations.select_for_update(of=("self",)).filter(customer_id=customer_id).first()
    if found is not None:
        _take(LockKind.CONVERSATION, [found.id], ordered=False)
    return found


def customer_conversations(*, customer_id: int) -> list[Conversation]:
    """Lock every conversation of the customer, in id order, under the customer's lock (taken first)."""
    _require_customer_held(customer_id)
    _take(LockKind.CONVERSATION, None, ordered=False)
    conversations = list(Conversation.objects.select_for_update().filter(customer_id=customer_id).order_by("id"))
    _take(LockKind.CONVERSATION, [conversation.id for conversation in conversations], ordered=False)
    return conversations


def conversation_ids_skip_locked(conversations: QuerySet[Conversation], *, limit: int) -> list[int]:
    """Lock up to `limit` of `conversations` that nobody else holds (a batch of a sweep); their ids."""
    _take(LockKind.CONVERSATION, None, skip_locked=True)
    ids = list(conversations.select_for_update(skip_locked=True).values_list("id", flat=True)[:limit])
    _take(LockKind.CONVERSATION, ids, skip_locked=True)
    return ids


def conversation_locked_by_statement(conversation_id: int) -> None:
    """The caller's own statement locks this conversation (the sequence rule's one statement): check the order.

    Outside `locks.transaction()` the statement runs on its own (a chat message), holding nothing else.
    """
    if _held_now() is not None:
        _take(LockKind.CONVERSATION, [conversation_id])


# Agents


def agents(agent_ids: Collection[int]) -> list[Agent]:
    """Lock the agents, in id order (the order two assigners agree on); those that exist."""
    _take(LockKind.AGENT, agent_ids)
    return list(Agent.objects.select_for_update().filter(id__in=list(agent_ids)).order_by("id"))


def agent(*, agent_id: int) -> Agent:
    """Lock one agent's row (a presence change)."""
    _take(LockKind.AGENT, [agent_id])
    return Agent.objects.select_for_update().get(id=agent_id)
