"""When the supervisors' monitor should be read again: after every committed change chat announces.

Listeners of `chat.hooks` (registered in `ReportsConfig.ready()`): a queue, a conversation's status, agent or line,
an agent's free slot, presence or connection changed. Each publishes one hint with no data to the supervisors'
group; every supervisor socket on every worker then reads `reports.selectors.floor_live` again, at most once per
`MONITOR_PUSH_INTERVAL` (docs/protocol.md, "Supervisors"). Messages need no hint: a supervisor socket listens to
the conversations it shows.
"""

from __future__ import annotations

from typing import Any

from chat import events

SUPERVISORS_GROUP = "supervisors"


def floor_changed_event() -> dict[str, Any]:
    return {"type": "floor.changed"}


def floor_changed_publish(_object_id: int) -> None:
    """A listener of every hook: the id does not matter, the socket reads every line again."""
    events.publish(SUPERVISORS_GROUP, floor_changed_event())
