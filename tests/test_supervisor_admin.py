"""What supervisors do in the admin beside reading reports (issue 13): the transcript read as a chat, the export
crediting every agent who handled a conversation, the list filters the reports page links to (a conversation's
start in its business line's time zone), and editing business lines, teams and agents."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from agents.demo import demo_seed
from agents.models import Agent
from chat.lifecycle import conversation_close, conversation_start
from chat.models import Conversation
from chat.permissions import Participant
from chat.services import attachment_upload, conversation_rate, message_send, whisper_send
from desk.models import Label
from desk.services import conversation_labels_set
from routing.models import BusinessLine
from routing.services import assignment_pick, conversation_transfer, routing_sweep
from tests.attachment_storage import attachment_storage
from tests.factories import AgentFactory, BusinessLineFactory, CustomerFactory, UserFactory
from tests.routing.helpers import agent_in, connect, routing_keys_clear

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:chat_conversation_changelist")
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # Monday 18:00 in Shanghai


@pytest.fixture(autouse=True)
def presence_forgotten() -> Iterator[None]:
    yield
    routing_keys_clear()


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def supervisor(client):
    user = UserFactory(username="sup", is_staff=True)
    user.groups.add(Group.objects.get(name="Supervisors"))
    client.force_login(user)
    return user


def agent_says(agent: Agent, conversation: Conversation, text: str, *, internal: bool = False) -> None:
    message_send(
        participant=Participant(kind="agent", id=agent.id),
        conversation_id=conversation.id,
        client_msg_id=text,
        body=text,
        internal=internal,
    )


@pytest.fixture
def transferred(clock):
    """A Shanghai conversation: Alice picks it at 20 s and answers at 30 s, transfers it to Bob at 60 s, Bob
    answers at 90 s (and writes an internal note), the customer closes it at 300 s and rates it 4."""
    line = BusinessLineFactory(name="Shop", time_zone="Asia/Shanghai")
    alice = agent_in(line, connected=False)
    bob = agent_in(line, connected=False)
    Agent.objects.filter(pk=alice.pk).update(display_name="Alice")
    Agent.objects.filter(pk=bob.pk).update(display_name="Bob")
    conversation, _ = conversation_start(customer=CustomerFactory(business_line=line, name="Ann"), channel="web")
    clock.move_to(T0 + timedelta(seconds=20))
    connect(alice)
    assignment_pick(agent_id=alice.id, conversation_id=conversation.id)
    clock.move_to(T0 + timedelta(seconds=30))
    agent_says(alice, conversation, "Hello from Alice")
    clock.move_to(T0 + timedelta(seconds=60))
    connect(bob, "bob-conn")
    conversation_transfer(agent_id=alice.id, conversation_id=conversation.id, to_agent_id=bob.id)
    clock.move_to(T0 + timedelta(seconds=90))
    agent_says(bob, conversation, "Bob here")
    agent_says(bob, conversation, "VIP customer", internal=True)
    clock.move_to(T0 + timedelta(seconds=300))
    conversation_close(
        participant=Participant(kind="customer", id=conversation.customer_id), conversation_id=conversation.id
    )
    conversation_rate(customer_id=conversation.customer_id, conversation_id=conversation.id, rating=4)
    return conversation


def test_the_export_credits_every_agent_who_handled_a_transferred_conversation(client, supervisor, transferred):
    """Failed before `handler_ids`: the export's single `agent` column named Bob only, who had it last."""
    # and Bob labelled it
    transferred.refresh_from_db()
    labels = [Label.objects.create(business_line=transferred.business_line, name=name) for name in ("vip", "refund")]
    conversation_labels_set(
        agent_id=transferred.agent_id, conversation_id=transferred.pk, label_ids=[label.pk for label in labels]
    )

    response = client.post(CHANGELIST, {"action": "export_transcripts", "_selected_action": [transferred.pk]})

    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert {row["agents"] for row in rows} == {"Alice; Bob"}
    first = rows[0]
    assert {key: first[key] for key in ("close_reason", "started_at", "assigned_at", "first_response_at")} == {
        "close_reason": "customer",
        "started_at": "2026-03-02T18:00:00+08:00",
        "assigned_at": "2026-03-02T18:00:20+08:00",
        "first_response_at": "2026-03-02T18:00:30+08:00",
    }
    assert (first["wait_seconds"], first["first_response_seconds"], first["handling_seconds"]) == (
        "20.0",
        "30.0",
        "280.0",
    )
    assert (first["rating"], first["labels"]) == ("4", "refund; vip")
    authors = [(row["sender"], row["author"], row["internal_note"]) for row in rows if row["sender"] != "system"]
    assert authors == [("agent", "Alice", "no"), ("agent", "Bob", "no"), ("agent", "Bob", "yes")]


def test_the_transcript_reads_as_a_chat_each_message_once_notes_and_files_marked(
    client, supervisor, transferred, attachment_storage
):
    # given a file the customer sent in another conversation
    line = transferred.business_line
    other, _ = conversation_start(customer=CustomerFactory(business_line=line), channel="web")
    customer = Participant(kind="customer", id=other.customer_id)
    upload = attachment_upload(
        participant=customer, conversation_id=other.pk, upload=SimpleUploadedFile("plan.txt", b"a plan")
    )
    message_send(
        participant=customer, conversation_id=other.pk, client_msg_id="f", body="my plan", attachment_ids=[upload.pk]
    )

    page = client.get(reverse("admin:chat_conversation_change", args=[transferred.pk])).content.decode()
    with_file = client.get(reverse("admin:chat_conversation_change", args=[other.pk])).content.decode()

    assert page.count("Hello from Alice") == 1
    assert page.count("Bob here") == 1
    assert '<li class="transcript-note"' in page
    assert "Internal note · agents only" in page
    assert "2026-03-02 18:00:30" in page  # in the business line's time zone
    assert "Alice, Bob" in page  # handled by
    assert '<span class="transcript-badge">Attachment</span>' in with_file
    assert f'href="/api/attachments/{upload.pk}/download/?sig=' in with_file


def shanghai_conversations(clock) -> dict[str, Conversation]:
    """Started Monday 08:59:59, Monday 09:00:00, Monday 23:59:59 and Tuesday 00:00:00, Shanghai time (UTC+8);
    business hours Monday 09:00-18:00 and Tuesday 00:00-01:00."""
    line = BusinessLineFactory(
        time_zone="Asia/Shanghai", business_hours={"mon": [["09:00", "18:00"]], "tue": [["00:00", "01:00"]]}
    )
    moments = {
        "mon_0859": datetime(2026, 3, 2, 0, 59, 59, tzinfo=UTC),
        "mon_0900": datetime(2026, 3, 2, 1, 0, 0, tzinfo=UTC),
        "mon_2359": datetime(2026, 3, 2, 15, 59, 59, tzinfo=UTC),
        "tue_0000": datetime(2026, 3, 2, 16, 0, 0, tzinfo=UTC),
    }
    started = {}
    for name, moment in moments.items():
        clock.move_to(moment)
        started[name], _ = conversation_start(customer=CustomerFactory(business_line=line), channel="web")
    return started


def listed(client, **query) -> set[int]:
    response = client.get(CHANGELIST, query)
    assert response.status_code == 200
    return {conversation.pk for conversation in response.context["cl"].result_list}


def test_the_list_filters_by_hour_weekday_and_business_hours_in_the_lines_time_zone(client, supervisor, clock):
    started = shanghai_conversations(clock)
    # and a UTC line's conversation at 23:30 UTC on Monday (Tuesday 07:30 in Shanghai, Monday for its line)
    clock.move_to(datetime(2026, 3, 2, 23, 30, tzinfo=UTC))
    utc, _ = conversation_start(customer=CustomerFactory(business_line=BusinessLineFactory()), channel="web")
    ids = {conversation.pk: name for name, conversation in started.items()} | {utc.pk: "utc_2330"}

    def names(**query) -> set[str]:
        return {ids[pk] for pk in listed(client, **query)}

    assert names(hour="0") == {"tue_0000"}
    assert names(hour="23") == {"mon_2359", "utc_2330"}
    assert names(weekday="1") == {"mon_0859", "mon_0900", "mon_2359", "utc_2330"}
    assert names(weekday="2") == {"tue_0000"}
    assert names(business_hours="1") == {"mon_0900", "tue_0000", "utc_2330"}  # the UTC line is always open
    assert names(started_at__gte="2026-03-03T00:00:00+08:00", started_at__lt="2026-03-04T00:00:00+08:00") == {
        "tue_0000",
        "utc_2330",
    }


def test_a_filter_value_that_is_not_a_choice_is_refused_by_the_list(client, supervisor):
    response = client.get(CHANGELIST, {"hour": "24"})

    assert (response.status_code, response["Location"]) == (302, f"{CHANGELIST}?e=1")


def test_the_demo_supervisor_edits_a_business_line_its_team_and_an_agent(client):
    seed = demo_seed()
    client.login(username="supervisor", password=seed.password)
    line = seed.business_line
    carol = seed.agents[2]
    newcomer = AgentFactory(display_name="Dan")
    account = newcomer.user_id

    line_page = client.get(reverse("admin:routing_businessline_change", args=[line.pk]))
    agent_page = client.get(reverse("admin:agents_agent_change", args=[carol.pk]))
    saved = client.post(
        reverse("admin:agents_agent_change", args=[newcomer.pk]),
        {"display_name": "Dan", "capacity": "5", "business_lines": [str(line.pk)]},
    )

    assert (line_page.status_code, agent_page.status_code) == (200, 200)
    assert line_page.context["has_change_permission"] is True
    assert agent_page.context["has_change_permission"] is True
    assert saved.status_code == 302
    newcomer.refresh_from_db()
    assert (newcomer.capacity, list(newcomer.business_lines.all())) == (5, [line])
    assert newcomer.user_id == account  # the account behind an agent stays the administrators' to change
    assert BusinessLine.objects.get(pk=line.pk).identity_secret == "demo-identity-secret"


def test_the_list_filters_by_outcome_as_the_reports_count_it(client, supervisor, clock):
    """Missed then picked counts as missed and assigned; closed by the customer while waiting is abandoned."""
    line = BusinessLineFactory(wait_timeout=60)
    agent = agent_in(line, connected=False)
    picked_late, _ = conversation_start(customer=CustomerFactory(business_line=line), channel="web")
    clock.move_to(T0 + timedelta(seconds=61))
    routing_sweep()
    clock.move_to(T0 + timedelta(seconds=120))
    connect(agent)
    assignment_pick(agent_id=agent.id, conversation_id=picked_late.id)
    gave_up, _ = conversation_start(customer=CustomerFactory(business_line=line), channel="web")
    conversation_close(participant=Participant(kind="customer", id=gave_up.customer_id), conversation_id=gave_up.id)

    assert listed(client, outcome="assigned") == {picked_late.pk}
    assert listed(client, outcome="missed") == {picked_late.pk}
    assert listed(client, outcome="abandoned") == {gave_up.pk}


def test_the_migration_credits_earlier_conversations_to_the_agents_who_wrote_in_them():
    """Conversations held before `handler_ids`: the agents who wrote (in the order they first did), then the current
    agent. Migrated back, written as then, migrated forward (PostgreSQL rolls the schema back with the test)."""
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate([("chat", "0006_attachment")])
    old = executor.loader.project_state([("chat", "0006_attachment")]).apps
    OldConversation, OldMessage = old.get_model("chat", "Conversation"), old.get_model("chat", "Message")
    line = BusinessLineFactory()
    first, second, third = (AgentFactory(business_lines=[line]) for _ in range(3))

    def conversation(agent_id, writers):
        row = OldConversation.objects.create(
            customer_id=CustomerFactory(business_line=line).id,
            business_line_id=line.id,
            channel="web",
            status="closed",
            agent_id=agent_id,
            started_at=T0,
            closed_at=T0 + timedelta(seconds=60),
            close_reason="agent",
        )
        for seq, writer in enumerate(writers, start=1):
            OldMessage.objects.create(conversation_id=row.id, seq=seq, sender="agent", agent_id=writer, body="hi")
        return row.id

    transferred = conversation(third.id, [second.id, first.id, second.id])
    silent = conversation(first.id, [])
    never_assigned = conversation(None, [])

    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the rows' deferred checks now: ALTER TABLE waits for none
    executor.loader.build_graph()
    executor.migrate(latest)

    handlers = dict(
        Conversation.objects.filter(id__in=[transferred, silent, never_assigned]).values_list("id", "handler_ids")
    )
    assert handlers == {transferred: [second.id, first.id, third.id], silent: [first.id], never_assigned: []}


def test_a_whisper_names_its_supervisor_in_the_transcript_and_the_export(client, supervisor, clock):
    """Failed before `Message.author_user`: the transcript showed a whisper as a system event, by nobody."""
    # given a waiting conversation a supervisor whispered in
    line = BusinessLineFactory(name="Shop", time_zone="Asia/Shanghai")
    conversation, _ = conversation_start(customer=CustomerFactory(business_line=line, name="Ann"), channel="web")
    boss = UserFactory(username="boss", first_name="Sam", last_name="Lee")
    boss.groups.add(Group.objects.get(name="Supervisors"))
    whisper, _ = whisper_send(
        supervisor=Participant(kind="supervisor", id=boss.id),
        conversation_id=conversation.id,
        client_msg_id="w",
        body="Offer the coupon",
    )

    page = client.get(reverse("admin:chat_conversation_change", args=[conversation.pk])).content.decode()
    response = client.post(CHANGELIST, {"action": "export_transcripts", "_selected_action": [conversation.pk]})

    assert whisper.author_user_id == boss.id
    entry = page[page.index(f'data-seq="{whisper.seq}"') :].split("</li>")[0]
    assert "<strong>Sam Lee (whisper)</strong>" in entry
    assert "Internal note · agents only" in entry
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [
        (row["sender"], row["author"], row["internal_note"]) for row in rows if row["body"] == "Offer the coupon"
    ] == [("system", "Sam Lee (whisper)", "yes")]
