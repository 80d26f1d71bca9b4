"""A canned reply's files: kept on the reply, copied into a conversation as the agent's own uploads when used."""

import pytest
from django.contrib.auth.models import Group
from django.core.files.storage import FileSystemStorage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework.test import APIClient

from agents.services import api_token_issue
from chat.models import Attachment, ConversationStatus
from chat.permissions import Participant
from chat.services import message_send
from cs_platform.errors import ErrorCode
from desk import services
from desk.errors import DeskError
from desk.models import CannedAttachment, CannedReply
from tests.attachment_storage import attachment_storage
from tests.factories import AgentFactory, BusinessLineFactory, ConversationFactory, CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\nreturn label\n%%EOF\n"


@pytest.fixture(autouse=True)
def canned_files_in_a_temporary_folder(attachment_storage, monkeypatch):
    monkeypatch.setattr(
        CannedAttachment._meta.get_field("file"), "storage", FileSystemStorage(location=str(attachment_storage))
    )
    return attachment_storage


@pytest.fixture
def line():
    return BusinessLineFactory(name="Shop", key="shop")


@pytest.fixture
def agent(line):
    return AgentFactory(display_name="Alice", business_lines=[line])


@pytest.fixture
def supervisor():
    user = UserFactory()
    user.groups.add(Group.objects.get_or_create(name="Supervisors")[0])
    return user


@pytest.fixture
def reply(line, supervisor):
    reply = CannedReply.objects.create(business_line=line, shortcut="label", title="Return label", body="Here it is.")
    services.canned_attachment_add(user=supervisor, reply_id=reply.pk, upload=SimpleUploadedFile("label.pdf", PDF))
    return reply


def active_conversation(line, agent, name="Customer"):
    """Assigned to `agent`, as the assignment leaves it (a test about the tools, not about routing)."""
    return ConversationFactory(
        customer=CustomerFactory(business_line=line, name=name),
        status=ConversationStatus.ACTIVE,
        agent=agent,
        assigned_at=timezone.now(),
    )


def test_using_a_reply_copies_its_files_into_the_conversation_for_the_agent_to_send(line, agent, reply):
    conversation = active_conversation(line, agent)

    used, copies = services.canned_reply_use(user=agent.user, reply_id=reply.pk, conversation_id=conversation.pk)
    message, _ = message_send(
        participant=Participant(kind="agent", id=agent.pk),
        conversation_id=conversation.pk,
        client_msg_id="c-1",
        body=used.body,
        attachment_ids=[copy.pk for copy in copies],
    )

    assert [(a.name, a.content_type, a.uploader, a.agent_id) for a in copies] == [
        ("label.pdf", "application/pdf", "agent", agent.pk)
    ]
    with copies[0].file.open("rb") as copied:
        assert copied.read() == PDF
    assert list(message.attachments.values_list("name", flat=True)) == ["label.pdf"]
    assert CannedAttachment.objects.get().file.name != copies[0].file.name  # the reply keeps its own


def test_a_conversation_not_assigned_to_the_agent_gets_no_copy(line, agent, reply):
    colleague = AgentFactory(business_lines=[line])
    conversation = active_conversation(line, colleague)

    with pytest.raises(DeskError) as refused:
        services.canned_reply_use(user=agent.user, reply_id=reply.pk, conversation_id=conversation.pk)

    assert refused.value.code == ErrorCode.NOT_ASSIGNED
    assert not Attachment.objects.exists()


def test_a_file_the_line_does_not_allow_is_refused_when_used_and_nothing_is_kept(line, agent, reply):
    line.attachment_types = "image/png"
    line.save()
    conversation = active_conversation(line, agent)

    with pytest.raises(DeskError) as refused:
        services.canned_reply_use(user=agent.user, reply_id=reply.pk, conversation_id=conversation.pk)

    assert refused.value.code == ErrorCode.FILE_TYPE_NOT_ALLOWED
    assert not Attachment.objects.exists()


def test_a_page_disguised_as_a_file_is_refused_on_the_reply(line, supervisor, reply):
    page = SimpleUploadedFile("label.pdf", b"<html><script>alert(1)</script></html>")

    with pytest.raises(DeskError) as refused:
        services.canned_attachment_add(user=supervisor, reply_id=reply.pk, upload=page)

    assert refused.value.code == ErrorCode.FILE_TYPE_NOT_ALLOWED
    assert CannedAttachment.objects.count() == 1


def test_an_agent_adds_a_file_to_a_personal_reply_and_uses_it_over_rest(line, agent):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {api_token_issue(user=agent.user)}")
    conversation = active_conversation(line, agent, name="Ada")
    created = api.post("/api/canned-replies/", {"shortcut": "guide", "title": "Guide", "body": "For {customer.name}"})
    reply_id = created.json()["id"]

    added = api.post(
        f"/api/canned-replies/{reply_id}/attachments/",
        {"file": SimpleUploadedFile("guide.pdf", PDF)},
        format="multipart",
    )
    listed = api.get("/api/canned-replies/", {"conversation_id": conversation.pk}).json()["results"]
    used = api.post(f"/api/canned-replies/{reply_id}/use/", {"conversation_id": conversation.pk}, format="json")

    assert added.status_code == 201
    assert added.json() == {
        "id": added.json()["id"],
        "name": "guide.pdf",
        "content_type": "application/pdf",
        "size": 28,
    }
    assert listed[0]["attachments"] == [added.json()]
    assert used.status_code == 201
    assert used.json()["text"] == "For Ada"
    assert [(a["name"], a["size"]) for a in used.json()["attachments"]] == [("guide.pdf", 28)]
    assert list(Attachment.objects.filter(conversation=conversation).values_list("name", flat=True)) == ["guide.pdf"]
