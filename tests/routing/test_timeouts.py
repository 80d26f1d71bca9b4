"""Each timeout of the sweep, with short values on the business line and timestamps moved back, not slept."""

import pytest

from chat.events import agent_group, conversation_group
from chat.models import CloseReason, ConversationStatus, Message
from routing.selectors import conversation_state, queue_states
from routing.services import assignment_run, routing_sweep
from tests.factories import BusinessLineFactory
from tests.routing.helpers import (
    agent_in,
    connect,
    disconnect,
    last_live_moved_back,
    load,
    moved_back,
    say,
    status_of,
    system_events,
    waiting_customer,
)

pytestmark = pytest.mark.django_db

ASSIGNMENT_CLOCKS = ("started_at", "queued_at", "waiting_since", "assigned_at")
EVERY_CLOCK = (*ASSIGNMENT_CLOCKS, "last_customer_message_at", "last_agent_message_at")


@pytest.fixture
def line():
    return BusinessLineFactory(wait_timeout=60, agent_reply_timeout=30, disconnect_grace=20, idle_timeout=90)


def swept(capture) -> dict[str, int]:
    """Run the sweep and the events it leaves for after commit, as Celery beat would."""
    with capture(execute=True):
        return routing_sweep()


def states(frames, conversation):
    return [
        f["conversation"]
        for f in frames
        if f["type"] == "conversation.state" and f["conversation"]["id"] == conversation.id
    ]


# Wait


def test_waited_too_long_becomes_missed_offers_leave_message_and_tells_agents(
    line, listen, django_capture_on_commit_callbacks
):
    # given a customer waiting past the line's wait timeout, one waiting less, and an offline agent of the line
    overdue = waiting_customer(line, ago=61)
    patient = waiting_customer(line, ago=30)
    colleague = agent_in(line, presence_status="offline", connected=False)
    customer_side = listen(conversation_group(overdue.id))
    agent_side = listen(agent_group(colleague.id))
    # when the sweep runs
    counts = swept(django_capture_on_commit_callbacks)
    # then only the overdue one is missed, with a system message and the leave-a-message offer
    assert counts["missed"] == 1
    overdue.refresh_from_db()
    assert (overdue.status, overdue.close_reason) == (ConversationStatus.MISSED, CloseReason.WAIT_TIMEOUT)
    assert system_events(overdue)[-1] == "missed"
    assert conversation_state(overdue)["conversation"]["leave_message"] is True
    assert status_of(patient) == (ConversationStatus.WAITING, None)
    told = states(customer_side.frames_until_marker(), overdue)
    assert told[-1]["status"] == "missed" and told[-1]["leave_message"] is True
    assert {"type": "conversation.missed", "conversation_id": overdue.id} in agent_side.frames_until_marker()


def test_a_customer_past_the_wait_timeout_is_served_rather_than_missed_when_an_agent_has_room(
    line, django_capture_on_commit_callbacks
):
    # given a customer waiting past the timeout, and an agent who has just come online and connected
    overdue = waiting_customer(line, ago=61)
    agent = agent_in(line)
    # when the sweep runs before the agent's own trigger did
    swept(django_capture_on_commit_callbacks)
    # then the customer gets the free agent instead of being told that nobody is free
    assert status_of(overdue) == (ConversationStatus.ACTIVE, agent.id)
    assert "missed" not in system_events(overdue)


def test_a_missed_conversation_is_not_missed_again(line, django_capture_on_commit_callbacks):
    overdue = waiting_customer(line, ago=120)
    swept(django_capture_on_commit_callbacks)
    before = system_events(overdue)
    assert swept(django_capture_on_commit_callbacks)["missed"] == 0
    assert system_events(overdue) == before


# Agent reply


def test_silent_agent_past_reply_timeout_is_replaced_by_another_with_room(
    line, listen, django_capture_on_commit_callbacks
):
    # given a conversation assigned to an agent who has not answered for longer than the reply timeout
    silent = agent_in(line, capacity=2)
    conversation = waiting_customer(line)
    assignment_run(business_line_id=line.id)
    replacement = agent_in(line, capacity=2)
    moved_back(conversation, seconds=31, fields=ASSIGNMENT_CLOCKS)
    customer_side = listen(conversation_group(conversation.id), agent_group(silent.id), agent_group(replacement.id))
    # when the sweep runs
    counts = swept(django_capture_on_commit_callbacks)
    # then the other agent has it, the silent one's load dropped, and the transcript says so
    assert counts["reassigned"] == 1
    assert status_of(conversation) == (ConversationStatus.ACTIVE, replacement.id)
    assert (load(silent), load(replacement)) == (0, 1)
    assert system_events(conversation)[-2:] == ["reassigned", "assigned"]
    # ... in words that never name the agent who did not answer (the customer reads them)
    notice = Message.objects.get(conversation=conversation, event="reassigned")
    assert notice.body == "Sorry for the wait: another agent is taking over."
    events = customer_side.events_until_marker()
    assert {"type": "chat.leave", "conversation_id": conversation.id} in events
    assert {"type": "chat.join", "conversation_id": conversation.id} in events
    told = states([e["frame"] for e in events if e["type"] == "chat.frame"], conversation)
    assert told[-1]["agent"]["id"] == replacement.id
    # and the new agent has a full reply timeout of their own
    assert swept(django_capture_on_commit_callbacks)["reassigned"] == 0


def test_silent_agent_keeps_the_conversation_while_nobody_else_has_room(line, django_capture_on_commit_callbacks):
    # given a silent agent's overdue conversation and a colleague whose only slot is taken by a chat they answer
    silent = agent_in(line, capacity=2)
    conversation = waiting_customer(line)
    assignment_run(business_line_id=line.id)
    busy = agent_in(line, capacity=1)
    other = waiting_customer(line)
    assignment_run(business_line_id=line.id)
    say(other, by="agent")
    moved_back(conversation, seconds=31, fields=ASSIGNMENT_CLOCKS)
    # when the sweep runs, then nothing moves
    assert swept(django_capture_on_commit_callbacks)["reassigned"] == 0
    assert status_of(conversation) == (ConversationStatus.ACTIVE, silent.id)
    assert status_of(other) == (ConversationStatus.ACTIVE, busy.id)
    assert "reassigned" not in system_events(conversation)


def test_an_agent_who_answered_is_not_replaced(line, django_capture_on_commit_callbacks):
    agent = agent_in(line)
    conversation = waiting_customer(line)
    assignment_run(business_line_id=line.id)
    say(conversation, by="agent")
    agent_in(line)
    moved_back(conversation, seconds=300, fields=(*ASSIGNMENT_CLOCKS, "last_agent_message_at"))
    say(conversation, by="customer")
    assert swept(django_capture_on_commit_callbacks)["reassigned"] == 0
    assert status_of(conversation) == (ConversationStatus.ACTIVE, agent.id)


# Disconnect grace


def agent_holding_two_answered_chats(line):
    agent = agent_in(line, capacity=2)
    chats = [waiting_customer(line, ago=50), waiting_customer(line, ago=40)]
    assignment_run(business_line_id=line.id)
    for conversation in chats:
        say(conversation, by="agent")
    return agent, chats


def test_disconnected_agent_past_grace_loses_chats_to_the_front_of_the_queue(
    line, listen, django_capture_on_commit_callbacks
):
    # given an agent holding two chats, a later customer waiting, nobody else with room
    gone, (first, second) = agent_holding_two_answered_chats(line)
    later = waiting_customer(line, ago=5)
    # and the agent's last socket went away longer ago than the grace
    disconnect(gone)
    last_live_moved_back(gone, seconds=21)
    old_agent_side = listen(agent_group(gone.id))
    # when the sweep runs
    counts = swept(django_capture_on_commit_callbacks)
    # then both wait again, with their start time as their place, ahead of the customer who came later
    assert counts["requeued"] == 2
    for conversation in (first, second):
        conversation.refresh_from_db()
        assert (conversation.status, conversation.agent_id) == (ConversationStatus.WAITING, None)
        assert conversation.queued_at == conversation.started_at
        assert system_events(conversation)[-1] == "requeued"
    assert [s["conversation"]["id"] for s in queue_states(business_line_id=line.id)] == [first.id, second.id, later.id]
    assert load(gone) == 0
    left = {e["conversation_id"] for e in old_agent_side.events_until_marker() if e["type"] == "chat.leave"}
    assert left == {first.id, second.id}


def test_chats_of_a_disconnected_agent_go_to_others_with_room(line, django_capture_on_commit_callbacks):
    # given an agent holding two chats, who disconnected past the grace, and a colleague with one free slot
    gone, (first, second) = agent_holding_two_answered_chats(line)
    colleague = agent_in(line, capacity=1)
    disconnect(gone)
    last_live_moved_back(gone, seconds=21)
    # when the sweep runs, then the older chat goes to the colleague and the other waits first in line
    counts = swept(django_capture_on_commit_callbacks)
    assert (counts["requeued"], counts["assigned"]) == (2, 1)
    assert status_of(first) == (ConversationStatus.ACTIVE, colleague.id)
    assert system_events(first)[-2:] == ["requeued", "assigned"]
    assert status_of(second) == (ConversationStatus.WAITING, None)
    assert [s["conversation"]["queue_position"] for s in queue_states(business_line_id=line.id)] == [1]


def test_disconnected_agent_within_grace_keeps_the_chats(line, django_capture_on_commit_callbacks):
    agent = agent_in(line)
    conversation = waiting_customer(line)
    assignment_run(business_line_id=line.id)
    say(conversation, by="agent")
    disconnect(agent)
    last_live_moved_back(agent, seconds=10)
    assert swept(django_capture_on_commit_callbacks)["requeued"] == 0
    assert status_of(conversation) == (ConversationStatus.ACTIVE, agent.id)


def test_an_agent_who_reconnected_keeps_the_chats(line, django_capture_on_commit_callbacks):
    agent = agent_in(line)
    conversation = waiting_customer(line)
    assignment_run(business_line_id=line.id)
    say(conversation, by="agent")
    disconnect(agent)
    last_live_moved_back(agent, seconds=100)
    connect(agent, "new-socket")
    assert swept(django_capture_on_commit_callbacks)["requeued"] == 0
    assert status_of(conversation) == (ConversationStatus.ACTIVE, agent.id)


def test_a_requeued_long_conversation_gets_a_full_wait_before_it_is_missed(line, django_capture_on_commit_callbacks):
    # given a conversation that started long ago (longer than the wait timeout) and was answered at once
    agent = agent_in(line)
    conversation = waiting_customer(line)
    assignment_run(business_line_id=line.id)
    say(conversation, by="agent")
    say(conversation, by="customer")
    moved_back(conversation, seconds=600, fields=ASSIGNMENT_CLOCKS)
    # when its agent disconnects past the grace, with nobody else free, and two sweeps run a moment apart
    disconnect(agent)
    last_live_moved_back(agent, seconds=21)
    assert swept(django_capture_on_commit_callbacks)["requeued"] == 1
    swept(django_capture_on_commit_callbacks)
    # then the customer, back in the queue for a moment only, is still waiting, not told nobody is free
    assert status_of(conversation) == (ConversationStatus.WAITING, None)
    assert "missed" not in system_events(conversation)


# Customer idle


def test_customer_silent_past_idle_after_the_agents_message_is_closed_with_a_notice(
    line, listen, django_capture_on_commit_callbacks
):
    # given an active conversation in which the agent wrote last, longer ago than the idle timeout
    agent = agent_in(line)
    conversation = waiting_customer(line)
    assignment_run(business_line_id=line.id)
    say(conversation, by="customer")
    say(conversation, by="agent")
    moved_back(conversation, seconds=91, fields=EVERY_CLOCK)
    both_sides = listen(conversation_group(conversation.id))
    # when the sweep runs
    counts = swept(django_capture_on_commit_callbacks)
    # then it is closed for idleness, with a notice in the transcript and to both sides, and the agent is freed
    assert counts["idle_closed"] == 1
    conversation.refresh_from_db()
    assert (conversation.status, conversation.close_reason) == (ConversationStatus.CLOSED, CloseReason.IDLE)
    assert system_events(conversation)[-1] == "closed"
    frames = both_sides.frames_until_marker()
    notices = [f["message"] for f in frames if f["type"] == "message.new" and f["message"].get("event") == "closed"]
    assert len(notices) == 1 and notices[0]["sender"] == "system" and notices[0]["body"]
    assert states(frames, conversation)[-1]["status"] == "closed"
    assert load(agent) == 0


def test_a_customer_who_answered_is_not_idle_closed(line, django_capture_on_commit_callbacks):
    agent = agent_in(line)
    conversation = waiting_customer(line)
    assignment_run(business_line_id=line.id)
    say(conversation, by="agent")
    say(conversation, by="customer")
    moved_back(conversation, seconds=500, fields=EVERY_CLOCK)
    assert swept(django_capture_on_commit_callbacks)["idle_closed"] == 0
    assert status_of(conversation) == (ConversationStatus.ACTIVE, agent.id)


def test_idle_is_counted_from_the_agents_last_message_not_from_the_first(line, django_capture_on_commit_callbacks):
    agent = agent_in(line)
    conversation = waiting_customer(line)
    assignment_run(business_line_id=line.id)
    say(conversation, by="agent")
    moved_back(conversation, seconds=500, fields=(*ASSIGNMENT_CLOCKS, "last_agent_message_at"))
    say(conversation, by="agent", body="still there?")
    assert swept(django_capture_on_commit_callbacks)["idle_closed"] == 0
    assert status_of(conversation) == (ConversationStatus.ACTIVE, agent.id)
