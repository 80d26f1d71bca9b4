"""The workbench's tools over REST, as the workbench calls them (the roles' refusals are in
tests/test_authorization_matrix.py): canned replies with variables, labels, notes, search, the reports' labels."""

import csv
import io
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone
from rest_framework.test import APIClient

from agents.services import api_token_issue
from desk.models import CannedReply, Label
from tests.factories import AgentFactory, BusinessLineFactory, ConversationFactory, CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def line():
    return BusinessLineFactory(name="Shop", key="shop")


@pytest.fixture
def agent(line):
    return AgentFactory(display_name="Alice", business_lines=[line])


def api_for(user) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {api_token_issue(user=user)}")
    return api


def test_canned_replies_for_a_conversation_come_with_their_variables_filled(line, agent):
    conversation = ConversationFactory(customer=CustomerFactory(business_line=line, name="Wang Fang", email=""))
    CannedReply.objects.create(
        business_line=line, shortcut="hi", title="Hello", body="Hi {customer.name}, {agent.name} here. {customer.email}"
    )
    CannedReply.objects.create(business_line=BusinessLineFactory(), shortcut="hi", title="Foreign", body="No")

    answer = api_for(agent.user).get("/api/canned-replies/", {"conversation_id": conversation.pk, "q": "h"})

    assert answer.status_code == 200
    assert answer.json() == {
        "results": [
            {
                "id": CannedReply.objects.get(title="Hello").pk,
                "shortcut": "hi",
                "title": "Hello",
                "body": "Hi {customer.name}, {agent.name} here. {customer.email}",
                "business_line": "shop",
                "personal": False,
                "editable": False,
                "attachments": [],
                "text": "Hi Wang Fang, Alice here. {customer.email}",
            }
        ]
    }


def test_a_foreign_conversation_gives_no_canned_replies(line, agent):
    foreign = ConversationFactory(customer=CustomerFactory(business_line=BusinessLineFactory()))
    answer = api_for(agent.user).get("/api/canned-replies/", {"conversation_id": foreign.pk})
    assert (answer.status_code, answer.json()["code"]) == (404, "not_found")


def test_an_agent_keeps_personal_replies(agent):
    api = api_for(agent.user)

    created = api.post("/api/canned-replies/", {"shortcut": "sig", "title": "Signature", "body": "Alice, Shop"})
    reply_id = created.json()["id"]
    duplicate = api.post("/api/canned-replies/", {"shortcut": "sig", "title": "Again", "body": "Again"})
    changed = api.patch(f"/api/canned-replies/{reply_id}/", {"body": "Alice from the Shop"})
    deleted = api.delete(f"/api/canned-replies/{reply_id}/")

    assert created.status_code == 201
    assert created.json()["personal"] is True
    assert (duplicate.status_code, duplicate.json()["code"], duplicate.json()["errors"]) == (
        400,
        "invalid_request",
        {"shortcut": ["The shortcut /sig is already used."]},
    )
    assert (changed.status_code, changed.json()["body"]) == (200, "Alice from the Shop")
    assert deleted.status_code == 204
    assert not CannedReply.objects.exists()


def test_a_supervisor_adds_a_line_reply_and_an_agent_may_not(line, agent):
    supervisor = UserFactory()
    supervisor.groups.add(Group.objects.get_or_create(name="Supervisors")[0])
    body = {"shortcut": "bye", "title": "Goodbye", "body": "Bye!", "business_line": "shop"}

    refused = api_for(agent.user).post("/api/canned-replies/", body)
    created = api_for(supervisor).post("/api/canned-replies/", body)

    assert (refused.status_code, refused.json()["code"]) == (403, "not_a_supervisor")
    assert (created.status_code, created.json()["business_line"]) == (201, "shop")
    assert list(CannedReply.objects.values_list("business_line__key", "shortcut")) == [("shop", "bye")]


def test_labels_are_set_and_seen_and_a_foreign_one_is_refused(line, agent):
    vip = Label.objects.create(business_line=line, name="vip")
    foreign = Label.objects.create(business_line=BusinessLineFactory(), name="spam")
    conversation = ConversationFactory(customer=CustomerFactory(business_line=line))
    api = api_for(agent.user)
    url = f"/api/conversations/{conversation.pk}/labels/"

    put = api.put(url, {"label_ids": [vip.pk]}, format="json")
    refused = api.put(url, {"label_ids": [foreign.pk]}, format="json")
    got = api.get(url)

    assert put.status_code == 200
    assert got.json() == {"labels": [{"id": vip.pk, "name": "vip"}], "available": [{"id": vip.pk, "name": "vip"}]}
    assert (refused.status_code, refused.json()["errors"]) == (
        400,
        {"label_ids": ["A label is not one of this business line's."]},
    )


def test_notes_about_a_customer_are_shared_by_the_line(line, agent):
    customer = CustomerFactory(business_line=line)
    colleague = AgentFactory(display_name="Bob", business_lines=[line])

    created = api_for(agent.user).post(f"/api/customers/{customer.pk}/notes/", {"body": "Prefers email."})
    seen = api_for(colleague.user).get(f"/api/customers/{customer.pk}/notes/").json()
    stranger = AgentFactory(business_lines=[BusinessLineFactory()])
    hidden = api_for(stranger.user).get(f"/api/customers/{customer.pk}/notes/")

    assert created.status_code == 201
    assert [(n["body"], n["author"]["name"]) for n in seen["notes"]] == [("Prefers email.", "Alice")]
    assert (hidden.status_code, hidden.json()["code"]) == (404, "not_found")


def test_search_finds_a_chinese_message_of_my_line_only(line, agent):
    mine = ConversationFactory(customer=CustomerFactory(business_line=line, name="王芳"), transcript=["我想退货"])
    ConversationFactory(customer=CustomerFactory(business_line=BusinessLineFactory()), transcript=["我想退货"])

    answer = api_for(agent.user).get("/api/search/", {"q": "退货"})
    empty = api_for(agent.user).get("/api/search/", {"q": "*&"})

    assert answer.status_code == 200
    assert [
        (hit["conversation"]["id"], hit["conversation"]["customer"]["name"], hit["snippet"])
        for hit in answer.json()["results"]
    ] == [(mine.pk, "王芳", "我想退货")]
    assert (empty.status_code, empty.json()["errors"]) == (400, {"q": ["Nothing to search for."]})


def test_the_reports_conversation_rows_carry_the_labels(line, agent):
    supervisor = UserFactory()
    supervisor.groups.add(Group.objects.get_or_create(name="Supervisors")[0])
    conversation = ConversationFactory(customer=CustomerFactory(business_line=line))
    conversation.labels.set(
        [Label.objects.create(business_line=line, name="vip"), Label.objects.create(business_line=line, name="refund")]
    )
    until = timezone.now() + timedelta(minutes=1)
    query = {"business_line": "shop", "since": (until - timedelta(days=1)).isoformat(), "until": until.isoformat()}

    rows = api_for(supervisor).get("/api/reports/conversations/", query).json()["results"]
    exported = api_for(supervisor).get("/api/reports/conversations/", {**query, "format": "csv"})

    assert [row["labels"] for row in rows] == [["refund", "vip"]]
    table = list(csv.DictReader(io.StringIO(b"".join(exported.streaming_content).decode("utf-8-sig"))))
    assert [row["labels"] for row in table] == ["refund;vip"]


def test_the_admins_transcript_list_filters_by_label(client, line):
    supervisor = UserFactory(is_staff=True)
    supervisor.groups.add(Group.objects.get_or_create(name="Supervisors")[0])
    vip = Label.objects.create(business_line=line, name="vip")
    labelled = ConversationFactory(customer=CustomerFactory(business_line=line))
    ConversationFactory(customer=CustomerFactory(business_line=line))
    labelled.labels.add(vip)
    client.force_login(supervisor)

    page = client.get("/admin/chat/conversation/", {"labels__id__exact": vip.pk})

    assert page.status_code == 200
    assert [c.pk for c in page.context["cl"].result_list] == [labelled.pk]
    assert "By label" in page.content.decode()


def test_a_supervisor_keeps_a_lines_replies_in_the_admin_and_a_bad_one_is_refused(client, line, agent):
    supervisor = UserFactory(is_staff=True)
    supervisor.groups.add(Group.objects.get_or_create(name="Supervisors")[0])
    client.force_login(supervisor)
    form = {"business_line": line.pk, "shortcut": "hours", "title": "Opening hours", "body": "9 to 6."}

    added = client.post("/admin/desk/cannedreply/add/", form)
    bad_shortcut = client.post("/admin/desk/cannedreply/add/", {**form, "shortcut": "Two Words"})
    both_owners = client.post("/admin/desk/cannedreply/add/", {**form, "shortcut": "both", "agent": agent.pk})

    assert added.status_code == 302
    assert bad_shortcut.status_code == 200
    assert "Lower-case letters, digits, - and _, from a letter or digit." in bad_shortcut.content.decode()
    assert both_owners.status_code == 200
    assert both_owners.context["adminform"].form.errors
    assert list(CannedReply.objects.values_list("shortcut", "business_line__key", "agent")) == [("hours", "shop", None)]
