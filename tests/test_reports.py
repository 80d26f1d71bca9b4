"""Supervisors' reports and monitor (docs/reports.md): every definition on hand-made timelines, played through the
services with the clock moved by time-machine (no sleeps), then read through the REST API as a supervisor."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from rest_framework.test import APIClient

from agents.models import Presence
from chat.lifecycle import conversation_close, conversation_start
from chat.models import Conversation
from chat.permissions import Participant
from chat.services import conversation_rate, message_send
from customers.services import customer_token_issue
from routing.services import assignment_pick, conversation_transfer, routing_sweep
from tests.factories import AgentFactory, BusinessLineFactory, CustomerFactory, UserFactory
from tests.routing.helpers import agent_in, connect, routing_keys_clear

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # 18:00 in Shanghai
DAY = {"since": "2026-03-02", "until": "2026-03-03"}  # a day in the business line's time zone (UTC+8)


@pytest.fixture(autouse=True)
def presence_forgotten() -> Iterator[None]:
    yield
    routing_keys_clear()


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def supervisor_api() -> APIClient:
    """A supervisor with the token `POST /api/auth/token/` gives them, as a supervisor's client would hold it."""
    user = UserFactory()
    user.groups.add(Group.objects.get_or_create(name="Supervisors")[0])
    answer = APIClient().post("/api/auth/token/", {"username": user.username, "password": "pw"}, format="json")
    assert answer.status_code == 200
    assert answer.json()["agent_id"] is None
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {answer.json()['token']}")
    return api


def at(clock: time_machine.Traveller, start: datetime, seconds: float) -> None:
    clock.move_to(start + timedelta(seconds=seconds))


def started(line, channel: str) -> Conversation:
    conversation, created = conversation_start(customer=CustomerFactory(business_line=line), channel=channel)
    assert created
    return conversation


def picked(agent, conversation: Conversation) -> None:
    """The agent takes it from the queue (or the missed list), connected at that moment."""
    connect(agent)
    assignment_pick(agent_id=agent.id, conversation_id=conversation.id)


def agent_says(agent, conversation: Conversation, text: str, *, internal: bool = False) -> None:
    participant = Participant(kind="agent", id=agent.id)
    message_send(
        participant=participant, conversation_id=conversation.id, client_msg_id=text, body=text, internal=internal
    )


def closed_by(kind: str, who_id: int, conversation: Conversation) -> None:
    conversation_close(participant=Participant(kind=kind, id=who_id), conversation_id=conversation.id)


@pytest.fixture
def day(clock) -> SimpleNamespace:
    """A day of conversations of a Shanghai business line, each timeline in seconds from its start:

    A web: assigned to agent 1 at 30 s, an internal note at 40 s, agent 1's first answer at 50 s, closed by the
       agent at 230 s, rated 5.
    B h5: assigned to agent 1 at 20 s, transferred to agent 2 at 80 s, agent 2's first answer at 100 s, closed by
       the customer at 300 s, rated 3.
    C app: only system messages: assigned to agent 1 at 60 s, closed by the agent at 120 s without a word.
    D web: missed by the wait timeout (60 s), picked by agent 1 at 600 s, answered at 620 s, closed at 700 s.
    E web: closed by the customer while waiting, at 45 s.
    F h5: started at 23:59:59 local time, still waiting; G web: started at 00:00:00 the next day (local).
    """
    line = BusinessLineFactory(key="-shop", time_zone="Asia/Shanghai", wait_timeout=60)
    agent1 = agent_in(line, presence_status=Presence.ONLINE, connected=False)
    agent2 = agent_in(line, presence_status=Presence.ONLINE, connected=False)

    a_start = T0
    a = started(line, "web")
    at(clock, a_start, 30)
    picked(agent1, a)
    at(clock, a_start, 40)
    agent_says(agent1, a, "note: a regular", internal=True)
    at(clock, a_start, 50)
    agent_says(agent1, a, "Hello, how can I help?")
    at(clock, a_start, 230)
    closed_by("agent", agent1.id, a)
    conversation_rate(customer_id=a.customer_id, conversation_id=a.id, rating=5)

    b_start = T0 + timedelta(minutes=10)
    clock.move_to(b_start)
    b = started(line, "h5")
    at(clock, b_start, 20)
    picked(agent1, b)
    at(clock, b_start, 80)
    connect(agent2)
    conversation_transfer(agent_id=agent1.id, conversation_id=b.id, to_agent_id=agent2.id)
    at(clock, b_start, 100)
    agent_says(agent2, b, "I can help with that")
    at(clock, b_start, 300)
    closed_by("customer", b.customer_id, b)
    conversation_rate(customer_id=b.customer_id, conversation_id=b.id, rating=3)

    c_start = T0 + timedelta(minutes=20)
    clock.move_to(c_start)
    c = started(line, "app")
    at(clock, c_start, 60)
    picked(agent1, c)
    at(clock, c_start, 120)
    closed_by("agent", agent1.id, c)

    d_start = T0 + timedelta(minutes=30)
    clock.move_to(d_start)
    d = started(line, "web")
    at(clock, d_start, 61)  # nobody connected: the sweep misses it
    assert routing_sweep()["missed"] == 1
    at(clock, d_start, 600)
    picked(agent1, d)
    at(clock, d_start, 620)
    agent_says(agent1, d, "Sorry for the wait")
    at(clock, d_start, 700)
    closed_by("agent", agent1.id, d)

    e_start = T0 + timedelta(minutes=40)
    clock.move_to(e_start)
    e = started(line, "web")
    at(clock, e_start, 45)
    closed_by("customer", e.customer_id, e)

    clock.move_to(datetime(2026, 3, 2, 15, 59, 59, tzinfo=UTC))
    f = started(line, "h5")
    clock.move_to(datetime(2026, 3, 2, 16, 0, 0, tzinfo=UTC))
    g = started(line, "web")
    return SimpleNamespace(line=line, agent1=agent1, agent2=agent2, a=a, b=b, c=c, d=d, e=e, f=f, g=g)


def test_the_summary_follows_every_definition(day):
    # When a supervisor asks for the local day (Shanghai) of the business line
    answer = supervisor_api().get("/api/reports/summary/", {"business_line": day.line.key, **DAY})

    # Then A-F count (G started the next local day); waits 30, 20, 60, 600; first responses 50, 100, 620 (C had
    # only system messages, the internal note does not count); handlings 200, 280, 60, 100 (D from its pick);
    # B is agent 2's, who had it last
    assert answer.status_code == 200
    assert answer.json() == {
        "conversations": 6,
        "assigned": 4,
        "missed": 1,
        "abandoned": 1,
        "wait_seconds": {"avg": 177.5, "p50": 45.0, "p90": 438.0, "max": 600.0},
        "first_response_seconds": {"avg": 256.667, "p50": 100.0, "p90": 516.0, "max": 620.0},
        "handling_seconds": {"avg": 160.0, "p50": 150.0, "p90": 256.0, "max": 280.0},
        "csat": {"responses": 2, "average": 4.0, "score": 50.0},
        "by_channel": {"web": 3, "h5": 2, "app": 1},
        "by_agent": [
            {
                "agent_id": day.agent1.id,
                "conversations": 3,
                "first_response_seconds": {"avg": 335.0, "p50": 335.0, "p90": 563.0, "max": 620.0},
                "handling_seconds": {"avg": 120.0, "p50": 100.0, "p90": 180.0, "max": 200.0},
                "csat": {"responses": 1, "average": 5.0, "score": 100.0},
            },
            {
                "agent_id": day.agent2.id,
                "conversations": 1,
                "first_response_seconds": {"avg": 100.0, "p50": 100.0, "p90": 100.0, "max": 100.0},
                "handling_seconds": {"avg": 280.0, "p50": 280.0, "p90": 280.0, "max": 280.0},
                "csat": {"responses": 1, "average": 3.0, "score": 0.0},
            },
        ],
    }


def test_the_next_local_day_holds_only_what_started_after_local_midnight(day):
    answer = supervisor_api().get(
        "/api/reports/summary/", {"business_line": day.line.key, "since": "2026-03-03", "until": "2026-03-04"}
    )

    assert answer.json()["conversations"] == 1
    assert answer.json()["by_channel"] == {"web": 1, "h5": 0, "app": 0}
    assert answer.json()["wait_seconds"] == {"avg": None, "p50": None, "p90": None, "max": None}
    assert answer.json()["csat"] == {"responses": 0, "average": None, "score": None}
    assert answer.json()["by_agent"] == []


def test_the_rows_are_one_per_conversation_in_pages(day):
    api = supervisor_api()

    first = api.get("/api/reports/conversations/", {"business_line": day.line.key, **DAY, "page_size": 2}).json()
    second = api.get(first["next"]).json()

    assert [row["id"] for row in first["results"]] == [day.a.id, day.b.id]
    assert [row["id"] for row in second["results"]] == [day.c.id, day.d.id]
    assert first["results"][1] == {
        "id": day.b.id,
        "business_line": "-shop",
        "channel": "h5",
        "customer_id": day.b.customer_id,
        "agent_id": day.agent2.id,
        "status": "closed",
        "close_reason": "customer",
        "started_at": "2026-03-02T18:10:00+08:00",
        "assigned_at": "2026-03-02T18:10:20+08:00",
        "first_response_at": "2026-03-02T18:11:40+08:00",
        "closed_at": "2026-03-02T18:15:00+08:00",
        "wait_seconds": 20.0,
        "first_response_seconds": 100.0,
        "handling_seconds": 280.0,
        "rating": 3,
        "labels": [],
    }
    missed = second["results"][1]
    assert (missed["status"], missed["close_reason"], missed["wait_seconds"], missed["handling_seconds"]) == (
        "closed",
        "agent",
        600.0,
        100.0,
    )


def test_the_csv_has_the_same_rows_with_a_byte_order_mark_and_no_formula(day):
    answer = supervisor_api().get(
        "/api/reports/conversations/", {"business_line": day.line.key, **DAY, "format": "csv"}
    )

    assert answer.status_code == 200
    assert answer["Content-Type"] == "text/csv; charset=utf-8"
    text = b"".join(answer.streaming_content).decode("utf-8")
    assert text.startswith("\ufeffid,business_line,channel,customer_id,agent_id,status,close_reason,started_at,")
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    assert [row["id"] for row in rows] == [str(c.id) for c in (day.a, day.b, day.c, day.d, day.e, day.f)]
    assert rows[4] == {
        "id": str(day.e.id),
        "business_line": "'-shop",  # a cell starting with "-" would be a formula
        "channel": "web",
        "customer_id": str(day.e.customer_id),
        "agent_id": "",
        "status": "closed",
        "close_reason": "customer",
        "started_at": "2026-03-02T18:40:00+08:00",
        "assigned_at": "",
        "first_response_at": "",
        "closed_at": "2026-03-02T18:40:45+08:00",
        "wait_seconds": "",
        "first_response_seconds": "",
        "handling_seconds": "",
        "rating": "",
        "labels": "",
    }


def test_the_monitor_tells_the_floor_now_and_the_misses_of_the_local_day(clock):
    # Given a Shanghai line: M1 missed at 23:59:30 local time, M2 at 00:00:45 the next day
    line = BusinessLineFactory(time_zone="Asia/Shanghai", wait_timeout=60)
    busy = agent_in(line, connected=False)
    away = AgentFactory(business_lines=[line], presence=Presence.AWAY, display_name="Zoe")
    gone = agent_in(line, connected=False)
    clock.move_to(datetime(2026, 3, 2, 15, 58, 0, tzinfo=UTC))
    started(line, "web")
    clock.move_to(datetime(2026, 3, 2, 15, 59, 30, tzinfo=UTC))
    assert routing_sweep()["missed"] == 1
    clock.move_to(datetime(2026, 3, 2, 15, 59, 40, tzinfo=UTC))
    started(line, "web")
    clock.move_to(datetime(2026, 3, 2, 16, 0, 45, tzinfo=UTC))
    assert routing_sweep()["missed"] == 1
    # and one customer waiting since 00:01:00, one chatting with an agent since 00:01:20
    clock.move_to(datetime(2026, 3, 2, 16, 1, 0, tzinfo=UTC))
    started(line, "web")
    clock.move_to(datetime(2026, 3, 2, 16, 1, 10, tzinfo=UTC))
    chatting = started(line, "app")
    clock.move_to(datetime(2026, 3, 2, 16, 1, 20, tzinfo=UTC))
    connect(away)
    picked(busy, chatting)

    # When a supervisor looks at 00:02:00 local time
    clock.move_to(datetime(2026, 3, 2, 16, 2, 0, tzinfo=UTC))
    answer = supervisor_api().get("/api/monitor/", {"business_line": line.key})

    # Then (agents by name; the one online without a live socket is offline)
    assert answer.status_code == 200
    assert answer.json() == {
        "waiting": 1,
        "longest_wait_seconds": 60.0,
        "active": 1,
        "missed_today": 1,
        "agents": [
            {"id": a.id, "name": a.display_name, "status": status, "load": load, "capacity": a.capacity}
            for a, status, load in sorted(
                [(busy, "online", 1), (away, "away", 0), (gone, "offline", 0)], key=lambda t: t[0].display_name
            )
        ],
    }


ENDPOINTS = ("/api/reports/summary/", "/api/reports/conversations/", "/api/monitor/")


@pytest.mark.parametrize("path", ENDPOINTS)
def test_only_supervisors_and_superusers_may_read(path):
    line = BusinessLineFactory()
    agent = AgentFactory(business_lines=[line])
    agent_token = APIClient().post(
        "/api/auth/token/", {"username": agent.user.username, "password": "pw"}, format="json"
    )
    customer_token = customer_token_issue(customer=CustomerFactory(business_line=line))
    superuser = UserFactory(is_superuser=True, is_staff=True)
    query = {"business_line": line.key, **DAY}

    def as_(token: str | None = None, user=None) -> tuple[int, str | None]:
        api = APIClient()
        if token:
            api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        if user:
            api.force_login(user)
        answer = api.get(path, query)
        return answer.status_code, answer.json().get("code") if answer.status_code >= 400 else None

    assert as_() == (401, "not_authenticated")
    assert as_(customer_token) == (403, "not_a_supervisor")
    assert as_(agent_token.json()["token"]) == (403, "not_a_supervisor")
    assert as_(user=UserFactory(is_staff=True)) == (403, "not_a_supervisor")
    assert supervisor_api().get(path, query).status_code == 200
    assert as_(user=superuser) == (200, None)


@pytest.mark.parametrize(
    "query, status, code",
    [
        ({"since": "2026-03-02", "until": "2026-03-03"}, 400, "invalid_request"),  # no business line
        ({"business_line": "nope", "since": "2026-03-02", "until": "2026-03-03"}, 404, "business_line_not_found"),
        ({"business_line": "-shop", "until": "2026-03-03"}, 400, "invalid_request"),
        ({"business_line": "-shop", "since": "yesterday", "until": "2026-03-03"}, 400, "invalid_request"),
        ({"business_line": "-shop", "since": "2026-03-03", "until": "2026-03-02"}, 400, "invalid_request"),
        ({"business_line": "-shop", "since": "2026-03-03", "format": "csv"}, 400, "invalid_request"),
    ],
)
def test_a_bad_query_is_refused_in_json(query, status, code):
    BusinessLineFactory(key="-shop")

    answer = supervisor_api().get("/api/reports/conversations/", query)

    assert (answer.status_code, answer["Content-Type"], answer.json()["code"]) == (status, "application/json", code)


def test_the_migration_fills_the_new_timestamps_from_the_transcripts():
    """Conversations held before the reports get their first assignment, first response and miss from their
    messages: migrated back, written as then, migrated forward (PostgreSQL rolls the schema back with the test)."""
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate([("chat", "0003_conversation_waiting_since")])
    old = executor.loader.project_state([("chat", "0003_conversation_waiting_since")]).apps
    OldConversation, OldMessage = old.get_model("chat", "Conversation"), old.get_model("chat", "Message")
    line = BusinessLineFactory()
    agent = AgentFactory(business_lines=[line])
    customers = [CustomerFactory(business_line=line) for _ in range(2)]

    def conversation(customer, *, assigned_at, events):
        """Started at T0, with `events`: (seconds, sender, event, internal) in order."""
        row = OldConversation.objects.create(
            customer_id=customer.id,
            business_line_id=line.id,
            channel="web",
            status="closed",
            agent_id=agent.id,
            started_at=T0,
            assigned_at=T0 + timedelta(seconds=assigned_at),
            closed_at=T0 + timedelta(seconds=900),
            close_reason="agent",
        )
        for seq, (seconds, sender, event, internal) in enumerate(events, start=1):
            OldMessage.objects.create(
                conversation_id=row.id,
                seq=seq,
                sender=sender,
                agent_id=agent.id if sender == "agent" else None,
                event=event,
                is_internal_note=internal,
                created_at=T0 + timedelta(seconds=seconds),
            )
        return row.id

    transferred = conversation(
        customers[0],
        assigned_at=40,
        events=[
            (10, "system", "assigned", False),
            (12, "agent", "", True),
            (15, "agent", "", False),
            (40, "system", "assigned", False),
        ],
    )
    picked_later = conversation(
        customers[1],
        assigned_at=100,
        events=[(5, "customer", "", False), (60, "system", "missed", False), (100, "system", "assigned", False)],
    )

    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the rows' deferred checks now: ALTER TABLE waits for none
    executor.loader.build_graph()
    executor.migrate(latest)

    moments = {
        row["id"]: row
        for row in Conversation.objects.filter(id__in=[transferred, picked_later]).values(
            "id", "first_assigned_at", "first_agent_reply_at", "missed_at"
        )
    }
    assert moments[transferred] == {
        "id": transferred,
        "first_assigned_at": T0 + timedelta(seconds=10),
        "first_agent_reply_at": T0 + timedelta(seconds=15),
        "missed_at": None,
    }
    assert moments[picked_later] == {
        "id": picked_later,
        "first_assigned_at": T0 + timedelta(seconds=100),
        "first_agent_reply_at": None,
        "missed_at": T0 + timedelta(seconds=60),
    }
