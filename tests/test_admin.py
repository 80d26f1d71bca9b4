"""The Django admin for supervisors: read-only transcripts, filters, search, CSV export and the Supervisors group."""

import csv
import io
from datetime import UTC, datetime
from html.parser import HTMLParser
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from chat.models import ConversationStatus, Sender
from chat.permissions import Participant
from chat.services import attachment_upload, message_send
from cs_platform.spreadsheets import csv_safe
from tests.attachment_storage import attachment_storage
from tests.factories import (
    AgentFactory,
    BusinessLineFactory,
    ConversationFactory,
    CustomerFactory,
    MessageFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:chat_conversation_changelist")
SCRIPT = "<script>alert(1)</script>"


def transcript_url(conversation) -> str:
    return reverse("admin:chat_conversation_change", args=[conversation.pk])


@pytest.fixture
def supervisor(client):
    user = UserFactory(username="supervisor", is_staff=True)
    user.groups.add(Group.objects.get(name="Supervisors"))
    client.force_login(user)
    return user


def staff_with(*codenames: str):
    user = UserFactory(is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user


def export(client, conversations):
    return client.post(CHANGELIST, {"action": "export_transcripts", "_selected_action": [c.pk for c in conversations]})


def listed(response) -> set[int]:
    return {conversation.pk for conversation in response.context["cl"].result_list}


def test_supervisor_reads_the_conversation_list(client, supervisor):
    # given
    conversation = ConversationFactory(customer__name="Ada Lovelace")

    # when
    response = client.get(CHANGELIST)

    # then
    assert response.status_code == 200
    assert listed(response) == {conversation.pk}
    assert "Ada Lovelace" in response.content.decode()


def test_transcript_shows_messages_in_seq_order_and_escaped(client, supervisor):
    # given: messages stored out of order, one of them a script
    conversation = ConversationFactory()
    for seq, body in [(3, "third-body"), (1, "first-body"), (4, SCRIPT), (2, "second-body")]:
        MessageFactory(conversation=conversation, seq=seq, body=body)

    # when
    response = client.get(transcript_url(conversation))

    # then
    html = response.content.decode()
    assert response.status_code == 200
    positions = [html.index(body) for body in ["first-body", "second-body", "third-body", "&lt;script&gt;"]]
    assert positions == sorted(positions)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert SCRIPT not in html


def test_user_text_in_the_list_is_escaped(client, supervisor):
    # given
    ConversationFactory(customer__name=SCRIPT)

    # when
    html = client.get(CHANGELIST).content.decode()

    # then
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert SCRIPT not in html


def test_transcript_is_read_only_for_a_supervisor(client, supervisor):
    # given
    conversation = ConversationFactory()
    MessageFactory(conversation=conversation, seq=1, body="hello")

    # when
    page = client.get(transcript_url(conversation))
    add = client.get(reverse("admin:chat_conversation_add"))
    delete = client.post(reverse("admin:chat_conversation_delete", args=[conversation.pk]), {"post": "yes"})
    change = client.post(transcript_url(conversation), {"status": "closed"})

    # then
    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    assert 'name="messages-0-body"' not in page.content.decode()
    assert (add.status_code, delete.status_code, change.status_code) == (403, 403, 403)
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.WAITING
    assert conversation.messages.count() == 1


@pytest.mark.parametrize("url", ["list", "transcript"])
def test_staff_without_the_permissions_gets_403(client, url):
    # given
    conversation = ConversationFactory()
    client.force_login(staff_with())

    # when
    response = client.get(CHANGELIST if url == "list" else transcript_url(conversation))

    # then
    assert response.status_code == 403


def test_csv_export_has_one_row_per_message_in_order_and_neutralises_formulas(client, supervisor):
    # given: two selected conversations (messages stored out of order) and one that is not selected
    line = BusinessLineFactory(name="Retail")
    agent = AgentFactory(display_name="Bob")
    first = ConversationFactory(
        customer=CustomerFactory(
            business_line=line, name="=cmd|'/c calc'!A1", email="ann@example.com", external_id="u-1"
        ),
        channel="h5",
        status=ConversationStatus.CLOSED,
        agent=agent,
        started_at=datetime(2026, 1, 2, 3, 0, 0, tzinfo=UTC),
        first_assigned_at=datetime(2026, 1, 2, 3, 0, 30, tzinfo=UTC),
        first_agent_reply_at=datetime(2026, 1, 2, 3, 1, 0, tzinfo=UTC),
        closed_at=datetime(2026, 1, 2, 3, 10, 30, tzinfo=UTC),
        close_reason="agent",
        rating=4,
    )
    second = ConversationFactory(
        customer=CustomerFactory(business_line=line, name="Carl", email="@carl@example.com"),
        channel="web",
        started_at=datetime(2026, 1, 2, 4, 0, 0, tzinfo=UTC),
    )
    unselected = ConversationFactory(customer__business_line=line)
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    MessageFactory(conversation=first, seq=2, sender=Sender.AGENT, agent=agent, body="+1 more", created_at=at)
    MessageFactory(conversation=first, seq=1, body="Hi, 你好", created_at=at)
    MessageFactory(
        conversation=first,
        seq=3,
        sender=Sender.AGENT,
        agent=agent,
        body="-internal",
        is_internal_note=True,
        created_at=at,
    )
    MessageFactory(conversation=second, seq=1, body='say "hi",\nthen =SUM(A1)', created_at=at)
    MessageFactory(conversation=unselected, seq=1, body="not exported", created_at=at)

    # when
    response = export(client, [second, first])

    # then
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="transcripts-')
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    stamp = "2026-01-02T03:04:05+00:00"
    first_cells = [
        *[str(first.pk), "Retail", "h5", "closed", "agent", "'=cmd|'/c calc'!A1", "ann@example.com", "u-1", "Bob"],
        *["2026-01-02T03:00:00+00:00", "2026-01-02T03:00:30+00:00", "2026-01-02T03:01:00+00:00"],
        *["2026-01-02T03:10:30+00:00", "30.0", "60.0", "600.0", "4", ""],
    ]
    second_cells = [
        *[str(second.pk), "Retail", "web", "waiting", "", "Carl", "'@carl@example.com", "", ""],
        *["2026-01-02T04:00:00+00:00", "", "", "", "", "", "", "", ""],
    ]
    assert rows == [
        [
            "conversation_id",
            "business_line",
            "channel",
            "status",
            "close_reason",
            "customer_name",
            "customer_email",
            "external_id",
            "agents",
            "started_at",
            "assigned_at",
            "first_response_at",
            "closed_at",
            "wait_seconds",
            "first_response_seconds",
            "handling_seconds",
            "rating",
            "labels",
            "seq",
            "sender",
            "author",
            "body",
            "internal_note",
            "created_at",
            "attachments",
        ],
        [*first_cells, "1", "customer", "'=cmd|'/c calc'!A1", "Hi, 你好", "no", stamp, ""],
        [*first_cells, "2", "agent", "Bob", "'+1 more", "no", stamp, ""],
        [*first_cells, "3", "agent", "Bob", "'-internal", "yes", stamp, ""],
        [*second_cells, "1", "customer", "Carl", 'say "hi",\nthen =SUM(A1)', "no", stamp, ""],
    ]


@pytest.mark.parametrize(
    "cell",
    [
        ' =HYPERLINK("http://evil.example")',
        "\u00a0=1+1",
        "\u3000+1",
        "\u2003 -1",
        "\u200b=1+1",
        "\ufeff@SUM(A1)",
        "\uff1dcmd|'/c calc'!A1",
        "\uff0b1",
        "\uff0d1",
        "\uff20SUM(A1)",
        "\t=1+1",
        "\r\n=1+1",
        "\n@SUM(A1)",
        "\tplain",
        "\rplain",
        "\nplain",
    ],
)
def test_csv_export_neutralises_formulas_behind_spaces_full_width_signs_and_line_breaks(cell):
    assert csv_safe(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["hello", " hello", "a=b", "1-2", "\u00a0", "", "e@mail.example", 42])
def test_csv_export_leaves_ordinary_cells_alone(cell):
    assert csv_safe(cell) == cell


def test_export_action_is_offered_to_a_supervisor(client, supervisor):
    # given
    ConversationFactory()

    # when
    response = client.get(CHANGELIST)

    # then
    assert "export_transcripts" in dict(response.context["action_form"].fields["action"].choices)


def test_export_is_neither_offered_nor_allowed_with_only_view_permissions(client):
    # given
    conversation = ConversationFactory()
    MessageFactory(conversation=conversation, seq=1, body="secret transcript")
    client.force_login(staff_with("view_conversation", "view_message"))

    # when
    page = client.get(CHANGELIST)
    attempt = export(client, [conversation])

    # then
    assert page.status_code == 200
    assert "export_transcripts" not in page.content.decode()
    assert attempt["Content-Type"].startswith("text/html")
    assert "Content-Disposition" not in attempt


def test_supervisors_group_reads_exports_keeps_replies_and_labels_and_edits_lines_and_agents():
    # when
    group = Group.objects.get(name="Supervisors")

    # then
    assert set(group.permissions.values_list("content_type__app_label", "codename")) == {
        ("routing", "view_businessline"),
        ("customers", "view_customer"),
        ("agents", "view_agent"),
        ("chat", "view_conversation"),
        ("chat", "view_message"),
        ("desk", "add_cannedreply"),
        ("desk", "change_cannedreply"),
        ("desk", "delete_cannedreply"),
        ("desk", "view_cannedreply"),
        ("desk", "add_label"),
        ("desk", "change_label"),
        ("desk", "delete_label"),
        ("desk", "view_label"),
        ("chat", "export_transcript"),
        ("routing", "add_businessline"),
        ("routing", "change_businessline"),
        ("agents", "change_agent"),
    }


def test_supervisors_group_migration_is_reversible():
    """Migrated back before the group's migration and forward again, inside the test's transaction (PostgreSQL
    rolls schema changes back with it)."""
    # given
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()

    # when
    executor.migrate([("chat", "0001_initial")])
    removed = not Group.objects.filter(name="Supervisors").exists()
    executor.loader.build_graph()
    executor.migrate(latest)

    # then
    assert removed
    assert Group.objects.get(name="Supervisors").permissions.count() == 17  # 6, desk's 8 (desk/0003), chat/0008's 3


@pytest.fixture
def filter_fixture():
    retail, travel = BusinessLineFactory(), BusinessLineFactory()
    bob = AgentFactory()
    return SimpleNamespace(
        retail=retail,
        travel=travel,
        bob=bob,
        waiting_web=ConversationFactory(
            customer__business_line=retail, channel="web", started_at=datetime(2026, 3, 1, 12, tzinfo=UTC)
        ),
        closed_h5=ConversationFactory(
            customer__business_line=travel,
            channel="h5",
            status=ConversationStatus.CLOSED,
            agent=bob,
            started_at=datetime(2026, 4, 1, 12, tzinfo=UTC),
        ),
        active_app=ConversationFactory(
            customer__business_line=retail,
            channel="app",
            status=ConversationStatus.ACTIVE,
            agent=bob,
            started_at=datetime(2026, 4, 2, 12, tzinfo=UTC),
        ),
    )


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (lambda f: {"status__exact": "closed"}, ["closed_h5"]),
        (lambda f: {"channel__exact": "app"}, ["active_app"]),
        (lambda f: {"business_line__id__exact": f.retail.pk}, ["waiting_web", "active_app"]),
        (lambda f: {"agent__id__exact": f.bob.pk}, ["closed_h5", "active_app"]),
        (lambda f: {"started_at__gte": "2026-04-01", "started_at__lt": "2026-05-01"}, ["closed_h5", "active_app"]),
        (lambda f: {"started_at__year": 2026, "started_at__month": 3}, ["waiting_web"]),
    ],
    ids=["status", "channel", "business_line", "agent", "date_range", "date_hierarchy"],
)
def test_list_filters_return_the_right_conversations(client, supervisor, filter_fixture, params, expected):
    # when
    response = client.get(CHANGELIST, params(filter_fixture))

    # then
    assert response.status_code == 200
    assert listed(response) == {getattr(filter_fixture, name).pk for name in expected}


def test_search_by_message_text_lists_each_matching_conversation_once(client, supervisor):
    # given
    refund = ConversationFactory()
    MessageFactory(conversation=refund, seq=1, body="I want a REFUND")
    MessageFactory(conversation=refund, seq=2, body="the refund, please")
    other = ConversationFactory()
    MessageFactory(conversation=other, seq=1, body="where is my parcel")

    # when
    response = client.get(CHANGELIST, {"q": "refund"})

    # then
    assert [c.pk for c in response.context["cl"].result_list] == [refund.pk]
    assert response.context["cl"].result_count == 1


@pytest.mark.parametrize("query", ["Grace Hopper", "grace@navy.example", "ext-42"])
def test_search_by_customer_name_email_or_external_id(client, supervisor, query):
    # given
    wanted = ConversationFactory(
        customer__name="Grace Hopper", customer__email="grace@navy.example", customer__external_id="ext-42"
    )
    ConversationFactory(customer__name="Someone Else", customer__email="else@example.com")

    # when
    response = client.get(CHANGELIST, {"q": query})

    # then
    assert listed(response) == {wanted.pk}


def count_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as context:
        assert client.get(url).status_code == 200
    return len(context.captured_queries)


def test_transcript_page_queries_do_not_grow_with_messages(client, supervisor):
    # given
    agent = AgentFactory()
    short, long = ConversationFactory(), ConversationFactory()
    for conversation, size in [(short, 2), (long, 20)]:
        for seq in range(1, size + 1):
            MessageFactory(conversation=conversation, seq=seq, sender=Sender.AGENT, agent=agent)
    client.get(transcript_url(short))  # warms process-wide caches (content types)

    # when / then
    assert count_queries(client, transcript_url(short)) == count_queries(client, transcript_url(long))


def test_conversation_list_queries_do_not_grow_with_rows(client, supervisor):
    # given
    agent = AgentFactory()
    ConversationFactory(agent=agent, status=ConversationStatus.CLOSED)
    few = count_queries(client, CHANGELIST)
    for _ in range(10):
        ConversationFactory(agent=agent, status=ConversationStatus.CLOSED)

    # when / then
    assert count_queries(client, CHANGELIST) == few


def test_identity_secret_is_masked_for_supervisors_and_shown_to_superusers(client, supervisor):
    # given
    line = BusinessLineFactory(identity_secret="s3cret-value-xyz")
    url = reverse("admin:routing_businessline_change", args=[line.pk])
    superuser = UserFactory(is_staff=True, is_superuser=True)

    # when
    as_supervisor = client.get(url)
    guessing = client.get(reverse("admin:routing_businessline_changelist"), {"identity_secret__startswith": "s"})
    client.force_login(superuser)
    as_superuser = client.get(url)

    # then
    assert as_supervisor.status_code == 200
    assert "s3cret-value-xyz" not in as_supervisor.content.decode()
    assert guessing.status_code == 400
    assert "s3cret-value-xyz" in as_superuser.content.decode()


class FormControls(HTMLParser):
    """The names of the form controls a browser builds: like a browser, the parser reads everything inside a
    `<script>` element as its text, up to the next `</script>`, so controls swallowed by a stray tag are missing."""

    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        name = dict(attrs).get("name")
        if tag in {"input", "select", "textarea"} and name:
            self.names.append(name)


def test_the_business_line_form_is_whole_and_its_help_text_shows_the_script_tag_as_text(client):
    # given: the widget key's help text names the <script> tag the site embeds
    line = BusinessLineFactory()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    # when
    html = client.get(reverse("admin:routing_businessline_change", args=[line.pk])).content.decode()

    # then: the help text is text, and every control after it is in the form, down to the Save button
    assert "Public widget key, written into the site&#x27;s &lt;script&gt; tag (data-business-line)." in html
    controls = FormControls()
    controls.feed(html)
    fields = [name for name in controls.names if not name.startswith("initial-")]  # hidden twins of defaults
    assert fields[fields.index("key") :][:30] == [
        "key",
        "identity_secret",
        "identity_requires_expiry",
        "greeting",
        "allowed_origins",
        "time_zone",
        "business_hours",
        "wait_timeout",
        "agent_reply_timeout",
        "disconnect_grace",
        "idle_timeout",
        "attachment_max_bytes",
        "attachment_types",
        "inbox_email",
        "language",
        "widget_color",
        "widget_position",
        "widget_title",
        "team_name",
        "team_picture_upload",
        "team_picture_clear",
        "launcher_text",
        "prechat_name",
        "prechat_email",
        "prechat_phone",
        "prechat_question",
        "retention_days",
        "Agent_business_lines-TOTAL_FORMS",
        "Agent_business_lines-INITIAL_FORMS",
        "Agent_business_lines-MIN_NUM_FORMS",
    ]
    assert "_save" in controls.names


def test_supervisor_reads_agents_customers_and_business_lines(client, supervisor):
    # given
    line = BusinessLineFactory(name="Retail")
    AgentFactory(display_name="Dora", business_lines=[line])
    CustomerFactory(business_line=line, name="Eve", external_id="e-1")

    # when
    pages = {
        name: client.get(reverse(f"admin:{name}_changelist"))
        for name in ["routing_businessline", "agents_agent", "customers_customer"]
    }

    # then
    assert {name: page.status_code for name, page in pages.items()} == dict.fromkeys(pages, 200)
    assert "Dora" in pages["agents_agent"].content.decode()
    assert "Retail" in pages["agents_agent"].content.decode()
    assert "Eve" in pages["customers_customer"].content.decode()


@pytest.mark.django_db
def test_raising_an_agents_capacity_in_the_admin_assigns_waiting_chats_at_once(
    client, django_capture_on_commit_callbacks
):
    import asyncio

    from agents import presence
    from agents.models import Presence
    from tests.factories import AgentFactory, BusinessLineFactory, ConversationFactory, UserFactory

    # given an online, connected agent with no room, and a customer waiting in their line
    line = BusinessLineFactory()
    agent = AgentFactory(business_lines=[line], capacity=0, presence=Presence.ONLINE)
    asyncio.run(presence.connection_register(agent_id=agent.id, connection="admin-test-socket"))
    waiting = ConversationFactory(customer__business_line=line)
    client.force_login(UserFactory(username="boss", is_staff=True, is_superuser=True))
    # when a supervisor raises the capacity in the admin (and the change commits)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/admin/agents/agent/{agent.id}/change/",
            {"user": agent.user_id, "display_name": agent.display_name, "capacity": 1, "business_lines": [line.id]},
        )
    # then the waiting customer gets the agent at once, without waiting for the sweep
    assert response.status_code == 302
    waiting.refresh_from_db()
    assert (waiting.status, waiting.agent_id) == (ConversationStatus.ACTIVE, agent.id)
    asyncio.run(presence.connection_remove(agent_id=agent.id, connection="admin-test-socket"))


class TestLoginRate:
    """The admin's login form (also the workbench's) counts against `LOGIN_RATE` like `POST /api/auth/token/`."""

    def test_past_the_default_rate_even_the_right_password_is_refused_with_a_429_page(self, client):
        UserFactory(username="boss", is_staff=True, is_superuser=True)
        wrong = [
            client.post("/admin/login/", {"username": "boss", "password": f"guess{n}"}).status_code for n in range(10)
        ]

        refused = client.post("/admin/login/?next=/admin/", {"username": "boss", "password": "pw"})

        assert wrong == [200] * 10  # the form again, with its error
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert b"Too many login attempts" in refused.content
        assert "_auth_user_id" not in client.session
        assert client.get("/admin/").status_code == 302  # still signed out

    def test_under_the_rate_the_right_password_signs_in(self, client, settings):
        settings.LOGIN_RATE = "3/m"
        UserFactory(username="boss", is_staff=True, is_superuser=True)
        client.post("/admin/login/", {"username": "boss", "password": "guess"})

        signed_in = client.post("/admin/login/?next=/admin/", {"username": "boss", "password": "pw"})

        assert signed_in.status_code == 302
        assert client.get("/admin/").status_code == 200

    def test_showing_the_form_counts_nothing(self, client, settings):
        settings.LOGIN_RATE = "1/m"
        UserFactory(username="boss", is_staff=True, is_superuser=True)
        for _ in range(3):
            assert client.get("/admin/login/").status_code == 200

        assert client.post("/admin/login/?next=/admin/", {"username": "boss", "password": "pw"}).status_code == 302


def test_an_agent_with_nothing_to_administer_is_led_home_to_the_workbench(client):
    # given: an agent (staff, so the admin's login admits them) without any admin permission
    agent = AgentFactory(user__is_staff=True)
    client.force_login(agent.user)

    # when: the workbench's Home link (the admin's index), and the workbench's own page
    home = client.get(reverse("admin:index"), follow=True)
    workbench = client.get(reverse("workbench")).content.decode()

    # then: Home is the workbench, not "You don't have permission to view or edit anything", and so is View site
    assert home.redirect_chain == [("/workbench/", 302)]
    assert home.status_code == 200
    assert 'id="workbench"' in home.content.decode()
    assert '<a href="/admin/">Home</a>' in workbench
    assert '<a href="/workbench/">View site</a>' in workbench


def test_a_supervisor_keeps_the_admin_home_and_the_site_link(client, supervisor):
    # when
    home = client.get(reverse("admin:index"))

    # then
    assert home.status_code == 200
    assert "Site administration" in home.content.decode()
    assert '<a href="/">View site</a>' in home.content.decode()


@pytest.mark.parametrize(("language", "name"), [("en", "Customer service"), ("zh-hans", "在线客服")])
def test_the_admin_names_the_product_not_django(client, supervisor, language, name):
    # given: a supervisor reading the admin in English or in Chinese
    client.cookies["django_language"] = language

    # when
    page = client.get(reverse("admin:index")).content.decode()

    # then: its header and its title name the product
    assert f'<div id="site-name"><a href="/admin/">{name}</a></div>' in page
    assert f"| {name}</title>" in page
    assert "Django administration" not in page and "Django 管理" not in page


def test_the_transcript_links_the_files_and_the_export_names_them(client, supervisor, attachment_storage):
    # given: a customer who sent two files
    conversation = ConversationFactory(status=ConversationStatus.WAITING)
    customer = Participant(kind="customer", id=conversation.customer_id)
    uploads = [
        attachment_upload(
            participant=customer, conversation_id=conversation.pk, upload=SimpleUploadedFile(name, content)
        )
        for name, content in [("=cmd.txt", b"a note"), ("счёт.pdf", b"%PDF-1.7\n%%EOF\n")]
    ]
    message_send(
        participant=customer,
        conversation_id=conversation.pk,
        client_msg_id="m1",
        body="see files",
        attachment_ids=[u.pk for u in uploads],
    )

    # when
    page = client.get(transcript_url(conversation)).content.decode()
    rows = list(csv.reader(io.StringIO(export(client, [conversation]).content.decode("utf-8-sig"))))

    # then: each file is a signed download link; the CSV names them, made inert
    for upload in uploads:
        assert f'href="/api/attachments/{upload.pk}/download/?sig=' in page
    assert "счёт.pdf</a> (15 bytes)" in page
    assert rows[-1][-1] == "'=cmd.txt; счёт.pdf"
