"""The reports page (`/admin/reports/`) and the business-hours switch (issue 13, item 2): hand-made timelines of a
Shanghai business line played through the services with the clock moved by time-machine; the page, the summary
API, its CSV and the admin list the page links to must count the same conversations."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from chat.lifecycle import conversation_start
from chat.models import Conversation
from chat.permissions import Participant
from chat.services import message_send
from reports.selectors import Period, report_days, report_heatmap
from routing.services import assignment_pick
from tests.factories import AgentFactory, BusinessLineFactory, CustomerFactory, UserFactory
from tests.routing.helpers import agent_in, connect, routing_keys_clear

pytestmark = pytest.mark.django_db

PAGE = "/admin/reports/"
SHANGHAI = "Asia/Shanghai"
# Monday 2 March 2026: 08:59:59, 09:00:00 and 23:59:59 in Shanghai, then Tuesday 00:00:00 (UTC+8)
MON_0859 = datetime(2026, 3, 2, 0, 59, 59, tzinfo=UTC)
MON_0900 = datetime(2026, 3, 2, 1, 0, 0, tzinfo=UTC)
MON_2359 = datetime(2026, 3, 2, 15, 59, 59, tzinfo=UTC)
TUE_0000 = datetime(2026, 3, 2, 16, 0, 0, tzinfo=UTC)
TWO_DAYS = {"since": "2026-03-02", "until": "2026-03-04"}


@pytest.fixture(autouse=True)
def presence_forgotten() -> Iterator[None]:
    yield
    routing_keys_clear()


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(MON_0859, tick=False) as traveller:
        yield traveller


@pytest.fixture
def supervisor(client):
    user = UserFactory(is_staff=True)
    user.groups.add(Group.objects.get(name="Supervisors"))
    client.force_login(user)
    return user


def started_answered(clock, line, agent, at: datetime, *, wait: int, reply: int, channel: str = "web") -> Conversation:
    """A conversation started at `at`, picked by the agent `wait` s later, answered `reply` s after its start."""
    clock.move_to(at)
    conversation, _ = conversation_start(customer=CustomerFactory(business_line=line), channel=channel)
    clock.move_to(at + timedelta(seconds=wait))
    connect(agent)
    assignment_pick(agent_id=agent.id, conversation_id=conversation.id)
    clock.move_to(at + timedelta(seconds=reply))
    message_send(
        participant=Participant(kind="agent", id=agent.id),
        conversation_id=conversation.id,
        client_msg_id=f"reply-{conversation.id}",
        body="Hello",
    )
    return conversation


@pytest.fixture
def timeline(clock) -> SimpleNamespace:
    """Business hours Monday 09:00-18:00 and Tuesday 00:00-01:00, Shanghai time. Four conversations, each
    answered by the same agent: Monday 08:59:59 (wait 10 s, reply 20 s, outside hours), Monday 09:00:00 (wait 30,
    reply 40, inside), Monday 23:59:59 (wait 50, reply 60, outside, h5) and Tuesday 00:00:00 (wait 70, reply 80,
    inside, app)."""
    line = BusinessLineFactory(
        key="shanghai",
        time_zone=SHANGHAI,
        business_hours={"mon": [["09:00", "18:00"]], "tue": [["00:00", "01:00"]]},
    )
    agent = agent_in(line, capacity=10, connected=False)
    return SimpleNamespace(
        line=line,
        agent=agent,
        mon_0859=started_answered(clock, line, agent, MON_0859, wait=10, reply=20),
        mon_0900=started_answered(clock, line, agent, MON_0900, wait=30, reply=40),
        mon_2359=started_answered(clock, line, agent, MON_2359, wait=50, reply=60, channel="h5"),
        tue_0000=started_answered(clock, line, agent, TUE_0000, wait=70, reply=80, channel="app"),
    )


def supervisor_api() -> APIClient:
    user = UserFactory()
    user.groups.add(Group.objects.get(name="Supervisors"))
    api = APIClient()
    api.force_login(user)
    return api


def test_the_business_hours_switch_applies_to_the_summary_and_both_downloads(timeline):
    api = supervisor_api()
    query = {"business_line": "shanghai", **TWO_DAYS}

    every = api.get("/api/reports/summary/", query).json()
    within = api.get("/api/reports/summary/", {**query, "business_hours_only": "true"}).json()
    rows = api.get("/api/reports/conversations/", {**query, "business_hours_only": "true"}).json()["results"]
    csv_answer = api.get("/api/reports/conversations/", {**query, "business_hours_only": "true", "format": "csv"})
    csv_rows = list(csv.DictReader(io.StringIO(b"".join(csv_answer.streaming_content).decode("utf-8-sig"))))

    assert (every["conversations"], every["wait_seconds"]["max"]) == (4, 70.0)
    assert within["conversations"] == 2
    assert within["wait_seconds"] == {"avg": 50.0, "p50": 50.0, "p90": 66.0, "max": 70.0}
    assert within["first_response_seconds"] == {"avg": 60.0, "p50": 60.0, "p90": 76.0, "max": 80.0}
    assert within["by_channel"] == {"web": 1, "h5": 0, "app": 1}
    assert [row["id"] for row in rows] == [timeline.mon_0900.id, timeline.tue_0000.id]
    assert [row["started_at"] for row in csv_rows] == ["2026-03-02T09:00:00+08:00", "2026-03-03T00:00:00+08:00"]


def test_a_bad_business_hours_switch_is_refused(timeline):
    answer = supervisor_api().get(
        "/api/reports/summary/", {"business_line": "shanghai", **TWO_DAYS, "business_hours_only": "maybe"}
    )

    assert (answer.status_code, answer.json()["code"]) == (400, "invalid_request")


def test_days_and_hours_are_the_business_lines_at_a_day_boundary(timeline):
    """23:59:59 on Monday and 00:00:00 on Tuesday (Shanghai) are 15:59:59 and 16:00:00 UTC on Monday."""
    period = Period(
        business_line=timeline.line,
        since=datetime(2026, 3, 1, 16, 0, tzinfo=UTC),
        until=datetime(2026, 3, 3, 16, 0, tzinfo=UTC),
    )

    days = report_days(period)
    cells = report_heatmap(period)

    assert [(str(day["date"]), day["conversations"], day["by_channel"]) for day in days] == [
        ("2026-03-02", 3, {"web": 2, "h5": 1, "app": 0}),
        ("2026-03-03", 1, {"web": 0, "h5": 0, "app": 1}),
    ]
    assert days[1]["wait_seconds"] == {"avg": 70.0, "p50": 70.0, "p90": 70.0, "max": 70.0}
    assert cells == {(1, 8): 1, (1, 9): 1, (1, 23): 1, (2, 0): 1}


def test_the_page_shows_the_apis_figures_and_links_to_the_same_conversations(client, supervisor, timeline):
    query = {"business_line": "shanghai", **TWO_DAYS, "business_hours_only": "on"}

    page = client.get(PAGE, query)

    assert page.status_code == 200
    api_summary = supervisor_api().get(
        "/api/reports/summary/", {"business_line": "shanghai", **TWO_DAYS, "business_hours_only": "true"}
    )
    assert page.context["summary"] == api_summary.json()
    # the Tuesday segment of the volume chart (app) opens exactly the Tuesday conversation, in local time
    segment = next(s for s in page.context["volume"]["segments"] if s["css"] == "series-app")
    assert parse_qs(urlsplit(segment["href"]).query) == {
        "business_line__id__exact": [str(timeline.line.id)],
        "started_at__gte": ["2026-03-03T00:00:00+08:00"],
        "started_at__lt": ["2026-03-04T00:00:00+08:00"],
        "business_hours": ["1"],
        "channel__exact": ["app"],
    }
    listed = client.get(segment["href"])
    assert [c.pk for c in listed.context["cl"].result_list] == [timeline.tue_0000.pk]
    # the agent's row opens both conversations within business hours
    agent_row = client.get(page.context["agents"][0]["href"])
    assert {c.pk for c in agent_row.context["cl"].result_list} == {timeline.mon_0900.pk, timeline.tue_0000.pk}
    # a heatmap cell: Monday 09:00-09:59
    cell = next(c for c in page.context["heatmap"]["cells"] if c["href"] and "hour=9" in c["href"])
    heat = client.get(cell["href"])
    assert [c.pk for c in heat.context["cl"].result_list] == [timeline.mon_0900.pk]
    html = page.content.decode()
    assert 'id="chart-volume"' in html and 'id="chart-heatmap"' in html and 'id="chart-ratings"' in html
    # the page's CSV link, with the supervisor's session, holds the same two conversations
    download = client.get(page.context["csv_url"])
    text = b"".join(download.streaming_content).decode("utf-8-sig")
    assert [row["id"] for row in csv.DictReader(io.StringIO(text))] == [
        str(timeline.mon_0900.id),
        str(timeline.tue_0000.id),
    ]


def test_the_page_opens_on_the_last_seven_local_days_of_the_first_line(client, supervisor, clock):
    BusinessLineFactory(name="Alpha", key="alpha", time_zone=SHANGHAI)
    clock.move_to(MON_2359 + timedelta(seconds=1))  # already Tuesday in Shanghai

    page = client.get(PAGE)

    assert page.status_code == 200
    assert (page.context["period"].since.isoformat(), page.context["period"].until.isoformat()) == (
        "2026-02-25T00:00:00+08:00",
        "2026-03-04T00:00:00+08:00",
    )


def test_a_bad_filter_is_shown_on_the_form(client, supervisor, timeline):
    page = client.get(PAGE, {"business_line": "shanghai", "since": "2026-03-04", "until": "2026-03-02"})

    assert page.status_code == 400
    assert "Until must be after From." in page.content.decode()


def test_only_supervisors_and_superusers_see_the_page(client):
    BusinessLineFactory()
    anonymous = client.get(PAGE)
    client.force_login(AgentFactory(user__is_staff=True).user)  # agents sign in as staff (seed_demo)
    agent = client.get(PAGE)
    client.force_login(UserFactory(is_staff=True))
    staff = client.get(PAGE)
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    superuser = client.get(PAGE)

    assert (anonymous.status_code, anonymous["Location"]) == (302, f"{reverse('admin:login')}?next={PAGE}")
    assert agent.status_code == 403
    assert staff.status_code == 403
    assert "Reports are for supervisors" in staff.content.decode()
    assert superuser.status_code == 200


def test_the_admin_header_links_supervisors_to_the_reports(client, supervisor):
    home = client.get(reverse("admin:index")).content.decode()

    assert f'<a href="{PAGE}" id="reports-link">Reports</a>' in home
    assert '<a href="/admin/monitor/" id="monitor-link">Live monitor</a>' in home


def test_the_admin_header_links_to_reports_and_monitor_only_for_supervisors(client):
    """Staff who may read transcripts, and no more, get no links to pages that would refuse them."""
    reader = UserFactory(is_staff=True)
    reader.user_permissions.add(Permission.objects.get(codename="view_conversation"))
    superuser = UserFactory(is_staff=True, is_superuser=True)
    shown = {}
    for name, user in (("reader", reader), ("superuser", superuser)):
        client.force_login(user)
        header = client.get(reverse("admin:chat_conversation_changelist")).content.decode()
        shown[name] = ('id="reports-link"' in header, 'id="monitor-link"' in header)

    assert shown == {"reader": (False, False), "superuser": (True, True)}


def test_the_page_costs_the_same_queries_for_a_day_or_a_month_and_one_agent_or_many(
    client, supervisor, clock, timeline
):
    """Its figures are aggregates: more days, agents or conversations add no query."""

    def queries(**query) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(PAGE, {"business_line": "shanghai", **query}).status_code == 200
        return len(captured)

    one_day_one_agent = queries(since="2026-03-02", until="2026-03-03")
    other = agent_in(timeline.line, capacity=10, connected=False)
    started_answered(clock, timeline.line, other, datetime(2026, 3, 9, 2, 0, tzinfo=UTC), wait=5, reply=9)  # Mon 10:00
    month_two_agents = queries(since="2026-03-01", until="2026-04-01", business_hours_only="on")
    shown = client.get(PAGE, {"business_line": "shanghai", "since": "2026-03-01", "until": "2026-04-01"})

    assert len(shown.context["agents"]) == 2
    assert one_day_one_agent == month_two_agents
