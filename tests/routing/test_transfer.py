"""Transfer to another agent (load moves at once, within capacity) and to another business line's queue."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agents.models import Presence
from agents.services import agent_presence_set
from chat.errors import ChatError
from chat.events import agent_group, conversation_group
from chat.lifecycle import conversation_close
from chat.models import ConversationStatus, Message
from chat.permissions import Participant
from cs_platform.errors import ErrorCode
from routing.selectors import queue_states, transfer_targets
from routing.services import (
    agent_conversations_hand_back,
    assignment_pick,
    assignment_run,
    conversation_transfer,
    conversation_transfer_by_supervisor,
)
from tests.factories import AgentFactory, BusinessLineFactory
from tests.routing.helpers import agent_in, connect, disconnect, load, status_of, system_events, waiting_customer

pytestmark = pytest.mark.django_db


@pytest.fixture
def line():
    return BusinessLineFactory()


@pytest.fixture
def holder(line):
    return agent_in(line, capacity=2)


@pytest.fixture
def conversation(line, holder):
    conversation = waiting_customer(line)
    assert assignment_run(business_line_id=line.id) == [conversation.id]
    return conversation


def test_transfer_to_another_agent_moves_the_load_at_once_and_tells_everyone(
    line, holder, conversation, listen, django_capture_on_commit_callbacks
):
    target = agent_in(line, capacity=1)
    watchers = listen(conversation_group(conversation.id), agent_group(holder.id), agent_group(target.id))
    with django_capture_on_commit_callbacks(execute=True):
        moved = conversation_transfer(agent_id=holder.id, conversation_id=conversation.id, to_agent_id=target.id)
    assert (moved.status, moved.agent_id) == (ConversationStatus.ACTIVE, target.id)
    assert (load(holder), load(target)) == (0, 1)
    assert system_events(conversation)[-2:] == ["transferred", "assigned"]
    events = watchers.events_until_marker()
    assert {"type": "chat.leave", "conversation_id": conversation.id} in events
    assert {"type": "chat.join", "conversation_id": conversation.id} in events
    states = [
        e["frame"]["conversation"]
        for e in events
        if e["type"] == "chat.frame" and e["frame"]["type"] == "conversation.state"
    ]
    assert states[-1]["agent"] == {"id": target.id, "name": target.display_name}


def test_the_freed_slot_of_the_transferring_agent_serves_the_queue(
    line, holder, conversation, django_capture_on_commit_callbacks
):
    # given a full agent and a customer waiting
    second = waiting_customer(line)
    assignment_run(business_line_id=line.id)
    queued = waiting_customer(line)
    target = agent_in(line, capacity=1)
    # when they transfer one chat away, then the waiting customer goes to them through the trigger
    with django_capture_on_commit_callbacks(execute=True):
        conversation_transfer(agent_id=holder.id, conversation_id=second.id, to_agent_id=target.id)
    assert status_of(queued) == (ConversationStatus.ACTIVE, holder.id)
    assert load(holder) == 2


def test_transfer_respects_the_targets_capacity(line, holder, conversation):
    target = agent_in(line, capacity=1)
    assignment_pick(agent_id=target.id, conversation_id=waiting_customer(line).id)
    with pytest.raises(ChatError) as refusal:
        conversation_transfer(agent_id=holder.id, conversation_id=conversation.id, to_agent_id=target.id)
    assert refusal.value.code == ErrorCode.AGENT_UNAVAILABLE
    assert status_of(conversation) == (ConversationStatus.ACTIVE, holder.id)
    assert load(target) == 1
    assert "transferred" not in system_events(conversation)


@pytest.mark.parametrize("target_kind", ["away", "offline", "disconnected", "other_line"])
def test_transfer_target_must_be_online_connected_and_in_the_line(line, holder, conversation, target_kind):
    if target_kind == "other_line":
        target = agent_in(BusinessLineFactory())
    elif target_kind == "disconnected":
        target = agent_in(line)
        disconnect(target)
    else:
        target = agent_in(line, presence_status=Presence(target_kind))
    with pytest.raises(ChatError) as refusal:
        conversation_transfer(agent_id=holder.id, conversation_id=conversation.id, to_agent_id=target.id)
    assert refusal.value.code == ErrorCode.AGENT_UNAVAILABLE
    assert status_of(conversation) == (ConversationStatus.ACTIVE, holder.id)
    assert load(target) == 0


@pytest.mark.parametrize(
    ("arguments", "code"),
    [
        ({"to_agent_id": "self"}, ErrorCode.INVALID_FIELD),
        ({"to_agent_id": "7"}, ErrorCode.INVALID_FIELD),
        ({"to_agent_id": True}, ErrorCode.INVALID_FIELD),
        ({}, ErrorCode.INVALID_FIELD),
        ({"to_agent_id": "other", "to_business_line": "other"}, ErrorCode.INVALID_FIELD),
        ({"to_agent_id": 10**9}, ErrorCode.AGENT_UNAVAILABLE),
        ({"to_business_line": "no-such-line"}, ErrorCode.NOT_FOUND),
    ],
)
def test_transfer_refusals_have_error_codes_and_change_nothing(line, holder, conversation, arguments, code):
    other_line = BusinessLineFactory()
    other = agent_in(line)
    resolved = {
        key: {"self": holder.id, "other": other.id if key == "to_agent_id" else other_line.key}.get(value, value)
        for key, value in arguments.items()
    }
    with pytest.raises(ChatError) as refusal:
        conversation_transfer(agent_id=holder.id, conversation_id=conversation.id, **resolved)
    assert refusal.value.code == code
    assert status_of(conversation) == (ConversationStatus.ACTIVE, holder.id)
    assert system_events(conversation)[-1] == "assigned"


def test_only_the_assigned_agent_transfers_an_open_conversation_they_can_see(line, holder, conversation):
    colleague = agent_in(line)
    outsider = agent_in(BusinessLineFactory())
    with pytest.raises(ChatError) as not_theirs:
        conversation_transfer(agent_id=colleague.id, conversation_id=conversation.id, to_agent_id=colleague.id)
    assert not_theirs.value.code == ErrorCode.NOT_ASSIGNED
    with pytest.raises(ChatError) as unseen:
        conversation_transfer(agent_id=outsider.id, conversation_id=conversation.id, to_agent_id=colleague.id)
    assert unseen.value.code == ErrorCode.NOT_FOUND
    conversation_close(
        participant=Participant(kind="customer", id=conversation.customer_id), conversation_id=conversation.id
    )
    with pytest.raises(ChatError) as closed:
        conversation_transfer(agent_id=holder.id, conversation_id=conversation.id, to_agent_id=colleague.id)
    assert closed.value.code == ErrorCode.CONVERSATION_CLOSED
    assert load(colleague) == 0


def test_transfer_to_another_lines_queue_waits_there_and_frees_the_agent(
    line, holder, conversation, listen, django_capture_on_commit_callbacks
):
    # given another business line with nobody connected
    billing = BusinessLineFactory()
    billing_agent = agent_in(billing, connected=False)
    watchers = listen(agent_group(holder.id))
    # when the agent transfers the conversation to that line's queue
    with django_capture_on_commit_callbacks(execute=True):
        moved = conversation_transfer(agent_id=holder.id, conversation_id=conversation.id, to_business_line=billing.key)
    # then it waits in the other line, the agent is free and told to let go of it
    conversation.refresh_from_db()
    assert (moved.status, moved.agent_id) == (ConversationStatus.WAITING, None)
    assert (conversation.status, conversation.business_line_id, conversation.agent_id) == (
        ConversationStatus.WAITING,
        billing.id,
        None,
    )
    assert system_events(conversation)[-1] == "transferred"
    assert load(holder) == 0
    assert [s["conversation"]["id"] for s in queue_states(business_line_id=billing.id)] == [conversation.id]
    assert queue_states(business_line_id=line.id) == []
    assert {"type": "chat.leave", "conversation_id": conversation.id} in watchers.events_until_marker()
    # and the old line's agents cannot take it back
    assert assignment_run(business_line_id=line.id) == []
    # when an agent of the other line is available, then the rule gives it to them
    connect(billing_agent)
    assert assignment_run(business_line_id=billing.id) == [conversation.id]
    assert status_of(conversation) == (ConversationStatus.ACTIVE, billing_agent.id)


def test_transfer_to_a_line_with_an_agent_free_is_assigned_at_once(
    line, holder, conversation, django_capture_on_commit_callbacks
):
    billing = BusinessLineFactory()
    billing_agent = agent_in(billing)
    with django_capture_on_commit_callbacks(execute=True):
        conversation_transfer(agent_id=holder.id, conversation_id=conversation.id, to_business_line=billing.key)
    assert status_of(conversation) == (ConversationStatus.ACTIVE, billing_agent.id)
    assert system_events(conversation)[-2:] == ["transferred", "assigned"]
    assert load(holder) == 0


def test_a_transfer_note_goes_to_agents_only_before_the_transfer(
    line, holder, conversation, listen, django_capture_on_commit_callbacks
):
    # Given a colleague with room, and the customer's socket listening
    target = agent_in(line, capacity=1)
    watchers = listen(conversation_group(conversation.id))

    # When the holder transfers with a note
    with django_capture_on_commit_callbacks(execute=True):
        conversation_transfer(
            agent_id=holder.id, conversation_id=conversation.id, to_agent_id=target.id, note="  VIP: refund approved  "
        )

    # Then the note is an internal note of the holder's, stored just before the transfer, sent to agents only
    note = Message.objects.get(conversation=conversation, event="transfer_note")
    assert (note.sender, note.agent_id, note.body, note.is_internal_note) == (
        "agent",
        holder.id,
        "VIP: refund approved",
        True,
    )
    assert system_events(conversation)[-2:] == ["transferred", "assigned"]
    assert note.seq == Message.objects.get(conversation=conversation, event="transferred").seq - 1
    frames = [e for e in watchers.events_until_marker() if e["type"] == "chat.frame"]
    [sent] = [e for e in frames if e["frame"].get("message", {}).get("id") == note.id]
    assert sent["audience"] == "agents"


@pytest.mark.parametrize("note", [7, "x" * 4001, ["a"]])
def test_a_bad_transfer_note_is_refused_and_changes_nothing(line, holder, conversation, note):
    target = agent_in(line, capacity=1)
    with pytest.raises(ChatError) as refusal:
        conversation_transfer(agent_id=holder.id, conversation_id=conversation.id, to_agent_id=target.id, note=note)
    assert refusal.value.code == ErrorCode.INVALID_FIELD
    assert status_of(conversation) == (ConversationStatus.ACTIVE, holder.id)
    assert not Message.objects.filter(conversation=conversation, is_internal_note=True).exists()


def test_the_transfer_targets_are_the_lines_agents_with_presence_and_load_and_the_other_lines_queues(
    line, holder, conversation
):
    # Given, in the line, Bob online with one chat of two, Carol away, Dan online but with no live socket;
    # and two other lines, one with a customer waiting
    bob = AgentFactory(display_name="Bob", business_lines=[line], capacity=2, presence=Presence.ONLINE)
    connect(bob)
    waiting_customer(line)
    assignment_run(business_line_id=line.id)
    carol = AgentFactory(display_name="Carol", business_lines=[line], presence=Presence.AWAY)
    connect(carol)
    dan = AgentFactory(display_name="Dan", business_lines=[line], presence=Presence.ONLINE)
    sales = BusinessLineFactory(name="Sales")
    waiting_customer(sales)
    billing = BusinessLineFactory(name="Billing")

    # When the holder opens the picker
    targets = transfer_targets(agent_id=holder.id, conversation_id=conversation.id)

    # Then
    assert targets == {
        "conversation_id": conversation.id,
        "agents": [
            {"id": bob.id, "name": "Bob", "presence": "online", "load": 1, "capacity": 2, "available": True},
            {"id": carol.id, "name": "Carol", "presence": "away", "load": 0, "capacity": 3, "available": False},
            {"id": dan.id, "name": "Dan", "presence": "offline", "load": 0, "capacity": 3, "available": False},
        ],
        "business_lines": [
            {"key": billing.key, "name": "Billing", "waiting": 0, "agents_online": 0},
            {"key": sales.key, "name": "Sales", "waiting": 1, "agents_online": 0},
        ],
    }
    # ... and an agent of another line gets not_found, as for a conversation that does not exist
    with pytest.raises(ChatError) as refusal:
        transfer_targets(agent_id=agent_in(sales).id, conversation_id=conversation.id)
    assert refusal.value.code == ErrorCode.NOT_FOUND


# Handing chats back when going away or offline


def test_an_agent_going_away_hands_their_chats_back_to_a_colleague_with_room(
    line, holder, conversation, django_capture_on_commit_callbacks
):
    # Given the holder with two chats, and a colleague with room for both
    second = waiting_customer(line)
    assignment_run(business_line_id=line.id)
    assert load(holder) == 2
    colleague = agent_in(line, capacity=2)

    # When the holder goes away and hands them back
    with django_capture_on_commit_callbacks(execute=True):
        agent_presence_set(agent_id=holder.id, status=Presence.AWAY)
        handed = agent_conversations_hand_back(agent_id=holder.id)

    # Then both went back to the queue and on to the colleague, the customer told without the holder's name
    assert sorted(handed) == sorted([conversation.id, second.id])
    assert (status_of(conversation), status_of(second)) == (
        (ConversationStatus.ACTIVE, colleague.id),
        (ConversationStatus.ACTIVE, colleague.id),
    )
    assert load(holder) == 0
    assert system_events(conversation)[-2:] == ["requeued", "assigned"]
    notice = Message.objects.get(conversation=conversation, event="requeued")
    assert notice.body == "Your agent had to step away; another agent will be with you shortly."
    assert holder.display_name not in notice.body


def test_with_nobody_free_handed_back_chats_wait_at_the_front_of_the_queue(line, holder, conversation):
    later = waiting_customer(line)
    agent_presence_set(agent_id=holder.id, status=Presence.OFFLINE)
    assert agent_conversations_hand_back(agent_id=holder.id) == [conversation.id]
    assert status_of(conversation) == (ConversationStatus.WAITING, None)
    assert [state["conversation"]["id"] for state in queue_states(business_line_id=line.id)] == [
        conversation.id,
        later.id,
    ]


def test_the_transfer_targets_cost_the_same_queries_for_any_number_of_lines_and_agents(line, holder, conversation):
    # Given one other line with one online agent: the queries of the picker's read
    def targets_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            transfer_targets(agent_id=holder.id, conversation_id=conversation.id)
        return len(queries)

    agent_in(BusinessLineFactory(), capacity=1)
    agent_in(line, capacity=1)
    few = targets_queries()

    # When there are many more lines, each with online agents, and more colleagues
    for _ in range(5):
        other = BusinessLineFactory()
        agent_in(other)
        agent_in(other)
        agent_in(line)

    # Then the picker reads with as many queries
    assert targets_queries() == few == 4


# A supervisor's transfer of a conversation still waiting in the queue

SUPERVISOR = Participant(kind="supervisor", id=1)


def test_a_supervisor_moves_a_waiting_conversation_to_another_line_where_it_keeps_its_place_by_age(
    line, django_capture_on_commit_callbacks
):
    # given a conversation waiting 300 s in one line, and another line whose queue has one older and one newer
    billing = BusinessLineFactory(name="Billing")
    older = waiting_customer(billing, ago=600)
    newer = waiting_customer(billing, ago=60)
    moving = waiting_customer(line, ago=300)
    queued_at, waiting_since = moving.queued_at, moving.waiting_since
    # when a supervisor transfers it to that line
    with django_capture_on_commit_callbacks(execute=True):
        moved = conversation_transfer_by_supervisor(
            supervisor=SUPERVISOR, conversation_id=moving.id, to_business_line=billing.key
        )
    # then it waits there between the two, by age, its clocks unchanged (the wait timeout too)
    moving.refresh_from_db()
    assert (moved.status, moved.business_line_id) == (ConversationStatus.WAITING, billing.id)
    assert (moving.status, moving.business_line_id, moving.agent_id) == (ConversationStatus.WAITING, billing.id, None)
    assert (moving.queued_at, moving.waiting_since) == (queued_at, waiting_since)
    assert [s["conversation"]["id"] for s in queue_states(business_line_id=billing.id)] == [
        older.id,
        moving.id,
        newer.id,
    ]
    assert [s["conversation"]["queue_position"] for s in queue_states(business_line_id=billing.id)] == [1, 2, 3]
    assert queue_states(business_line_id=line.id) == []
    assert system_events(moving)[-1] == "transferred"
    assert Message.objects.filter(conversation=moving).order_by("seq").last().body == (
        "Transferred to Billing; waiting for an agent."
    )


def test_a_waiting_conversation_moved_to_a_line_with_an_agent_free_is_assigned_there(
    line, django_capture_on_commit_callbacks
):
    billing = BusinessLineFactory()
    billing_agent = agent_in(billing)
    waiting = waiting_customer(line)
    with django_capture_on_commit_callbacks(execute=True):
        conversation_transfer_by_supervisor(
            supervisor=SUPERVISOR, conversation_id=waiting.id, to_business_line=billing.key
        )
    assert status_of(waiting) == (ConversationStatus.ACTIVE, billing_agent.id)
    assert system_events(waiting)[-2:] == ["transferred", "assigned"]


def test_a_supervisor_gives_a_waiting_conversation_to_an_agent_of_its_line_with_room(
    line, listen, django_capture_on_commit_callbacks
):
    # given a waiting conversation (routing has not run yet) and an agent of its line online with room
    waiting = waiting_customer(line)
    bob = agent_in(line, capacity=2)
    watchers = listen(agent_group(bob.id))
    # when a supervisor gives it to Bob
    with django_capture_on_commit_callbacks(execute=True):
        moved = conversation_transfer_by_supervisor(
            supervisor=SUPERVISOR, conversation_id=waiting.id, to_agent_id=bob.id
        )
    # then Bob has it through the assignment path (joined, told to join) and the queue is empty
    assert (moved.status, moved.agent_id) == (ConversationStatus.ACTIVE, bob.id)
    assert status_of(waiting) == (ConversationStatus.ACTIVE, bob.id)
    assert system_events(waiting)[-2:] == ["transferred", "assigned"]
    assert [m.body for m in Message.objects.filter(conversation=waiting).order_by("seq")][-2:] == [
        f"A supervisor transferred the conversation to {bob.display_name}.",
        f"{bob.display_name} joined the conversation.",
    ]
    waiting.refresh_from_db()
    assert waiting.handler_ids == [bob.id]
    assert queue_states(business_line_id=line.id) == []
    assert {"type": "chat.join", "conversation_id": waiting.id} in watchers.events_until_marker()


@pytest.mark.parametrize("target_kind", ["full", "offline", "other_line", "unknown"])
def test_a_waiting_conversation_goes_only_to_an_agent_of_its_line_online_with_room(line, target_kind):
    waiting = waiting_customer(line)
    other_line = BusinessLineFactory()
    target_id = {
        "full": lambda: agent_in(line, capacity=0).id,
        "offline": lambda: agent_in(line, presence_status=Presence.AWAY).id,
        "other_line": lambda: agent_in(other_line).id,
        "unknown": lambda: 10**9,
    }[target_kind]()
    with pytest.raises(ChatError) as refusal:
        conversation_transfer_by_supervisor(supervisor=SUPERVISOR, conversation_id=waiting.id, to_agent_id=target_id)
    assert refusal.value.code == ErrorCode.AGENT_UNAVAILABLE
    assert status_of(waiting) == (ConversationStatus.WAITING, None)
    assert system_events(waiting) == ["greeting"]


def test_a_waiting_conversation_sent_to_its_own_line_is_refused_and_unchanged(line):
    waiting = waiting_customer(line, ago=30)
    with pytest.raises(ChatError) as refusal:
        conversation_transfer_by_supervisor(
            supervisor=SUPERVISOR, conversation_id=waiting.id, to_business_line=line.key
        )
    assert refusal.value.code == ErrorCode.INVALID_FIELD
    before = (waiting.queued_at, waiting.waiting_since)
    waiting.refresh_from_db()
    assert (waiting.status, waiting.business_line_id, (waiting.queued_at, waiting.waiting_since)) == (
        ConversationStatus.WAITING,
        line.id,
        before,
    )
    assert system_events(waiting) == ["greeting"]


def test_a_supervisor_cannot_transfer_an_ended_conversation(line, holder, conversation):
    conversation_close(participant=Participant(kind="agent", id=holder.id), conversation_id=conversation.id)
    with pytest.raises(ChatError) as refusal:
        conversation_transfer_by_supervisor(
            supervisor=SUPERVISOR, conversation_id=conversation.id, to_business_line=line.key
        )
    assert refusal.value.code == ErrorCode.CONVERSATION_CLOSED
