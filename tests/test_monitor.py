"""The supervisors' live monitor (docs/protocol.md, "Supervisors"): what `floor_live` shows, on a hand-made
timeline played through the services with the clock moved by time-machine."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth.models import Group

from agents.models import Presence
from chat.lifecycle import conversation_leave_message, conversation_start
from chat.models import Conversation
from chat.permissions import Participant
from chat.services import message_send
from reports.floor_selectors import floor_live
from routing.services import assignment_pick, routing_sweep
from tests.factories import AgentFactory, BusinessLineFactory, CustomerFactory, UserFactory
from tests.routing.helpers import connect, routing_keys_clear

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def presence_forgotten() -> Iterator[None]:
    yield
    routing_keys_clear()


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def at(clock: time_machine.Traveller, seconds: float) -> None:
    clock.move_to(T0 + timedelta(seconds=seconds))


def started(line) -> Conversation:
    conversation, created = conversation_start(customer=CustomerFactory(business_line=line), channel="web")
    assert created
    return conversation


def says(who: str, who_id: int, conversation: Conversation, text: str) -> None:
    message_send(
        participant=Participant(kind=who, id=who_id), conversation_id=conversation.id, client_msg_id=text, body=text
    )


def test_the_monitor_shows_the_queue_each_agents_chats_with_their_unanswered_clocks_and_the_missed(clock):
    # Given a line with a reply target of 2 minutes, Ann (room for 2) and Bob (away, no live socket)
    line = BusinessLineFactory(name="North", agent_reply_timeout=120, wait_timeout=600)
    ann = AgentFactory(display_name="Ann", business_lines=[line], capacity=2, presence=Presence.ONLINE)
    bob = AgentFactory(display_name="Bob", business_lines=[line], capacity=3, presence=Presence.AWAY)
    # D waited past the wait timeout (missed at -90 s); E left a message at -50 s
    at(clock, -700)
    missed = started(line)
    at(clock, -90)
    assert routing_sweep()["missed"] == 1
    at(clock, -50)
    left = conversation_leave_message(
        customer=CustomerFactory(business_line=line), channel="web", body="Call me back, please"
    )
    # A, B, C start; Ann takes A and B; C waits
    at(clock, 0)
    a = started(line)
    at(clock, 5)
    b = started(line)
    at(clock, 10)
    c = started(line)
    at(clock, 20)
    connect(ann)
    assignment_pick(agent_id=ann.id, conversation_id=a.id)
    at(clock, 25)
    assignment_pick(agent_id=ann.id, conversation_id=b.id)
    # B's customer asks at 26 s and again at 180 s, and nobody answers; A's asks at 30 s, Ann answers at 40 s, A's
    # asks again at 150 s
    at(clock, 26)
    says("customer", b.customer_id, b, "Where is my parcel?")
    at(clock, 30)
    says("customer", a.customer_id, a, "Hello?")
    at(clock, 40)
    says("agent", ann.id, a, "Hi, how can I help?")
    at(clock, 150)
    says("customer", a.customer_id, a, "My order is late")
    at(clock, 180)
    says("customer", b.customer_id, b, "Hello??")

    # When the monitor is read at 200 s
    at(clock, 200)
    connect(ann)  # her socket's heartbeat, renewing her presence
    snapshot = floor_live()

    # Then
    assert snapshot["type"] == "monitor.snapshot"
    assert snapshot["server_time"] == "2026-03-02T10:03:20+00:00"
    [north] = [entry for entry in snapshot["lines"] if entry["business_line"]["key"] == line.key]
    assert north["business_line"] == {"key": line.key, "name": "North"}
    assert north["reply_target_seconds"] == 120
    assert (north["waiting"], north["longest_wait_seconds"], north["active"], north["missed_today"]) == (
        1,
        190.0,
        2,
        1,
    )
    assert [(q["id"], q["queue_position"], q["waited_seconds"]) for q in north["queue"]] == [(c.id, 1, 190.0)]
    assert [
        (agent["id"], agent["name"], agent["status"], agent["load"], agent["capacity"]) for agent in north["agents"]
    ] == [(ann.id, "Ann", "online", 2, 2), (bob.id, "Bob", "offline", 0, 3)]
    ann_chats = north["agents"][0]["chats"]
    assert [
        (chat["id"], chat["assigned_at"], chat["unanswered_since"], chat["unanswered_seconds"], chat["breach"])
        for chat in ann_chats
    ] == [
        (a.id, "2026-03-02T10:00:20+00:00", "2026-03-02T10:02:30+00:00", 50.0, False),
        (b.id, "2026-03-02T10:00:25+00:00", "2026-03-02T10:00:26+00:00", 174.0, True),
    ]
    assert [(chat["last_unanswered_at"], chat["last_unanswered_seconds"]) for chat in ann_chats] == [
        ("2026-03-02T10:02:30+00:00", 50.0),
        ("2026-03-02T10:03:00+00:00", 20.0),
    ]
    assert north["agents"][1]["chats"] == []
    assert north["breaches"] == 1
    assert [(m["id"], m["left_message"], m["missed_seconds"], m["close_reason"]) for m in north["missed"]] == [
        (missed.id, False, 290.0, "wait_timeout"),
        (left.id, True, 250.0, "offline"),
    ]


def test_an_answered_chat_has_no_clock(clock):
    line = BusinessLineFactory(agent_reply_timeout=60)
    ann = AgentFactory(business_lines=[line], presence=Presence.ONLINE)
    conversation = started(line)
    connect(ann)
    assignment_pick(agent_id=ann.id, conversation_id=conversation.id)
    says("customer", conversation.customer_id, conversation, "Hi")
    at(clock, 10)
    says("agent", ann.id, conversation, "Hello!")
    at(clock, 500)

    [entry] = [e for e in floor_live()["lines"] if e["business_line"]["key"] == line.key]

    [chat] = entry["agents"][0]["chats"]
    assert (chat["unanswered_since"], chat["unanswered_seconds"], chat["breach"]) == (None, None, False)
    assert (chat["last_unanswered_at"], chat["last_unanswered_seconds"]) == (None, None)


def test_the_monitor_page_is_for_supervisors_only(client):
    # Anonymous visitors go to the admin's login
    answer = client.get("/admin/monitor/")
    assert (answer.status_code, answer["Location"]) == (302, "/admin/login/?next=/admin/monitor/")

    # Agents (staff users too) and other staff get a 403 page in the admin's look
    agent = AgentFactory(user__is_staff=True)
    client.force_login(agent.user)
    answer = client.get("/admin/monitor/")
    assert answer.status_code == 403
    assert b'id="monitor-forbidden"' in answer.content and b'id="site-name"' in answer.content

    # Supervisors get the page, its script and the socket's path
    supervisor = UserFactory(is_staff=True)
    supervisor.groups.add(Group.objects.get_or_create(name="Supervisors")[0])
    client.force_login(supervisor)
    answer = client.get("/admin/monitor/")
    assert answer.status_code == 200
    assert b'<script type="module" src="/static/monitor/monitor.js">' in answer.content
    assert b'"socket_path": "/ws/supervisor/"' in answer.content

    # ... and find it on the admin's home
    assert b'<a href="/admin/monitor/">Live monitor</a>' in client.get("/admin/").content

    # and so do superusers
    client.force_login(UserFactory(is_superuser=True, is_staff=True))
    assert client.get("/admin/monitor/").status_code == 200
    assert b'<a href="/admin/monitor/">Live monitor</a>' in client.get("/admin/").content

    # other staff see no such link
    client.force_login(UserFactory(is_staff=True))
    assert b"/admin/monitor/" not in client.get("/admin/").content
