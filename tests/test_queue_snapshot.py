"""The agents' queue: `queue.snapshot` after `hello`, again after each change (coalesced), and a pick seen by all."""

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from chat import lifecycle
from chat.events import agent_group, frame_event, line_agents_group
from routing.selectors import agent_queue_snapshot
from tests.factories import AgentFactory, BusinessLineFactory, CustomerFactory
from tests.test_consumers import agent_online, agent_path, expect, open_socket

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def line(db):
    return BusinessLineFactory(key="sales")


@pytest.fixture
def agent(line):
    return AgentFactory(business_lines=[line], capacity=2)


async def agent_with_snapshot(agent):
    """An agent socket past `hello`, and the first `queue.snapshot` it got."""
    socket = await open_socket(await agent_path(agent))
    hello = await socket.receive_json_from()
    assert hello["type"] == "hello" and hello["agent_id"] == agent.id
    return socket, await expect(socket, "queue.snapshot")


async def customer_of(line, name):
    return await database_sync_to_async(CustomerFactory)(business_line=line, name=name, email="")


async def started(customer):
    conversation, _created = await database_sync_to_async(lifecycle.conversation_start)(
        customer=customer, channel="web"
    )
    return conversation.id


async def left_message(customer, body):
    conversation = await database_sync_to_async(lifecycle.conversation_leave_message)(
        customer=customer, channel="web", body=body
    )
    return conversation.id


async def frames_until_marker(socket, group):
    """Every frame before a marker published to `group` after them (tests/README: markers). On the line's agents'
    group, the marker also means the socket has handled every queue change announced before it."""
    marker = {"type": "test.marker", "group": group}
    await get_channel_layer().group_send(group, frame_event(marker))
    frames = []
    while (frame := await socket.receive_json_from(timeout=5)) != marker:
        frames.append(frame)
    return frames


def listed(conversations):
    """What a test compares of each listed conversation; the times are checked on their own."""
    return [
        (c["id"], c["status"], c["customer"]["name"], c["queue_position"], c["close_reason"], c["preview"])
        for c in conversations
    ]


async def test_after_hello_the_agent_gets_the_waiting_and_missed_conversations_of_their_lines_oldest_first(line, agent):
    # Given two waiting conversations and a left message in the agent's line, and one waiting in another line
    first = await started(await customer_of(line, "Ada"))
    second = await started(await customer_of(line, "Bob"))
    left = await left_message(await customer_of(line, "Cy"), "Please call me back")
    elsewhere = await database_sync_to_async(BusinessLineFactory)()
    await started(await customer_of(elsewhere, "Dee"))

    # When the agent connects
    socket, snapshot = await agent_with_snapshot(agent)

    # Then the snapshot lists their line's conversations, oldest first, each with how long it has waited
    assert listed(snapshot["waiting"]) == [
        (first, "waiting", "Ada", 1, None, ""),
        (second, "waiting", "Bob", 2, None, ""),
    ]
    assert listed(snapshot["missed"]) == [(left, "missed", "Cy", None, "offline", "Please call me back")]
    for conversation in snapshot["waiting"] + snapshot["missed"]:
        assert conversation["business_line"] == "sales"
        assert isinstance(conversation["waited_seconds"], int) and 0 <= conversation["waited_seconds"] < 60
        assert conversation["waiting_since"].endswith("+00:00")
    await socket.disconnect()


async def test_a_new_waiting_conversation_sends_a_new_snapshot(line, agent):
    socket, snapshot = await agent_with_snapshot(agent)
    assert snapshot["waiting"] == [] and snapshot["missed"] == []

    conversation_id = await started(await customer_of(line, "Ada"))

    snapshot = await expect(socket, "queue.snapshot")
    assert listed(snapshot["waiting"]) == [(conversation_id, "waiting", "Ada", 1, None, "")]
    assert snapshot["missed"] == []
    await socket.disconnect()


async def test_many_changes_within_the_interval_make_at_most_two_snapshots_and_the_last_is_right(line, agent, settings):
    # A window wide enough that five separate commits surely fall into it, however slow the machine
    settings.CHAT_QUEUE_SNAPSHOT_INTERVAL = 3
    socket, _first = await agent_with_snapshot(agent)

    # Five changes, each seen by the socket before the next is made (without coalescing, five snapshots)
    ids, frames = [], []
    for name in ["Ada", "Bob", "Cy", "Dee", "Eve"]:
        ids.append(await started(await customer_of(line, name)))
        frames += await frames_until_marker(socket, line_agents_group(line.id))

    snapshots = [frame for frame in frames if frame["type"] == "queue.snapshot"]
    while not snapshots or [c["id"] for c in snapshots[-1]["waiting"]] != ids:
        # the last one may wait for the window to end: up to its 3 s, however slow the machine, and then some
        snapshots.append(await expect(socket, "queue.snapshot", timeout=15))
    assert len(snapshots) <= 2
    assert listed(snapshots[-1]["waiting"]) == [
        (ids[0], "waiting", "Ada", 1, None, ""),
        (ids[1], "waiting", "Bob", 2, None, ""),
        (ids[2], "waiting", "Cy", 3, None, ""),
        (ids[3], "waiting", "Dee", 4, None, ""),
        (ids[4], "waiting", "Eve", 5, None, ""),
    ]
    # and nothing repeats it
    assert [f["type"] for f in await frames_until_marker(socket, agent_group(agent.id))] == []
    await socket.disconnect()


async def test_a_picked_left_message_leaves_the_missed_list_of_every_agent(line, agent):
    # Given a left message, an online agent and a colleague, both at the workbench
    colleague = await database_sync_to_async(AgentFactory)(business_lines=[line])
    left = await left_message(await customer_of(line, "Cy"), "Please call me back")
    await agent_online(agent)
    agent_ws, mine = await agent_with_snapshot(agent)
    colleague_ws, theirs = await agent_with_snapshot(colleague)
    assert [c["id"] for c in mine["missed"]] == [left]
    assert [c["id"] for c in theirs["missed"]] == [left]

    # When the agent picks it
    await agent_ws.send_json_to({"type": "conversation.pick", "conversation_id": left, "ref": "pick"})
    assigned = await expect(agent_ws, "conversation.assigned")
    assert assigned["ref"] == "pick" and assigned["conversation"]["id"] == left

    # Then it leaves both lists
    for socket in (agent_ws, colleague_ws):
        snapshot = await expect(socket, "queue.snapshot")
        assert snapshot["missed"] == [] and snapshot["waiting"] == []
    await agent_ws.disconnect()
    await colleague_ws.disconnect()


@pytest.mark.django_db(transaction=False)
def test_the_snapshot_is_one_query_per_list(line, agent, django_assert_num_queries):
    # Given waiting and missed conversations in two of the agent's lines
    other = BusinessLineFactory()
    agent.business_lines.add(other)
    for business_line in (line, other):
        lifecycle.conversation_start(customer=CustomerFactory(business_line=business_line), channel="web")
        lifecycle.conversation_leave_message(
            customer=CustomerFactory(business_line=business_line), channel="web", body="Call me"
        )

    # Then reading them takes two queries, however many lines and conversations
    with django_assert_num_queries(2):
        snapshot = agent_queue_snapshot(agent_id=agent.id)
    assert [len(snapshot["waiting"]), len(snapshot["missed"])] == [2, 2]
