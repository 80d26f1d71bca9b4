"""The assignment rule on hand-made cases: order of the queue, choice of the agent, who gets nothing, picks."""

import pytest

from agents.models import Presence
from agents.services import agent_connected, agent_presence_set
from chat.errors import ChatError
from chat.lifecycle import conversation_close, conversation_leave_message, conversation_start
from chat.models import ConversationStatus
from chat.permissions import Participant
from cs_platform.errors import ErrorCode
from routing.selectors import queue_states
from routing.services import assignment_pick, assignment_run, routing_sweep
from tests.factories import BusinessLineFactory, CustomerFactory
from tests.routing.helpers import (
    agent_in,
    connect,
    disconnect,
    invariant_violations,
    load,
    status_of,
    system_events,
    waiting_customer,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def line():
    return BusinessLineFactory()


def test_oldest_waiting_conversation_is_served_first(line):
    # given three waiting customers whose start order differs from their creation order
    newest = waiting_customer(line, ago=10)
    oldest = waiting_customer(line, ago=30)
    middle = waiting_customer(line, ago=20)
    agent = agent_in(line, capacity=1)
    # when the rule runs, then only the oldest is assigned
    assert assignment_run(business_line_id=line.id) == [oldest.id]
    assert status_of(oldest) == (ConversationStatus.ACTIVE, agent.id)
    assert status_of(middle)[0] == status_of(newest)[0] == ConversationStatus.WAITING


def test_priority_lifts_a_conversation_ahead_of_older_ones(line):
    older = waiting_customer(line, ago=60)
    urgent = waiting_customer(line, ago=5, priority=1)
    agent_in(line, capacity=1)
    assert assignment_run(business_line_id=line.id) == [urgent.id]
    assert status_of(older)[0] == ConversationStatus.WAITING


def test_agent_with_most_free_capacity_wins_not_the_emptiest_by_ratio(line):
    # given a big agent with 3 free of 5 and an idler small agent with 2 free of 2
    big = agent_in(line, capacity=5, last_assigned_ago=1)
    small = agent_in(line, capacity=2, last_assigned_ago=1000, connected=False)
    for _ in range(2):
        waiting_customer(line)
    assignment_run(business_line_id=line.id)
    connect(small)
    assert (load(big), load(small)) == (2, 0)
    # when one more customer waits, then the agent with 3 free slots gets it
    newcomer = waiting_customer(line)
    assert assignment_run(business_line_id=line.id) == [newcomer.id]
    assert status_of(newcomer)[1] == big.id


def test_load_spreads_over_agents_by_free_capacity(line):
    first = agent_in(line, capacity=3)
    second = agent_in(line, capacity=3)
    for _ in range(4):
        waiting_customer(line)
    assert len(assignment_run(business_line_id=line.id)) == 4
    assert sorted([load(first), load(second)]) == [2, 2]


def test_ties_go_to_the_agent_whose_last_assignment_is_oldest_never_assigned_first(line):
    recent = agent_in(line, capacity=3, last_assigned_ago=10)
    earlier = agent_in(line, capacity=3, last_assigned_ago=100)
    never = agent_in(line, capacity=3)
    conversations = [waiting_customer(line, ago=30 - i) for i in range(3)]
    assert assignment_run(business_line_id=line.id) == [c.id for c in conversations]
    assert [status_of(c)[1] for c in conversations] == [never.id, earlier.id, recent.id]
    for agent in (recent, earlier, never):
        agent.refresh_from_db()
        assert agent.last_assigned_at is not None
    assert system_events(conversations[0])[-1] == "assigned"


def test_away_and_offline_agents_get_nothing_but_keep_their_chats(line):
    # given two agents each holding one chat, who then go away and offline while still connected
    away = agent_in(line, capacity=3)
    gone = agent_in(line, capacity=3)
    held = [waiting_customer(line, ago=60), waiting_customer(line, ago=50)]
    assignment_run(business_line_id=line.id)
    holders = {status_of(c)[1] for c in held}
    assert holders == {away.id, gone.id}
    agent_presence_set(agent_id=away.id, status=Presence.AWAY)
    agent_presence_set(agent_id=gone.id, status=Presence.OFFLINE)
    newcomer = waiting_customer(line)
    # when the rule and the whole sweep run
    assert assignment_run(business_line_id=line.id) == []
    routing_sweep()
    # then the newcomer waits and the held chats stay where they were
    assert status_of(newcomer) == (ConversationStatus.WAITING, None)
    assert {status_of(c) for c in held} == {(ConversationStatus.ACTIVE, away.id), (ConversationStatus.ACTIVE, gone.id)}


def test_online_agent_without_a_live_socket_gets_nothing(line):
    never_connected = agent_in(line, connected=False)
    went_away = agent_in(line)
    disconnect(went_away)
    conversation = waiting_customer(line)
    assert assignment_run(business_line_id=line.id) == []
    assert status_of(conversation) == (ConversationStatus.WAITING, None)
    # when one of them connects, then the rule assigns to them
    connect(never_connected, "socket-2")
    assert assignment_run(business_line_id=line.id) == [conversation.id]
    assert status_of(conversation)[1] == never_connected.id


def test_agents_of_another_business_line_get_nothing(line):
    other_line = BusinessLineFactory()
    outsider = agent_in(other_line)
    conversation = waiting_customer(line)
    assert assignment_run(business_line_id=line.id) == []
    assert assignment_run(business_line_id=other_line.id) == []
    assert status_of(conversation) == (ConversationStatus.WAITING, None)
    assert load(outsider) == 0


def test_agent_of_two_lines_has_one_capacity_for_both(line):
    other_line = BusinessLineFactory()
    shared = agent_in(line, other_line, capacity=2)
    waiting_customer(line, ago=20)
    waiting_customer(other_line, ago=10)
    waiting_customer(line, ago=5)
    assert len(assignment_run(business_line_id=line.id)) == 2
    assert assignment_run(business_line_id=other_line.id) == []
    assert load(shared) == 2


def test_exact_fill_n_agents_times_capacity_and_the_rest_wait_in_fifo_order(line):
    # given 3 agents of capacity 2 and 10 customers
    agents = [agent_in(line, capacity=2) for _ in range(3)]
    conversations = [waiting_customer(line, ago=100 - i) for i in range(10)]
    # when the rule runs
    assigned = assignment_run(business_line_id=line.id)
    # then exactly 6 are active, the 6 oldest, 2 per agent; the 4 newest wait in start order
    assert sorted(assigned) == sorted(c.id for c in conversations[:6])
    assert [load(agent) for agent in agents] == [2, 2, 2]
    states = queue_states(business_line_id=line.id)
    assert [s["conversation"]["id"] for s in states] == [c.id for c in conversations[6:]]
    assert [s["conversation"]["queue_position"] for s in states] == [1, 2, 3, 4]
    assert assignment_run(business_line_id=line.id) == []
    assert invariant_violations(lines=[line], after_routing_run=True) == []


def test_closing_a_chat_frees_a_slot_that_goes_to_the_oldest_waiting(line, django_capture_on_commit_callbacks):
    # given a full agent and two waiting customers
    agent = agent_in(line, capacity=1)
    current = waiting_customer(line, ago=100)
    assignment_run(business_line_id=line.id)
    younger = waiting_customer(line, ago=10)
    older = waiting_customer(line, ago=50)
    # when the agent closes the chat, through the real trigger (run once the close commits)
    with django_capture_on_commit_callbacks(execute=True):
        conversation_close(participant=Participant(kind="agent", id=agent.id), conversation_id=current.id)
    # then the freed slot goes to the oldest waiting customer
    assert status_of(older) == (ConversationStatus.ACTIVE, agent.id)
    assert status_of(younger) == (ConversationStatus.WAITING, None)


def test_starting_a_conversation_triggers_the_rule_at_once(line, django_capture_on_commit_callbacks):
    agent = agent_in(line)
    with django_capture_on_commit_callbacks(execute=True):
        conversation = waiting_customer(line)
    assert status_of(conversation) == (ConversationStatus.ACTIVE, agent.id)


def test_an_agent_coming_online_or_connecting_triggers_the_rule(line, django_capture_on_commit_callbacks):
    first = waiting_customer(line, ago=20)
    second = waiting_customer(line, ago=10)
    away = agent_in(line, capacity=1, presence_status=Presence.AWAY)
    unplugged = agent_in(line, capacity=1, connected=False)
    with django_capture_on_commit_callbacks(execute=True):
        agent_presence_set(agent_id=away.id, status=Presence.ONLINE)
    assert status_of(first) == (ConversationStatus.ACTIVE, away.id)
    connect(unplugged)
    with django_capture_on_commit_callbacks(execute=True):
        agent_connected(agent_id=unplugged.id)
    assert status_of(second) == (ConversationStatus.ACTIVE, unplugged.id)


def test_manual_pick_takes_a_chosen_conversation_within_capacity(line):
    # given an agent with one free slot and two waiting customers
    agent = agent_in(line, capacity=1)
    head = waiting_customer(line, ago=50)
    chosen = waiting_customer(line, ago=10)
    # when the agent picks the second one, then it is theirs, the head still waits
    picked = assignment_pick(agent_id=agent.id, conversation_id=chosen.id)
    assert (picked.status, picked.agent_id) == (ConversationStatus.ACTIVE, agent.id)
    assert system_events(chosen)[-1] == "assigned"
    assert status_of(head) == (ConversationStatus.WAITING, None)
    # when they pick another while full, then it is refused and nothing changes
    with pytest.raises(ChatError) as refusal:
        assignment_pick(agent_id=agent.id, conversation_id=head.id)
    assert refusal.value.code == ErrorCode.AGENT_UNAVAILABLE
    assert status_of(head) == (ConversationStatus.WAITING, None)
    assert load(agent) == 1


@pytest.mark.parametrize("how", ["away", "offline", "disconnected"])
def test_manual_pick_needs_an_online_connected_agent(line, how):
    agent = agent_in(
        line, presence_status=Presence.ONLINE if how == "disconnected" else how, connected=how != "disconnected"
    )
    conversation = waiting_customer(line)
    with pytest.raises(ChatError) as refusal:
        assignment_pick(agent_id=agent.id, conversation_id=conversation.id)
    assert refusal.value.code == ErrorCode.AGENT_UNAVAILABLE
    assert status_of(conversation) == (ConversationStatus.WAITING, None)


def test_manual_pick_outside_the_queue_or_the_agents_lines_is_not_found(line):
    agent = agent_in(line, capacity=2)
    foreign = waiting_customer(BusinessLineFactory())
    active = waiting_customer(line)
    assignment_run(business_line_id=line.id)
    for conversation in (foreign, active):
        with pytest.raises(ChatError) as refusal:
            assignment_pick(agent_id=agent.id, conversation_id=conversation.id)
        assert refusal.value.code == ErrorCode.NOT_FOUND
    assert status_of(foreign) == (ConversationStatus.WAITING, None)


def test_a_missed_conversation_can_be_picked(line):
    # given a message left while nobody was online
    customer = CustomerFactory(business_line=line)
    missed = conversation_leave_message(customer=customer, channel="web", body="Call me back", email="a@b.example")
    assert missed.status == ConversationStatus.MISSED
    agent = agent_in(line)
    # the rule never assigns missed conversations by itself
    assert assignment_run(business_line_id=line.id) == []
    # when an agent picks it, then it is theirs and open again
    picked = assignment_pick(agent_id=agent.id, conversation_id=missed.id)
    assert (picked.status, picked.agent_id, picked.closed_at, picked.close_reason) == (
        ConversationStatus.ACTIVE,
        agent.id,
        None,
        "",
    )
    assert system_events(missed)[-2:] == ["left_message", "assigned"]


def test_a_missed_conversation_of_a_customer_with_an_open_one_is_not_picked(line):
    customer = CustomerFactory(business_line=line)
    missed = conversation_leave_message(customer=customer, channel="web", body="hello?")
    conversation_start(customer=customer, channel="web")
    agent = agent_in(line)
    with pytest.raises(ChatError) as refusal:
        assignment_pick(agent_id=agent.id, conversation_id=missed.id)
    assert refusal.value.code == ErrorCode.AGENT_UNAVAILABLE
    assert status_of(missed) == (ConversationStatus.MISSED, None)


def test_a_slot_freed_in_one_line_serves_the_other_lines_queue_at_once(line, django_capture_on_commit_callbacks):
    # given an agent of two lines, full with a chat of the second line, and a customer waiting in the first
    second_line = BusinessLineFactory()
    shared = agent_in(line, second_line, capacity=1)
    held = waiting_customer(second_line)
    assert assignment_run(business_line_id=second_line.id) == [held.id]
    queued = waiting_customer(line)
    # when the agent closes the second line's chat, through the real trigger
    with django_capture_on_commit_callbacks(execute=True):
        conversation_close(participant=Participant(kind="agent", id=shared.id), conversation_id=held.id)
    # then the freed slot serves the first line's customer at once, not a sweep later
    assert status_of(queued) == (ConversationStatus.ACTIVE, shared.id)
