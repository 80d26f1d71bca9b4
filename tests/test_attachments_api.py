"""`POST /api/conversations/{id}/attachments/` and the download link: every refusal, the rights and the headers."""

import datetime as dt

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from agents.services import api_token_issue
from chat.files import link_signature, link_signature_valid
from chat.models import Attachment, ConversationStatus
from chat.permissions import Participant
from chat.services import message_send
from customers.services import customer_token_issue
from tests.attachment_storage import attachment_storage, tiny_png
from tests.factories import AgentFactory, BusinessLineFactory, ConversationFactory

pytestmark = pytest.mark.django_db

PNG = tiny_png()
PDF = b"%PDF-1.7\n%%EOF\n"


@pytest.fixture(autouse=True)
def _files_in_a_folder_of_their_own(attachment_storage):
    return attachment_storage


@pytest.fixture
def line():
    return BusinessLineFactory(attachment_max_bytes=100)


@pytest.fixture
def agent(line):
    return AgentFactory(business_lines=[line])


@pytest.fixture
def active(line, agent):
    return ConversationFactory(customer__business_line=line, status=ConversationStatus.ACTIVE, agent=agent)


def customer_token(conversation):
    return customer_token_issue(customer=conversation.customer)


def post_file(conversation_id, token, content, name="file.png", *, in_query=False):
    api = APIClient()
    url = f"/api/conversations/{conversation_id}/attachments/"
    if in_query:
        url += f"?token={token}"
    elif token:
        api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return api.post(url, {"file": SimpleUploadedFile(name, content, content_type="image/png")}, format="multipart")


def test_a_customer_uploads_and_gets_the_attachment_object(active):
    response = post_file(active.id, customer_token(active), PNG, "скриншот.png")
    attachment = Attachment.objects.get()
    assert response.status_code == 201
    assert response.json() == {
        "id": attachment.id,
        "name": "скриншот.png",
        "content_type": "image/png",
        "size": len(PNG),
        "url": response.json()["url"],
        "width": 2,
        "height": 1,
        "thumbnail_url": response.json()["thumbnail_url"],
    }
    assert response.json()["url"].startswith(f"/api/attachments/{attachment.id}/download/?sig=")
    thumbnail = APIClient().get(response.json()["thumbnail_url"])
    assert (thumbnail.status_code, thumbnail["Content-Type"], thumbnail["X-Content-Type-Options"]) == (
        200,
        "image/webp",
        "nosniff",
    )


def test_the_assigned_agent_uploads_with_the_token_in_the_query(active, agent):
    response = post_file(active.id, api_token_issue(user=agent.user), PDF, "invoice.pdf", in_query=True)
    assert (response.status_code, response.json()["content_type"]) == (201, "application/pdf")
    assert Attachment.objects.get().agent_id == agent.id


@pytest.mark.parametrize(
    ("content", "name", "status", "code"),
    [
        (b"a" * 100, "exact.txt", 201, None),
        (b"a" * 101, "over.txt", 413, "file_too_large"),
        (b"<html><script>alert(1)</script></html>", "photo.png", 415, "file_type_not_allowed"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"/>', "photo.png", 415, "file_type_not_allowed"),
        (b"MZ\x90\x00 an executable", "report.pdf", 415, "file_type_not_allowed"),
    ],
)
def test_size_and_type_refusals_store_nothing(active, attachment_storage, content, name, status, code):
    response = post_file(active.id, customer_token(active), content, name)
    assert (response.status_code, response.json().get("code")) == (status, code)
    stored = 1 if status == 201 else 0
    assert (Attachment.objects.count(), sum(1 for p in attachment_storage.rglob("*") if p.is_file())) == (
        stored,
        stored,
    )


def test_a_body_far_over_the_limit_is_refused_before_it_is_read(active):
    response = post_file(active.id, customer_token(active), b"a" * (100 + 70 * 1024), "big.txt")
    assert (response.status_code, response.json()["code"]) == (413, "file_too_large")


@pytest.mark.parametrize(
    ("who", "status", "code"),
    [
        ("stranger_customer", 404, "not_found"),
        ("other_line_agent", 404, "not_found"),
        ("unassigned_agent", 403, "not_assigned"),
        ("no_token", 401, "not_authenticated"),
        ("forged_token", 401, "authentication_failed"),
    ],
)
def test_someone_elses_conversation_is_refused(active, line, who, status, code):
    token = {
        "stranger_customer": lambda: customer_token(ConversationFactory(customer__business_line=line)),
        "other_line_agent": lambda: api_token_issue(user=AgentFactory().user),
        "unassigned_agent": lambda: api_token_issue(user=AgentFactory(business_lines=[line]).user),
        "no_token": lambda: "",
        "forged_token": lambda: "1:forged:token",
    }[who]()
    response = post_file(active.id, token, PNG)
    assert (response.status_code, response.json()["code"], Attachment.objects.count()) == (status, code, 0)


def test_the_workbench_uploads_with_the_agents_session_and_its_csrf_token(active, agent):
    api = APIClient(enforce_csrf_checks=True)
    api.force_login(agent.user)
    url = f"/api/conversations/{active.id}/attachments/"
    without = api.post(url, {"file": SimpleUploadedFile("a.pdf", PDF)}, format="multipart")
    page = api.get("/workbench/")
    csrf_token = page.cookies["csrftoken"].value
    with_token = api.post(
        url, {"file": SimpleUploadedFile("a.pdf", PDF)}, format="multipart", HTTP_X_CSRFTOKEN=csrf_token
    )
    assert (without.status_code, without.json()["code"]) == (403, "permission_denied")
    assert (with_token.status_code, Attachment.objects.get().agent_id) == (201, agent.id)


def test_uploads_are_rate_limited_per_uploader(active, settings):
    settings.ATTACHMENT_UPLOAD_RATE = "2/m"
    token = customer_token(active)
    answers = [post_file(active.id, token, PNG) for _ in range(3)]
    other = post_file(active.id, api_token_issue(user=active.agent.user), PNG)
    assert [a.status_code for a in answers] + [other.status_code] == [201, 201, 429, 201]
    assert answers[2].json()["code"] == "rate_limited" and int(answers[2]["Retry-After"]) >= 1


def test_a_closed_conversation_is_409(line):
    closed = ConversationFactory(customer__business_line=line, status=ConversationStatus.CLOSED)
    response = post_file(closed.id, customer_token(closed), PNG)
    assert (response.status_code, response.json()["code"]) == (409, "conversation_closed")


class TestDownload:
    def sent(self, conversation, content, name, *, internal=False):
        """An attachment the agent sent (as an internal note when asked)."""
        response = post_file(conversation.id, api_token_issue(user=conversation.agent.user), content, name)
        message_send(
            participant=Participant(kind="agent", id=conversation.agent_id),
            conversation_id=conversation.id,
            client_msg_id=name,
            body="",
            internal=internal,
            attachment_ids=[response.json()["id"]],
        )
        return response.json()

    @pytest.mark.parametrize(
        ("content", "name", "content_type", "disposition"),
        [
            (PNG, "shot.png", "image/png", 'inline; filename="shot.png"'),
            (PDF, "счёт.pdf", "application/pdf", "attachment; filename*=utf-8''%D1%81%D1%87%D1%91%D1%82.pdf"),
            (b"Read: <b>no page</b>", "page.html", "text/plain; charset=utf-8", 'attachment; filename="page.html"'),
        ],
    )
    def test_the_signed_link_serves_the_file_with_safe_headers(self, active, content, name, content_type, disposition):
        attachment = self.sent(active, content, name)
        response = APIClient().get(attachment["url"])
        assert (response.status_code, b"".join(response.streaming_content)) == (200, content)
        assert (
            response["Content-Type"],
            response["Content-Disposition"],
            response["X-Content-Type-Options"],
            response["Content-Security-Policy"],
        ) == (content_type, disposition, "nosniff", "default-src 'none'; sandbox")

    def test_a_forged_or_expired_link_is_refused(self, active, settings):
        attachment = self.sent(active, PNG, "a.png")
        forged = APIClient().get(f"/api/attachments/{attachment['id']}/download/?sig=1tJ0aB:forged")
        other = APIClient().get(
            f"/api/attachments/{attachment['id'] + 1}/download/?sig={link_signature(attachment['id'])}"
        )
        settings.ATTACHMENT_LINK_MAX_AGE = -1
        expired = APIClient().get(attachment["url"])
        assert [r.status_code for r in (forged, other, expired)] == [403, 403, 403]
        assert expired.json()["code"] == "forbidden"

    def test_a_link_stays_the_same_for_its_hour_and_valid_a_day_from_its_start(self, settings):
        settings.ATTACHMENT_LINK_MAX_AGE = 24 * 3600
        start = dt.datetime(2026, 11, 30, 10, 0, tzinfo=dt.UTC)
        with time_machine.travel(start + dt.timedelta(seconds=1), tick=False) as clock:
            first = link_signature(7)
            clock.move_to(start + dt.timedelta(minutes=59, seconds=59))
            same_hour = link_signature(7)
            clock.move_to(start + dt.timedelta(hours=1))
            next_hour = link_signature(7)
            clock.move_to(start + dt.timedelta(hours=24))
            still_valid = link_signature_valid(7, first)
            clock.move_to(start + dt.timedelta(hours=24, seconds=1))
            expired = link_signature_valid(7, first)
        assert (same_hour, next_hour == first) == (first, False)
        assert (still_valid, expired) == (True, False)

    def test_with_a_token_only_participants_and_agents_of_the_line_download(self, active, line):
        attachment = self.sent(active, PNG, "a.png")
        path = f"/api/attachments/{attachment['id']}/download/"
        tokens = {
            "customer": customer_token(active),
            "agent_of_the_line": api_token_issue(user=AgentFactory(business_lines=[line]).user),
            "stranger": customer_token(ConversationFactory(customer__business_line=line)),
            "other_line_agent": api_token_issue(user=AgentFactory().user),
        }
        statuses = {who: APIClient().get(path, {"token": token}).status_code for who, token in tokens.items()}
        # A token is checked even beside a valid signature.
        with_signature = APIClient().get(attachment["url"] + f"&token={tokens['stranger']}").status_code
        assert (statuses, with_signature) == (
            {"customer": 200, "agent_of_the_line": 200, "stranger": 404, "other_line_agent": 404},
            404,
        )

    def test_a_customer_never_gets_the_file_of_an_internal_note(self, active):
        attachment = self.sent(active, PNG, "note.png", internal=True)
        path = f"/api/attachments/{attachment['id']}/download/"
        assert APIClient().get(path, {"token": customer_token(active)}).status_code == 404
