"""Celery interface of routing: load ids, call a service. Every task is idempotent and safe to run twice.

Also the listeners that request a run: `chat.hooks` calls them after a change commits (`RoutingConfig.ready()`
registers them), and they enqueue `line_changed` unless a run of the line is already pending.
"""

import logging

from celery import shared_task

from cs_platform import metrics
from routing.selectors import agent_business_line_ids
from routing.services import line_changed_run, line_run_pending_set, routing_sweep

logger = logging.getLogger(__name__)


@shared_task(name="routing.tasks.line_changed", acks_late=True, ignore_result=True)
def line_changed(business_line_id: int) -> None:
    line_changed_run(business_line_id=business_line_id)


@shared_task(name="routing.tasks.sweep", acks_late=True, ignore_result=True)
def sweep() -> None:
    routing_sweep()


def line_changed_request(business_line_id: int) -> None:
    """A business line's queue changed: run the rule and update positions, once per burst of changes.

    A failure here (Redis, the broker) is logged, never raised: the change is committed, and the sweep does the work.
    """
    try:
        if line_run_pending_set(business_line_id=business_line_id):
            line_changed.delay(business_line_id)
    except Exception as error:
        logger.exception("could not enqueue routing for business line %s; the sweep will", business_line_id)
        metrics.error_caught("routing", error)


def agent_free_request(agent_id: int) -> None:
    """An agent's slot opened: every business line of theirs may now assign, not only the chat's own."""
    for business_line_id in agent_business_line_ids(agent_id=agent_id):
        line_changed_request(business_line_id)
