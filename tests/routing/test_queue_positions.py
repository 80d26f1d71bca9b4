"""Queue positions: FIFO 1..n, dropping as chats are assigned or closed, published only when they change."""

from datetime import UTC, datetime, timedelta
from datetime import timezone as dt_timezone

import pytest

from chat.events import conversation_group
from chat.lifecycle import conversation_close
from chat.permissions import Participant
from routing.selectors import (
    business_line_is_open,
    conversation_state,
    queue_position,
    queue_states,
)
from routing.services import assignment_pick, assignment_run, queue_positions_publish
from tests.factories import BusinessLineFactory
from tests.routing.helpers import agent_in, moved_back, say, waiting_customer

pytestmark = pytest.mark.django_db


@pytest.fixture
def line():
    return BusinessLineFactory()


def positions(line):
    return [
        (state["conversation"]["id"], state["conversation"]["queue_position"])
        for state in queue_states(business_line_id=line.id)
    ]


def position_of(conversation):
    conversation.refresh_from_db()
    return queue_position(conversation)


def close_by_customer(conversation):
    conversation_close(
        participant=Participant(kind="customer", id=conversation.customer_id), conversation_id=conversation.id
    )


def published(frames):
    return sorted(
        (f["conversation"]["id"], f["conversation"]["queue_position"])
        for f in frames
        if f["type"] == "conversation.state"
    )


def test_positions_are_1_to_n_in_start_order_and_drop_as_chats_leave_the_queue(line):
    # given five customers waiting (created out of start order)
    conversations = [waiting_customer(line, ago=ago) for ago in (30, 50, 10, 40, 20)]
    by_start = sorted(conversations, key=lambda c: c.started_at)
    assert positions(line) == [(c.id, n) for n, c in enumerate(by_start, start=1)]
    assert [position_of(c) for c in by_start] == [1, 2, 3, 4, 5]
    # when the second closes, then the ones behind move up
    close_by_customer(by_start[1])
    assert positions(line) == [(c.id, n) for n, c in enumerate([by_start[0], *by_start[2:]], start=1)]
    # when an agent takes one, then the head leaves and everyone moves up again
    agent_in(line, capacity=1)
    assert assignment_run(business_line_id=line.id) == [by_start[0].id]
    assert positions(line) == [(c.id, n) for n, c in enumerate(by_start[2:], start=1)]
    assert position_of(by_start[0]) is None
    assert [position_of(c) for c in by_start[2:]] == [1, 2, 3]


def test_publish_sends_state_only_to_conversations_whose_position_changed(line, listen):
    # given four waiting customers, each with a socket listening to their conversation
    conversations = [waiting_customer(line, ago=40 - i) for i in range(4)]
    customers = listen(*(conversation_group(c.id) for c in conversations))
    # when positions are published the first time, then everyone hears their position
    assert queue_positions_publish(business_line_id=line.id) == 4
    assert published(customers.frames_until_marker()) == [(c.id, n) for n, c in enumerate(conversations, start=1)]
    # when nothing changed, then nothing is sent
    assert queue_positions_publish(business_line_id=line.id) == 0
    assert customers.frames_until_marker() == []
    # when the second customer leaves, then only the two behind hear their new positions
    close_by_customer(conversations[1])
    assert queue_positions_publish(business_line_id=line.id) == 2
    assert published(customers.frames_until_marker()) == [(conversations[2].id, 2), (conversations[3].id, 3)]
    # when an agent picks the last one, then nobody ahead of it moved and nothing is sent
    agent = agent_in(line, capacity=1)
    assignment_pick(agent_id=agent.id, conversation_id=conversations[3].id)
    assert queue_positions_publish(business_line_id=line.id) == 0
    assert customers.frames_until_marker() == []


def test_published_state_carries_the_estimate_and_the_offline_flag(line, listen):
    conversation = waiting_customer(line)
    customer = listen(conversation_group(conversation.id))
    queue_positions_publish(business_line_id=line.id)
    (frame,) = customer.frames_until_marker()
    assert frame["conversation"]["status"] == "waiting"
    # nobody handled a chat of this line yet: five minutes a chat is assumed (docs/routing.md)
    assert frame["conversation"]["estimated_wait_seconds"] == 300
    assert frame["conversation"]["offline"] is True


def test_estimate_follows_recent_handling_times_positions_and_online_capacity(line):
    # given two chats handled in 100 s and 200 s on average 150 s
    agent_in(line, capacity=2)
    for handled in (100, 200):
        conversation = waiting_customer(line)
        assignment_run(business_line_id=line.id)
        say(conversation, by="agent")
        close_by_customer(conversation)
        moved_back(conversation, seconds=handled, fields=("assigned_at",))
    # and the agent busy with two chats while three customers wait
    for _ in range(2):
        waiting_customer(line)
    assignment_run(business_line_id=line.id)
    queue = [waiting_customer(line) for _ in range(3)]
    # then the estimate is position x 150 s / 2 slots, and the line is not offline
    estimates = [s["conversation"]["estimated_wait_seconds"] for s in queue_states(business_line_id=line.id)]
    assert estimates == [75, 150, 225]
    state = conversation_state(queue[0])["conversation"]
    assert (state["queue_position"], state["estimated_wait_seconds"], state["offline"]) == (1, 75, False)
    # when a second agent (full too) comes online, then the estimate halves with the doubled capacity
    colleague = agent_in(line, capacity=2)
    for conversation in queue[:2]:
        assignment_pick(agent_id=colleague.id, conversation_id=conversation.id)
    assert [s["conversation"]["estimated_wait_seconds"] for s in queue_states(business_line_id=line.id)] == [38]


def test_business_hours_are_read_in_the_lines_time_zone():
    line = BusinessLineFactory(time_zone="Asia/Shanghai", business_hours={"mon": [["09:00", "18:00"]]})
    monday_noon_shanghai = datetime(2025, 1, 6, 4, 0, tzinfo=UTC)
    assert business_line_is_open(line, at=monday_noon_shanghai)
    assert not business_line_is_open(line, at=monday_noon_shanghai - timedelta(hours=4))
    assert not business_line_is_open(line, at=monday_noon_shanghai + timedelta(hours=6))
    assert not business_line_is_open(line, at=monday_noon_shanghai + timedelta(days=1))
    assert business_line_is_open(BusinessLineFactory(), at=monday_noon_shanghai + timedelta(days=1))


def test_outside_business_hours_the_line_is_offline_though_an_agent_is_online():
    every_day = {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    never = {day: [["00:00", "00:00"]] for day in every_day}
    open_line = BusinessLineFactory(business_hours=every_day)
    closed_line = BusinessLineFactory(business_hours=never)
    for line in (open_line, closed_line):
        agent_in(line, capacity=0)
    assert conversation_state(waiting_customer(open_line))["conversation"]["offline"] is False
    assert conversation_state(waiting_customer(closed_line))["conversation"]["offline"] is True
