"""Prometheus metrics: `GET /metrics` (who may read it, what it says) and the figures the product counts."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from datetime import timedelta

import pytest
import redis
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from chat import services
from cs_platform.celery import app as celery_app
from routing.services import assignment_run
from tests.factories import AgentFactory, BusinessLineFactory, ConversationFactory, CustomerFactory
from tests.routing.helpers import agent_in, routing_keys_clear
from tests.test_consumers import SHOP, customer_socket, expect, start

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@celery_app.task(name="tests.test_metrics.always_fails")
def always_fails() -> None:
    raise RuntimeError("this task always fails")


def seconds_ago(seconds: float):
    return timezone.now() - timedelta(seconds=seconds)


def a_customer():
    return CustomerFactory(business_line=BusinessLineFactory(allowed_origins=SHOP, greeting="Welcome!"))


def scrape(**request: str) -> Samples:
    """Every sample `GET /metrics` serves, as Prometheus would read it."""
    response = Client().get("/metrics", **request)
    assert response.status_code == 200, response.content
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture(autouse=True)
def presence_keys_cleared() -> Iterator[None]:
    yield
    routing_keys_clear()


@pytest.mark.django_db
def test_metrics_answers_loopback_with_the_queue_of_every_business_line(client):
    # given a line with two waiting conversations, the older one waiting for 90 s, and one agent online
    line = BusinessLineFactory(key="sales")
    quiet = BusinessLineFactory(key="quiet")
    ConversationFactory(customer=CustomerFactory(business_line=line), waiting_since=seconds_ago(90))
    ConversationFactory(customer=CustomerFactory(business_line=line))
    agent_in(line)
    AgentFactory(business_lines=[line])  # offline: not available

    # when Prometheus scrapes from loopback (Django's test client is 127.0.0.1)
    response = client.get("/metrics")

    # then
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    samples = scrape()
    assert value(samples, "cs_queue_waiting", business_line="sales") == 2
    assert value(samples, "cs_queue_longest_wait_seconds", business_line="sales") >= 90
    assert value(samples, "cs_agents_available", business_line="sales") == 1
    assert ("cs_queue_waiting", (("business_line", quiet.key),)) in samples
    assert value(samples, "cs_queue_longest_wait_seconds", business_line="quiet") == 0


@pytest.mark.django_db
def test_metrics_are_refused_to_an_address_not_allowed(client):
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.7")

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert b"cs_" not in response.content


@pytest.mark.django_db
def test_metrics_token_lets_a_scraper_in_from_anywhere(client, settings):
    settings.METRICS_TOKEN = "scrape-secret"

    allowed = client.get("/metrics", REMOTE_ADDR="203.0.113.7", HTTP_AUTHORIZATION="Bearer scrape-secret")
    wrong = client.get("/metrics", REMOTE_ADDR="203.0.113.7", HTTP_AUTHORIZATION="Bearer scrape-secreT")
    missing = client.get("/metrics", REMOTE_ADDR="203.0.113.7")

    assert allowed.status_code == 200 and b"cs_queue_waiting" in allowed.content
    assert wrong.status_code == 403
    assert missing.status_code == 403


@pytest.mark.django_db
def test_allowed_addresses_may_be_networks(client, settings):
    settings.METRICS_ALLOWED_IPS = [ipaddress.ip_network("10.0.0.0/8")]

    assert client.get("/metrics", REMOTE_ADDR="10.20.30.40").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="::ffff:10.1.1.1").status_code == 200


@pytest.mark.django_db(transaction=True)
async def test_a_message_send_moves_the_socket_frame_and_message_figures():
    # given a customer's socket in a conversation
    customer = await database_sync_to_async(a_customer)()
    before = await sync_to_async(scrape)()
    socket = await customer_socket(customer)
    conversation = await start(socket)
    opened = await sync_to_async(scrape)()

    # when it sends a message
    await socket.send_json_to(
        {"type": "message.send", "conversation_id": conversation["id"], "client_msg_id": "m1", "body": "hello"}
    )
    await expect(socket, "message.ack")
    await socket.send_json_to({"type": "no.such.frame"})
    await expect(socket, "error")
    sent = await sync_to_async(scrape)()
    await socket.disconnect()
    closed = await sync_to_async(scrape)()

    # then
    def moved(name: str, **labels: str) -> float:
        return value(sent, name, **labels) - value(before, name, **labels)

    assert value(opened, "cs_open_sockets", role="customer") == value(before, "cs_open_sockets", role="customer") + 1
    assert value(closed, "cs_open_sockets", role="customer") == value(before, "cs_open_sockets", role="customer")
    assert moved("cs_frames_received_total", role="customer", type="message.send") == 1
    assert moved("cs_frames_received_total", role="customer", type="conversation.start") == 1
    assert moved("cs_frames_received_total", role="customer", type="unknown") == 1
    assert moved("cs_frames_sent_total", role="customer", type="message.ack") == 1
    assert moved("cs_frames_sent_total", role="customer", type="hello") == 1
    assert moved("cs_error_frames_total", role="customer", code="unknown_type") == 1
    assert moved("cs_messages_stored_total", sender="customer") == 1
    assert moved("cs_messages_stored_total", sender="system") == 1  # the greeting
    assert moved("cs_message_send_seconds_count", role="customer") == 1
    assert moved("cs_message_send_seconds_sum", role="customer") > 0


@pytest.mark.django_db
def test_an_assignment_is_timed_from_when_the_conversation_began_to_wait(django_capture_on_commit_callbacks):
    # given a conversation waiting for 40 s and an agent with room
    line = BusinessLineFactory(key="support")
    ConversationFactory(customer=CustomerFactory(business_line=line), waiting_since=seconds_ago(40))
    agent_in(line)
    before = scrape()

    # when routing assigns it
    with django_capture_on_commit_callbacks(execute=True):
        assert len(assignment_run(business_line_id=line.id)) == 1

    # then
    after = scrape()
    assert value(after, "cs_assignment_wait_seconds_count", business_line="support") == 1 + value(
        before, "cs_assignment_wait_seconds_count", business_line="support"
    )
    waited = value(after, "cs_assignment_wait_seconds_sum", business_line="support") - value(
        before, "cs_assignment_wait_seconds_sum", business_line="support"
    )
    assert 40 <= waited < 3600
    assert value(after, "cs_assignment_wait_seconds_bucket", business_line="support", le="30.0") == value(
        before, "cs_assignment_wait_seconds_bucket", business_line="support", le="30.0"
    )


@pytest.mark.django_db
def test_a_failing_celery_task_is_counted_by_name():
    before = value(scrape(), "cs_task_failures_total", task="tests.test_metrics.always_fails")

    result = always_fails.delay()

    assert result.failed()
    after = value(scrape(), "cs_task_failures_total", task="tests.test_metrics.always_fails")
    assert after == before + 1


@pytest.mark.django_db
def test_a_health_check_that_finds_redis_down_counts_a_redis_error(client, settings, throwaway_redis):
    settings.REDIS_URL = throwaway_redis.url
    throwaway_redis.stop()
    before = value(scrape(), "cs_redis_errors_total", where="health")

    assert client.get("/healthz").status_code == 503

    assert value(scrape(), "cs_redis_errors_total", where="health") == before + 1


@pytest.mark.django_db(transaction=True)
async def test_a_frame_that_fails_on_redis_counts_a_redis_error_and_an_internal_error_frame(monkeypatch):
    # given a customer whose next message meets a Redis failure
    customer = await database_sync_to_async(a_customer)()
    socket = await customer_socket(customer)
    conversation = await start(socket)

    def redis_gone(**kwargs):
        raise redis.ConnectionError("Redis went away")

    monkeypatch.setattr(services, "message_send", redis_gone)
    before = await sync_to_async(scrape)()

    # when
    await socket.send_json_to(
        {"type": "message.send", "conversation_id": conversation["id"], "client_msg_id": "m1", "body": "hello"}
    )
    error = await expect(socket, "error")
    after = await sync_to_async(scrape)()
    await socket.disconnect()

    # then
    assert error["code"] == "internal_error"
    assert value(after, "cs_redis_errors_total", where="consumer") == 1 + value(
        before, "cs_redis_errors_total", where="consumer"
    )
    assert value(after, "cs_error_frames_total", role="customer", code="internal_error") == 1 + value(
        before, "cs_error_frames_total", role="customer", code="internal_error"
    )
    assert value(after, "cs_internal_errors_total", where="consumer") == value(
        before, "cs_internal_errors_total", where="consumer"
    )
