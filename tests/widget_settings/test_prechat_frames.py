"""`conversation.start` with `prechat` over a customer socket (docs/protocol.md)."""

import pytest
from channels.db import database_sync_to_async

from chat.models import Message
from tests.factories import BusinessLineFactory, CustomerFactory
from tests.test_consumers import SHOP, customer_socket, expect

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def customer(db):
    line = BusinessLineFactory(allowed_origins=SHOP, prechat_email="required", prechat_question="optional")
    return CustomerFactory(business_line=line, name="Ada", email="")


@pytest.mark.parametrize(
    ("prechat", "message", "field"),
    [
        ("ada@example.com", "prechat must be an object", "prechat"),
        ({"question": "Hi"}, "prechat.email is required", "prechat.email"),
        ({"email": ["ada@example.com"]}, "prechat.email must be a string", "prechat.email"),
    ],
)
async def test_a_refused_prechat_is_an_invalid_field_error_naming_the_field_and_starts_nothing(
    customer, prechat, message, field
):
    socket = await customer_socket(customer)
    await socket.send_json_to({"type": "conversation.start", "prechat": prechat, "ref": "s"})

    error = await expect(socket, "error")

    assert error == {"type": "error", "code": "invalid_field", "message": message, "ref": "s", "field": field}
    assert await Message.objects.acount() == 0
    await socket.disconnect()


async def test_the_answers_start_the_conversation(customer):
    socket = await customer_socket(customer)
    await socket.send_json_to(
        {"type": "conversation.start", "prechat": {"email": "ada@example.com", "question": "Hi"}, "ref": "s"}
    )

    state = await expect(socket, "conversation.state", where=lambda f: f.get("ref") == "s")

    assert state["conversation"]["status"] == "waiting"
    bodies = await database_sync_to_async(
        lambda: list(Message.objects.filter(sender="customer").values_list("body", flat=True))
    )()
    assert bodies == ["Email: ada@example.com\n\nHi"]
    await customer.arefresh_from_db()
    assert customer.email == "ada@example.com"
    await socket.disconnect()
