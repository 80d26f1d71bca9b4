"""`message.send` with `attachment_ids` over a real socket: the ack and the push carry the attachments, a refusal
is `invalid_field` and stores nothing."""

import pytest
from channels.db import database_sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile

from chat.models import ConversationStatus, Message
from chat.permissions import Participant
from chat.services import attachment_upload
from tests.attachment_storage import attachment_storage, tiny_png
from tests.factories import AgentFactory, BusinessLineFactory, ConversationFactory
from tests.test_consumers import SHOP, agent_socket, customer_socket, expect

pytestmark = [pytest.mark.django_db(transaction=True)]

PNG = tiny_png()


@pytest.fixture(autouse=True)
def _files_in_a_folder_of_their_own(attachment_storage):
    return attachment_storage


@pytest.fixture
def active(db):
    line = BusinessLineFactory(allowed_origins=SHOP)
    agent = AgentFactory(business_lines=[line])
    return ConversationFactory(customer__business_line=line, status=ConversationStatus.ACTIVE, agent=agent)


@database_sync_to_async
def uploaded(participant, conversation):
    upload = SimpleUploadedFile("shot.png", PNG, content_type="image/png")
    return attachment_upload(participant=participant, conversation_id=conversation.id, upload=upload)


async def test_the_ack_and_the_push_carry_the_attachments(active):
    customer_ws = await customer_socket(active.customer)
    agent_ws = await agent_socket(active.agent)
    attachment = await uploaded(Participant(kind="customer", id=active.customer_id), active)

    send = {"type": "message.send", "conversation_id": active.id, "client_msg_id": "m1", "ref": 1}
    await customer_ws.send_json_to({**send, "attachment_ids": [attachment.id]})
    ack = await expect(customer_ws, "message.ack")
    new = await expect(agent_ws, "message.new")

    expected = [(attachment.id, "shot.png", "image/png", len(PNG))]
    for message in (ack["message"], new["message"]):
        assert message["body"] == ""
        assert [(a["id"], a["name"], a["content_type"], a["size"]) for a in message["attachments"]] == expected
    await customer_ws.disconnect()
    await agent_ws.disconnect()


async def test_someone_elses_or_too_many_attachments_are_invalid_field_and_store_nothing(active):
    customer_ws = await customer_socket(active.customer)
    agents_upload = await uploaded(Participant(kind="agent", id=active.agent_id), active)

    frames = [
        {"attachment_ids": [agents_upload.id]},
        {"attachment_ids": list(range(1, 12)), "body": "x"},
        {"attachment_ids": "1"},
        {"attachment_ids": []},
    ]
    codes = []
    for ref, extra in enumerate(frames):
        send = {"type": "message.send", "conversation_id": active.id, "client_msg_id": f"m{ref}", "ref": ref}
        await customer_ws.send_json_to({**send, **extra})
        codes.append((await expect(customer_ws, "error", where=lambda f, ref=ref: f["ref"] == ref))["code"])
    assert codes == ["invalid_field"] * 4
    assert await database_sync_to_async(Message.objects.filter(conversation=active).count)() == 0
    await customer_ws.disconnect()
