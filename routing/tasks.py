"""Celery interface of routing: load ids, call a service. Every task is idempotent and safe to run twice."""

from celery import shared_task

from routing.services import line_changed_run, routing_sweep


@shared_task(name="routing.tasks.line_changed", acks_late=True, ignore_result=True)
def line_changed(business_line_id: int) -> None:
    line_changed_run(business_line_id=business_line_id)


@shared_task(name="routing.tasks.sweep", acks_late=True, ignore_result=True)
def sweep() -> None:
    routing_sweep()
