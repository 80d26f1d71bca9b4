"""`call_and_publish`: a socket's service call publishes what it committed, from the event loop, and nothing else."""

import asyncio

import pytest
from channels.layers import get_channel_layer
from django.db import connection, transaction

from chat import events

pytestmark = [pytest.mark.django_db(transaction=True)]


async def listening(group):
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(group, channel)
    return layer, channel


async def received(layer, channel, timeout=0.5):
    try:
        return await asyncio.wait_for(layer.receive(channel), timeout)
    except TimeoutError:
        return None


async def test_committed_events_are_published_once_the_call_returns():
    layer, channel = await listening("conv.1")
    published_inside = []

    def service():
        with transaction.atomic():
            events.publish_on_commit("conv.1", events.frame_event({"type": "note", "n": 1}))
        events.publish("conv.1", events.frame_event({"type": "note", "n": 2}))
        published_inside.append(events._outbox.get() is not None)
        return "done"

    assert await events.call_and_publish(service) == "done"
    assert published_inside == [True]
    first, second = await received(layer, channel), await received(layer, channel)
    assert [first["frame"]["n"], second["frame"]["n"]] == [1, 2]
    assert await received(layer, channel) is None


async def test_a_rolled_back_transaction_publishes_nothing_and_the_error_reaches_the_caller():
    layer, channel = await listening("conv.2")

    def service():
        events.publish_on_commit("conv.2", events.frame_event({"type": "note", "n": "committed"}))
        with transaction.atomic():
            events.publish_on_commit("conv.2", events.frame_event({"type": "note", "n": "rolled back"}))
            raise ValueError("refused")

    with pytest.raises(ValueError):
        await events.call_and_publish(service)
    # What was committed before the error still goes out; what rolled back never does.
    event = await received(layer, channel)
    assert event["frame"]["n"] == "committed"
    assert await received(layer, channel) is None


async def test_outside_a_socket_call_events_leave_at_once():
    layer, channel = await listening("conv.3")

    def task():
        assert events._outbox.get() is None
        try:
            with transaction.atomic():
                events.publish_on_commit("conv.3", events.frame_event({"type": "note", "n": 3}))
        finally:
            connection.close()

    await asyncio.get_running_loop().run_in_executor(None, task)
    event = await received(layer, channel, timeout=2)
    assert event["frame"]["n"] == 3
