"""Logs as JSON lines (`LOG_FORMAT=json`), each carrying who it is about: conversation, agent, customer, task."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import os
import socket as sockets
from collections.abc import Iterator

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from cs_platform import logcontext
from cs_platform.celery import app as celery_app
from cs_platform.logcontext import logging_config
from tests.factories import AgentFactory, BusinessLineFactory, CustomerFactory
from tests.test_consumers import SHOP, agent_socket, customer_socket, expect, start

task_logger = logging.getLogger("tests.test_logcontext")


@celery_app.task(name="tests.test_logcontext.says_hello")
def says_hello() -> None:
    task_logger.info("hello from a task")


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """The process logs as `LOG_FORMAT=json` configures it, into a buffer; the settings' logging afterwards."""
    logging.config.dictConfig(logging_config(log_format="json", level="INFO"))
    buffer = io.StringIO()
    (handler,) = logging.getLogger().handlers
    handler.setStream(buffer)
    yield buffer
    logging.config.dictConfig(settings.LOGGING)


def records(buffer: io.StringIO) -> list[dict]:
    """Every line parses as a JSON object with the context fields present."""
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    for line in lines:
        assert {"time", "level", "logger", "message", "worker", *logcontext.FIELDS} <= line.keys(), line
    return lines


def one(lines: list[dict], message_start: str) -> dict:
    (found,) = [line for line in lines if line["message"].startswith(message_start)]
    return found


@pytest.mark.django_db(transaction=True)
async def test_a_line_logged_while_a_customer_frame_is_handled_carries_its_ids(json_lines):
    # given a customer's socket in a conversation
    customer = await database_sync_to_async(CustomerFactory)(
        business_line=await database_sync_to_async(BusinessLineFactory)(allowed_origins=SHOP)
    )
    socket = await customer_socket(customer)
    conversation = await start(socket)

    # when a frame is handled that logs (the service, in the worker's database thread)
    await socket.send_json_to({"type": "conversation.close", "conversation_id": conversation["id"]})
    await expect(socket, "conversation.state", where=lambda frame: frame["conversation"]["status"] == "closed")
    await socket.disconnect()

    # then
    closed = one(records(json_lines), f"conversation {conversation['id']} closed by customer")
    assert closed["conversation_id"] == conversation["id"]
    assert closed["customer_id"] == customer.id
    assert closed["agent_id"] is None
    assert closed["worker"] == f"{sockets.gethostname()}:{os.getpid()}"
    assert closed["level"] == "INFO" and closed["logger"] == "chat.lifecycle"


@pytest.mark.django_db(transaction=True)
async def test_lines_of_an_agent_frame_and_of_the_routing_task_it_ran_carry_the_agent_and_the_task(json_lines):
    # given a customer waiting and an agent's socket of that line
    line = await database_sync_to_async(BusinessLineFactory)(allowed_origins=SHOP)
    customer = await database_sync_to_async(CustomerFactory)(business_line=line)
    agent = await database_sync_to_async(AgentFactory)(business_lines=[line])
    customer_ws = await customer_socket(customer)
    conversation = await start(customer_ws)
    agent_ws = await agent_socket(agent)

    # when the agent goes online, and routing (a Celery task, run inline here) assigns the conversation
    await agent_ws.send_json_to({"type": "presence.set", "status": "online"})
    await expect(agent_ws, "conversation.assigned")
    await agent_ws.send_json_to({"type": "conversation.close", "conversation_id": conversation["id"]})
    await expect(agent_ws, "conversation.state", where=lambda frame: frame["conversation"]["status"] == "closed")
    await customer_ws.disconnect()
    await agent_ws.disconnect()

    # then
    lines = records(json_lines)
    assigned = one(lines, f"conversation {conversation['id']} assigned to agent {agent.id}")
    assert assigned["agent_id"] == agent.id
    assert assigned["task"] == "routing.tasks.line_changed"
    closed = one(lines, f"conversation {conversation['id']} closed by agent")
    assert closed["agent_id"] == agent.id and closed["conversation_id"] == conversation["id"]
    assert closed["task"] is None


def test_a_celery_task_binds_its_name_while_it_runs(json_lines):
    says_hello.delay()
    task_logger.info("after the task")

    lines = records(json_lines)
    assert one(lines, "hello from a task")["task"] == "tests.test_logcontext.says_hello"
    assert one(lines, "after the task")["task"] is None


def test_extra_fields_given_by_the_caller_win_over_the_context(json_lines):
    token = logcontext.bind(conversation_id=5, agent_id=7)
    try:
        task_logger.info("about another conversation", extra={"conversation_id": 6})
    finally:
        logcontext.reset(token)
    task_logger.info("outside")

    lines = records(json_lines)
    inside = one(lines, "about another conversation")
    assert (inside["conversation_id"], inside["agent_id"]) == (6, 7)
    outside = one(lines, "outside")
    assert (outside["conversation_id"], outside["agent_id"]) == (None, None)


def test_an_unknown_log_format_is_refused():
    with pytest.raises(ImproperlyConfigured):
        logging_config(log_format="xml", level="INFO")
