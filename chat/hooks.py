"""What a conversation's life announces to whoever decides what happens next, once the change has committed.

Chat owns every status change (`chat.lifecycle`) but not the policy around it: who gets a waiting conversation
and when, where it stands in the queue. Routing holds that, and depends on chat, never the reverse; so chat says
what changed through these hooks, and routing registers its listeners in `RoutingConfig.ready()`:

- the queue of business line L changed (a conversation started, waits again, left it, moved line);
- agent A has a free slot (a conversation of theirs ended or moved on, they came online or got a live socket,
  their capacity or team changed);
- conversation C changed (status, agent or line): its sockets should hear its state;
- agent A's presence or connection changed (they chose a status, got their first live socket, lost their last):
  the supervisors' monitor shows it;
- a customer left message M (`conversation.leave_message`): notifications emails it to the line's inbox;
- an agent answered conversation C, missed or a left message before: notifications emails the answer to a
  customer who has left.

Each announcement runs its listeners after the current transaction commits (at once outside one), in the order
announced, so nobody acts on a change that rolls back. Not Django signals: the calls are explicit at the place of
the change, and a listener is a plain function of an id.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from django.db import transaction

Listener = Callable[[int], None]

_queue_changed: list[Listener] = []
_agent_free: list[Listener] = []
_conversation_changed: list[Listener] = []
_agent_changed: list[Listener] = []
_message_left: list[Listener] = []
_missed_answered: list[Listener] = []


def on_queue_changed(listener: Listener) -> Listener:
    """Call `listener(business_line_id)` after every committed change to a business line's waiting queue."""
    _register(_queue_changed, listener)
    return listener


def on_agent_free(listener: Listener) -> Listener:
    """Call `listener(agent_id)` after every committed change that may give an agent a free slot."""
    _register(_agent_free, listener)
    return listener


def on_conversation_changed(listener: Listener) -> Listener:
    """Call `listener(conversation_id)` after every committed change of a conversation's status, agent or line."""
    _register(_conversation_changed, listener)
    return listener


def on_agent_changed(listener: Listener) -> Listener:
    """Call `listener(agent_id)` after every committed change of an agent's presence or live connection."""
    _register(_agent_changed, listener)
    return listener


def on_message_left(listener: Listener) -> Listener:
    """Call `listener(message_id)` after a customer's left message (`conversation.leave_message`) committed."""
    _register(_message_left, listener)
    return listener


def on_missed_answered(listener: Listener) -> Listener:
    """Call `listener(conversation_id)` after an agent's message (no internal note) committed in a conversation
    that was missed or is a left message."""
    _register(_missed_answered, listener)
    return listener


def queue_changed(*, business_line_id: int) -> None:
    _announce(_queue_changed, business_line_id)


def agent_free(*, agent_id: int) -> None:
    _announce(_agent_free, agent_id)


def conversation_changed(*, conversation_id: int) -> None:
    _announce(_conversation_changed, conversation_id)


def agent_changed(*, agent_id: int) -> None:
    _announce(_agent_changed, agent_id)


def message_left(*, message_id: int) -> None:
    _announce(_message_left, message_id)


def missed_answered(*, conversation_id: int) -> None:
    _announce(_missed_answered, conversation_id)


def _register(listeners: list[Listener], listener: Listener) -> None:
    # `ready()` may run more than once (tests that reload apps): a listener is registered once.
    if listener not in listeners:
        listeners.append(listener)


def _announce(listeners: list[Listener], object_id: int) -> None:
    for listener in listeners:
        transaction.on_commit(partial(listener, object_id))
