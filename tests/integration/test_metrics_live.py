"""Metrics of real processes: each Daphne worker's `GET /metrics`, and the Celery worker's port, which sums the
figures of its prefork pool's processes (prometheus-client's multiprocess mode, cs_platform/celery_signals.py)."""

from __future__ import annotations

import time

import pytest
from celery import Celery
from prometheus_client.parser import text_string_to_metric_families

from cs_platform.stack import http_json
from tests.integration.chatflows import make_team, open_chat, play, send_message
from tests.integration.wsclient import Clients

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str) -> Samples:
    status, text = http_json("GET", url)
    assert status == 200, text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def scrape_until(url: str, name: str, at_least: float, **labels: str) -> Samples:
    """Scrapes until the sample reaches `at_least` (the task runs in another process), at most for 20 s."""
    deadline = time.monotonic() + 20
    while True:
        samples = scrape(url)
        if value(samples, name, **labels) >= at_least or time.monotonic() > deadline:
            return samples
        time.sleep(0.2)


def test_each_web_worker_serves_its_own_sockets_and_messages(workers):
    worker1, worker2 = workers
    team = make_team(worker1)
    before = [scrape(f"{worker.url}/metrics") for worker in workers]

    async def scenario():
        async with Clients() as clients:
            # Given a chat with the customer on worker 1 and the agent on worker 2
            chat = await open_chat(clients, worker1, worker2, team)
            # When the customer writes
            await send_message(chat.customer, chat.conversation_id, "Where is my parcel?")
            # Then each worker counts the sockets it holds and the frames and messages it handled
            return [scrape(f"{worker.url}/metrics") for worker in workers]

    during = play(scenario())

    def moved(index: int, name: str, **labels: str) -> float:
        return value(during[index], name, **labels) - value(before[index], name, **labels)

    assert moved(0, "cs_open_sockets", role="customer") == 1
    assert moved(1, "cs_open_sockets", role="agent") == 1
    assert moved(0, "cs_open_sockets", role="agent") == 0
    assert moved(0, "cs_frames_received_total", role="customer", type="message.send") == 1
    assert moved(0, "cs_messages_stored_total", sender="customer") == 1
    assert moved(0, "cs_message_send_seconds_count", role="customer") == 1
    assert moved(1, "cs_frames_sent_total", role="agent", type="conversation.assigned") >= 1
    assert value(during[0], "cs_queue_waiting", business_line=team.line.key) == 0
    assert value(during[0], "cs_agents_available", business_line=team.line.key) == 1


def test_the_celery_worker_sums_its_pool_processes(workers, live_processes):
    worker1, worker2 = workers
    (celery_worker,) = live_processes.celery
    team = make_team(worker1)
    before = scrape(celery_worker.metrics_url)

    # Given an assignment made by routing in the Celery worker
    async def scenario():
        async with Clients() as clients:
            await open_chat(clients, worker1, worker2, team)

    play(scenario())
    # When tasks fail in its pool
    prefix = celery_worker.env["REDIS_PREFIX"]
    producer = Celery(broker=celery_worker.env["REDIS_URL"])
    producer.conf.broker_transport_options = {"global_keyprefix": f"{prefix}:celery:"}
    failures = value(before, "cs_task_failures_total", task="routing.tasks.line_changed")
    try:
        for _ in range(4):
            producer.send_task("routing.tasks.line_changed", args=["not-a-line"], queue=f"{prefix}-default")
    finally:
        producer.close()

    # Then its port reports them all, and the assignment, whichever pool process ran them
    after = scrape_until(
        celery_worker.metrics_url, "cs_task_failures_total", failures + 4, task="routing.tasks.line_changed"
    )
    assert value(after, "cs_task_failures_total", task="routing.tasks.line_changed") == failures + 4
    assert value(after, "cs_assignment_wait_seconds_count", business_line=team.line.key) == 1
